package bots_test

import (
	"bufio"
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
