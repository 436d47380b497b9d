package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// proc is the binary running for a test, with the addresses it printed.
type proc struct {
	cmd              *exec.Cmd
	ws, http, admin  string
	exited           chan struct{}
	err              error // the exit status, once exited is closed
	adminToken, name string
}

// startProc runs the binary with args after loopback addresses on port 0
// and a private data dir, and reads its start summary.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcUnder(t, nil, args...)
}

// startProcUnder is startProc with the binary run by the command wrapper
// (prlimit and its options, say); nil runs it directly.
func startProcUnder(t *testing.T, wrapper []string, args ...string) *proc {
	t.Helper()
	bin := buildBinary(t)
	p := &proc{adminToken: "drain-test-admin-token", exited: make(chan struct{})}
	all := append(append(append([]string{}, wrapper...), bin), append([]string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-data-dir", t.TempDir(), "-guest-login-rate", "inf"}, args...)...)
	p.cmd = exec.Command(all[0], all[1:]...)
	p.cmd.Env = append(os.Environ(), "TICKROOM_ADMIN_TOKEN="+p.adminToken)
	var logs strings.Builder
	p.cmd.Stderr = &syncWriter{w: &logs}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			<-p.exited
			t.Logf("server log:\n%s", logs.String())
		}
	})
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	sc := bufio.NewScanner(stdout)
	for p.admin == "" && sc.Scan() {
		line := sc.Text()
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "ws="); ok {
				p.ws = v
			}
			if v, ok := strings.CutPrefix(f, "http="); ok {
				p.http = v
			}
		}
		if rest, ok := strings.CutPrefix(line, "  admin       http://"); ok {
			p.admin, _, _ = strings.Cut(rest, "/")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if p.ws == "" || p.admin == "" {
		t.Fatal("no addresses in the start summary")
	}
	return p
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// player logs a guest in and connects it.
func (p *proc) player(t *testing.T, name string) *testclient.Client {
	t.Helper()
	resp, err := http.Post("http://"+p.http+"/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	c, _, err := testclient.Dial(t, "ws://"+p.ws+"/v1/ws", login.Token, testclient.Options{Label: name})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitRunning waits until n gomoku matches run (the admin's /metrics):
// a room starts its match at the tick after its second player joined, and
// a drain that began before would find nothing to wait for.
func (p *proc) waitRunning(t *testing.T, n int) {
	t.Helper()
	want := fmt.Sprintf(`tickroom_rooms{game="gomoku",phase="running"} %d`, n)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, body := p.get(t, "/metrics"); strings.Contains(body, want+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never said %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drain asks the admin API for a drain (query: its "?timeout=…") and
// returns the status.
func (p *proc) drain(t *testing.T, query string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+p.admin+"/v1/admin/drain"+query, nil)
	req.Header.Set("Authorization", "Bearer "+p.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *proc) waitExit(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit: %v", p.err)
		}
	case <-time.After(d):
		t.Fatalf("the server still runs %v later", d)
	}
}

func quickMatch(gameName string, opts map[string]string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: gameName, Options: opts}}}
}

// startGomoku quick-matches two players into a gomoku match and returns
// the room id; black is the first client.
func startGomoku(t *testing.T, black, white *testclient.Client, opts map[string]string) string {
	t.Helper()
	j := black.Request(quickMatch("gomoku", opts)).GetJoined()
	if j == nil {
		t.Fatal("black: no Joined")
	}
	if w := white.Request(quickMatch("gomoku", opts)).GetJoined(); w == nil || w.RoomId != j.RoomId {
		t.Fatalf("white joined %v, want room %s", w, j.RoomId)
	}
	return j.RoomId
}

func move(room string, seq, x, y uint32) *tickroomv1.ClientMessage {
	data, _ := (&gomokuv1.Move{X: x, Y: y}).MarshalVT()
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: seq, Data: data}}}
}

// matchEnd waits for c to be closed with the resumable shutdown code and
// returns the match result it heard before.
func matchEnd(t *testing.T, c *testclient.Client) *tickroomv1.MatchResult {
	t.Helper()
	if code := c.WaitClosed(); code != int(protocol.CloseServerShutdown) {
		t.Fatalf("close %d, want %d", code, protocol.CloseServerShutdown)
	}
	for _, m := range c.Drain(100 * time.Millisecond) {
		if ev := m.GetRoomEvent(); ev.GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			return ev.Result
		}
	}
	t.Fatal("closed without hearing the match end")
	return nil
}

func errorCode(m *tickroomv1.ServerMessage) protocol.ErrorCode {
	return protocol.ErrorCode(m.GetError().GetCode())
}

// TestBinaryDrainsOnSIGTERM: with -drain-timeout, SIGTERM stops the
// server from starting matches (a typed ERROR_CODE_DRAINING; /readyz
// 503), closes a room still waiting for players, lets a running gomoku
// match play to its end, and then exits by itself, long before the
// deadline.
func TestBinaryDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	p := startProc(t, "-drain-timeout", "60s")
	black, white, late := p.player(t, "black"), p.player(t, "white"), p.player(t, "late")
	room := startGomoku(t, black, white, nil)
	// late waits alone in a chess-clock gomoku room: another pool.
	waiting := late.Request(quickMatch("gomoku", map[string]string{"move_seconds": "5"})).GetJoined()
	if waiting == nil {
		t.Fatal("late: no Joined")
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	left := late.Next(testclient.Is[*tickroomv1.ServerMessage_Left]).GetLeft()
	if left.RoomId != waiting.RoomId || left.Reason != tickroomv1.LeaveReason_LEAVE_REASON_SERVER_SHUTDOWN {
		t.Fatalf("late got %v, want Left SERVER_SHUTDOWN from %s", left, waiting.RoomId)
	}
	for _, m := range []*tickroomv1.ClientMessage{
		quickMatch("gomoku", nil),
		{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "arena"}}},
	} {
		if code := errorCode(late.Request(m)); code != protocol.ErrorDraining {
			t.Fatalf("%T while draining: error %v, want DRAINING", m.Body, code)
		}
	}
	if code, body := p.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining: %d %q", code, body)
	}
	// The running match plays on: black makes five in a row.
	seq := map[*testclient.Client]uint32{}
	for i := uint32(0); i < 5; i++ {
		for _, c := range []*testclient.Client{black, white} {
			if c == white && i == 4 {
				break
			}
			seq[c]++
			x, y := i, uint32(0)
			if c == white {
				y = 1
			}
			c.Write(move(room, seq[c], x, y))
			time.Sleep(150 * time.Millisecond) // a turn at 10 Hz, so the order holds
		}
	}
	// No match runs any more: the server stops by itself, after white
	// heard the result.
	res := matchEnd(t, white)
	if res.Reason != "five_in_a_row" || len(res.WinnerSeats) != 1 || res.WinnerSeats[0] != 1 {
		t.Fatalf("result %v, want five in a row for seat 1", res)
	}
	p.waitExit(t, 15*time.Second)
}

// TestBinaryAdminDrainDeadline: POST /v1/admin/drain drains without a
// signal; a match that does not end by the deadline is closed, and the
// process exits on its own.
func TestBinaryAdminDrainDeadline(t *testing.T) {
	t.Parallel()
	p := startProc(t)
	black, white := p.player(t, "black"), p.player(t, "white")
	room := startGomoku(t, black, white, nil)
	black.Write(move(room, 1, 7, 7))
	p.waitRunning(t, 1)

	var start time.Time
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?timeout=forever", http.StatusBadRequest},
		{"?timeout=48h", http.StatusBadRequest},
		{"?timeout=2s", http.StatusAccepted},
		{"", http.StatusConflict}, // already draining
	} {
		if tc.want == http.StatusAccepted {
			start = time.Now() // before the drain began: a slow answer takes nothing off its 2 s
		}
		if status := p.drain(t, tc.query); status != tc.want {
			t.Fatalf("drain%s: HTTP %d, want %d", tc.query, status, tc.want)
		}
	}
	if res := matchEnd(t, white); res.Reason != "closed" {
		t.Fatalf("result %v, want closed at the deadline", res)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("the match was closed %v after the drain began, before its 2 s deadline", waited)
	}
	p.waitExit(t, 15*time.Second)
}

// TestBinarySignalCutsTheDrain: a drain long under way is cut short by a
// second SIGTERM, or, for one the admin API asked for, by the first: the
// running match is closed as at the deadline, and the server shuts down
// as usual, with status 0, long before the drain's 60 s.
func TestBinarySignalCutsTheDrain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		signals int
	}{{"second SIGTERM", 2}, {"SIGTERM during an admin drain", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, "-drain-timeout", "60s")
			black, white := p.player(t, "black"), p.player(t, "white")
			room := startGomoku(t, black, white, nil)
			black.Write(move(room, 1, 7, 7))
			p.waitRunning(t, 1)
			if tc.signals == 1 {
				if status := p.drain(t, ""); status != http.StatusAccepted {
					t.Fatalf("drain: HTTP %d", status)
				}
			} else if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// The drain is under way: /readyz says so, and the match plays on.
			deadline := time.Now().Add(5 * time.Second)
			for {
				if code, body := p.get(t, "/readyz"); code == http.StatusServiceUnavailable && strings.Contains(body, "draining") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("/readyz never said draining")
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			select {
			case <-p.exited:
				t.Fatal("the server ended before the drain was cut")
			default:
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if res := matchEnd(t, white); res.Reason != "closed" {
				t.Fatalf("result %v, want closed", res)
			}
			p.waitExit(t, 15*time.Second)
		})
	}
}

// TestBinaryExitsWhenItsTransportStopsWhileDraining: a transport that
// stops on its own (accept(2) failing with EMFILE) while a drain is under
// way ends the drain: no player can reach the node any more, so nothing
// is left to wait for, and the process exits non-zero at once for its
// supervisor to restart it, rather than serving nothing until its
// dropped players' seats are released or the drain's deadline passes.
func TestBinaryExitsWhenItsTransportStopsWhileDraining(t *testing.T) {
	t.Parallel()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	p := startProcUnder(t, []string{prlimit, "--nofile=128:128"}, "-drain-timeout", "60s", "-max-conns", "1000", "-ignore-file-limit")
	black, white := p.player(t, "black"), p.player(t, "white")
	room := startGomoku(t, black, white, nil)
	black.Write(move(room, 1, 7, 7))
	p.waitRunning(t, 1)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if code, body := p.get(t, "/readyz"); code == http.StatusServiceUnavailable && strings.Contains(body, "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never said draining")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exhaustFiles(t, p.ws)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after its transport stopped during a drain (60 s, the players' seats held 30 s)")
	}
	if p.err == nil {
		t.Error("exit status 0 after the transport stopped")
	}
}
