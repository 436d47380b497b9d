package bots_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/bots"
	"github.com/tickroom/tickroom/internal/clustertest"
)

// TestRunCluster runs bots against two real nodes sharing Redis: they log
// in on both, and those whose room lives on the other node follow the
// Redirect there and play. The nodes give clients the WebSocket of a
// balancer in front of them, as docs/cluster.md sets them up
// (-public-ws-url /v1/ws); bots given the nodes themselves connect to
// each node's own port.
func TestRunCluster(t *testing.T) {
	c := clustertest.Start(t, clustertest.Config{Nodes: 2, Args: []string{"-public-ws-url", "/v1/ws"}})
	nodes := c.Nodes()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, "http://"+n.HTTP())
	}
	redirected := func() uint64 {
		var sum uint64
		for _, n := range nodes {
			sum += metric(t, "http://"+n.Admin()+"/metrics", "tickroom_redirects_total")
		}
		return sum
	}
	for _, tc := range []struct {
		name     string
		roomSize int
		// want is the redirects the bots follow; -1 for any number.
		want int64
	}{
		// Group g's creator starts on node g mod 2, its member on the
		// other node: every member is redirected.
		{"rooms of 2", 2, 4},
		// Quick-match places rooms on the least-loaded node.
		{"quick-match", 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := redirected()
			rep := runBots(t, bots.Config{
				HTTPURLs: urls, Bots: 8, NamePrefix: "b" + strconv.Itoa(tc.roomSize), Game: "gomoku", RoomSize: tc.roomSize,
				Options: map[string]string{"move_seconds": "0"}, InputHz: 5, Duration: 2 * time.Second, Loops: 2,
			})
			if rep.LoggedIn != 8 || rep.InRoomAtEnd != 8 || rep.OpenAtEnd != 8 {
				t.Fatalf("logged in %d, in a room %d, open %d; want 8 each", rep.LoggedIn, rep.InRoomAtEnd, rep.OpenAtEnd)
			}
			if len(rep.Errors)+len(rep.Failures)+len(rep.Closes) != 0 {
				t.Fatalf("errors %v, failures %v, closes %v; want none", rep.Errors, rep.Failures, rep.Closes)
			}
			got := rep.Counters["redirects"]
			if tc.want >= 0 && got != uint64(tc.want) {
				t.Fatalf("followed %d redirects, want %d", got, tc.want)
			}
			if srv := redirected() - before; srv != got {
				t.Fatalf("bots followed %d redirects, the nodes sent %d", got, srv)
			}
			// A redirected join is one join, timed from the first request.
			if rep.JoinMicros.Count != 8 || rep.Counters["handshakes"] != 8+got {
				t.Fatalf("%d joins timed, %d handshakes; want 8 and %d", rep.JoinMicros.Count, rep.Counters["handshakes"], 8+got)
			}
			if rep.Counters["inputs_acked"] == 0 {
				t.Fatal("no move acknowledged")
			}
			if !strings.Contains(rep.Config.WebSocket, nodes[0].WSURL()) || !strings.Contains(rep.Config.WebSocket, nodes[1].WSURL()) {
				t.Fatalf("report names %q, want both nodes", rep.Config.WebSocket)
			}
		})
	}
}

// metric reads an unlabelled counter or gauge from a Prometheus /metrics
// page.
func metric(t *testing.T, url, name string) uint64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q", name, v)
			}
			return uint64(f)
		}
	}
	return 0
}

// TestBotsFollowARoomThatMoves: a node drained under a rolling restart
// moves its gomoku rooms to another node and sends their members an
// unprompted Redirect (protocol/README.md, "A room that moves"), which
// client-js follows; the bots ignored it, stayed on the draining node
// until it shut down (4000) and ended there, so a rolling restart under
// bots looked like every player of the node lost. They now reconnect to
// the room's new node and resume their seats.
func TestBotsFollowARoomThatMoves(t *testing.T) {
	c := clustertest.Start(t, clustertest.Config{Nodes: 2, Args: []string{"-drain-timeout", "30s"}})
	nodes := c.Nodes()
	type result struct {
		rep *bots.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rep, err := bots.Run(ctx, bots.Config{
			HTTPURLs: []string{"http://" + nodes[0].HTTP(), "http://" + nodes[1].HTTP()}, Bots: 4, NamePrefix: "mv",
			Game: "gomoku", RoomSize: 2, Options: map[string]string{"move_seconds": "0"}, InputHz: 2,
			Duration: 8 * time.Second, Loops: 1,
		})
		done <- result{rep, err}
	}()
	// The node of the first room the bots play in drains and exits.
	var from *clustertest.Node
	deadline := time.Now().Add(15 * time.Second)
	for from == nil && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		_, body := nodes[0].AdminRequest(t, "GET", "/v1/admin/rooms", nil)
		var rooms []struct {
			Node    string `json:"node"`
			Players int    `json:"players"`
		}
		_ = json.Unmarshal(body, &rooms)
		for _, r := range rooms {
			if r.Players == 2 {
				for _, n := range nodes {
					if n.ID == r.Node {
						from = n
					}
				}
				break
			}
		}
	}
	if from == nil {
		t.Fatal("no room of two in the directory")
	}
	time.Sleep(time.Second) // a few moves on the board
	if err := from.Term(t, 40*time.Second); err != nil {
		t.Fatalf("node %s exited with %v after its drain", from.ID, err)
	}
	if !strings.Contains(from.Log(), "drain: room moved") {
		t.Fatalf("%s moved no room:\n%s", from.ID, from.Log())
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	t.Log("\n" + b.String())
	if rep.InRoomAtEnd != 4 || rep.OpenAtEnd != 4 {
		t.Fatalf("in a room at the end %d, open %d; want the 4 bots, moved or not", rep.InRoomAtEnd, rep.OpenAtEnd)
	}
	if rep.Counters["resumed"] == 0 || rep.Counters["resume_failed"] != 0 || rep.Resume.SuccessRate != 1 {
		t.Fatalf("resumed %d, failed %d, success rate %v: want the moved bots resumed", rep.Counters["resumed"], rep.Counters["resume_failed"], rep.Resume.SuccessRate)
	}
	if len(rep.Closes) != 0 {
		t.Fatalf("closes %v; want none (the moved bots left the draining node before it shut down)", rep.Closes)
	}
}
