package clustertest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// silentRedis pauses c's Redis (a silent partition: it takes the nodes'
// calls and answers none) and waits until n's heartbeat has found it
// silent (/readyz 503 naming Redis).
func silentRedis(t *testing.T, c *Cluster, n *Node) {
	t.Helper()
	c.Redis.Pause(t)
	waitUntil(t, 30*time.Second, n.ID+" not ready while Redis is silent", func() bool {
		code, body := readyz(t, n)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
	})
}

// TestOwnNodeJoinsWhileRedisIsSilent: while Redis takes calls and answers
// none, a JoinRoom of a room on the player's own node, with its password
// or without, waited out the directory's reservation of the seat, a Redis
// timeout (a second), before the room let it in all the same: 8 joins
// took 8 s and more. Once the node's heartbeat has found Redis silent
// the reservation is not asked for, the room's own seats and password
// decide: none of the node's calls to Redis meanwhile reserves a seat
// (the calls are kept by a tap between n1 and Redis), and a wrong
// password is still refused.
func TestOwnNodeJoinsWhileRedisIsSilent(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP); it runs alone, before
	// the parallel tests.
	c, tap := startTapped(t)
	n1 := c.Nodes()[0]
	const joins = 8
	rooms, passwords := make([]string, joins), make([]string, joins)
	joiners := make([]*player, joins)
	for i := range joins {
		keeper := connect(t, n1, fmt.Sprintf("keeper%d", i))
		if i%2 == 1 {
			passwords[i] = "sesame"
		}
		r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
			Game: "gomoku", Password: passwords[i],
		}}})
		rooms[i] = joined(t, keeper.name, r).RoomId
		joiners[i] = connect(t, n1, fmt.Sprintf("joiner%d", i))
	}
	join := func(i int, password string) *tickroomv1.ServerMessage {
		return joiners[i].c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{
			RoomId: rooms[i], Password: password,
		}}})
	}

	tap.Silence()
	silentRedis(t, c, n1)
	if r := join(1, "guess"); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
		t.Fatalf("a wrong password while Redis is silent: %v, want WRONG_PASSWORD", r)
	}
	start := time.Now()
	for i := range joins {
		if j := joined(t, joiners[i].name, join(i, passwords[i])); j.Seat != 2 {
			t.Fatalf("%s joined %s in seat %d, want 2", joiners[i].name, rooms[i], j.Seat)
		}
	}
	t.Logf("%d joins while Redis was silent took %v", joins, time.Since(start).Round(time.Millisecond))
	// A seat's reservation names the user's token for the room.
	keys := cluster.Keys{Prefix: cluster.DefaultPrefix}
	for i := range joins {
		askedOf(t, tap, keys.UserToken("", rooms[i]), joiners[i].name+"'s join")
	}
}

// TestQuickMatchReservationWhileRedisIsSilent: a quick-match redirected to
// the node of an open room, whose player comes there with its reservation
// while Redis takes calls and answers none, waited out a Redis timeout in
// each of the reservation's check, the cluster-wide match and the seat's
// reservation before the room there took it (3 s and more). Once the
// node's heartbeat has found Redis silent none of them is asked, as the
// calls n1 makes through a tap to Redis show: it is served there all the
// same.
func TestQuickMatchReservationWhileRedisIsSilent(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP); it runs alone, before
	// the parallel tests.
	c, tap := startTapped(t)
	n1 := c.Nodes()[0]
	b, room, rd, qm := reservedQuickMatch(t, c)
	nc, _, err := testclient.Dial(t, rd.Url, b.c.Token, testclient.Options{Label: "b"})
	if err != nil {
		t.Fatal(err)
	}
	uid := nc.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().UserId

	tap.Silence()
	silentRedis(t, c, n1)
	qm.GetQuickMatch().Reservation = rd.Reservation
	start := time.Now()
	r := nc.Request(qm)
	t.Logf("the quick-match while Redis was silent took %v", time.Since(start).Round(time.Millisecond))
	if j := r.GetJoined(); j == nil || j.RoomId != room || j.Seat != 2 {
		t.Fatalf("b's quick-match on n1 with its reservation, Redis silent: %v, want Joined in seat 2 of %s", r, room)
	}
	// The reservation's check reads it, the cluster-wide match and the
	// seat's reservation name b's seats.
	keys := cluster.Keys{Prefix: cluster.DefaultPrefix}
	askedOf(t, tap, keys.Reservation(rd.Reservation), "the reservation's check")
	askedOf(t, tap, keys.UserSeats(uid), "b's match or seat")
}

// tapProxy stands between one node and Redis. It forwards both ways,
// keeping the node's calls once Record is called, until Silence; then it
// is a Redis that takes every call and answers none, as a paused
// redis-server does, and keeps each call the node makes, so that a test
// can tell which calls the node made while Redis was silent. It answers
// only what sets up a new connection (HELLO is refused, as by an older
// Redis; CLIENT, SELECT and AUTH are OK), so that the node's calls past
// that reach it: a paused redis-server answers those neither, and a new
// connection's first call never left the node.
type tapProxy struct {
	ln    net.Listener
	redis string

	mu        sync.Mutex
	silent    bool
	recording bool
	closed    bool // the test ended: connections accepted now are closed
	calls     []string
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// startTap listens on a free loopback port and forwards to the cluster's
// Redis until t ends.
func startTap(t *testing.T, c *Cluster) *tapProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tapProxy{ln: ln, redis: c.Redis.Addr(), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

// URL is the redis:// URL a node reaches Redis through.
func (p *tapProxy) URL() string { return "redis://" + p.ln.Addr().String() + "/0" }

// Silence closes the connections through the proxy; from then on it
// answers no call.
func (p *tapProxy) Silence() {
	p.mu.Lock()
	p.silent = true
	p.mu.Unlock()
	p.closeAll()
}

// Record has the calls forwarded from now on kept too.
func (p *tapProxy) Record() {
	p.mu.Lock()
	p.recording = true
	p.mu.Unlock()
}

// record reads the calls the node sends from r until it fails, and keeps
// those made while recording.
func (p *tapProxy) record(r io.Reader) {
	defer p.wg.Done()
	br := bufio.NewReader(r)
	for {
		args, err := readCall(br)
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			return
		}
		p.mu.Lock()
		if p.recording {
			p.calls = append(p.calls, strings.Join(args, " "))
		}
		p.mu.Unlock()
	}
}

func (p *tapProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Calls returns the calls kept, each its command and its arguments
// joined by spaces.
func (p *tapProxy) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func (p *tapProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		silent, closed := p.silent, p.closed
		p.conns[in] = struct{}{}
		p.mu.Unlock()
		if closed {
			// Accepted as the test ended, after closeAll.
			in.Close()
			return
		}
		if silent {
			p.wg.Add(1)
			go p.serveSilently(in)
			continue
		}
		out, err := net.Dial("tcp", p.redis)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[out] = struct{}{}
		closed = p.closed
		p.mu.Unlock()
		if closed {
			in.Close()
			out.Close()
			return
		}
		pr, pw := io.Pipe()
		p.wg.Add(3)
		go p.record(pr)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(out, io.TeeReader(in, pw))
			pw.Close()
			out.Close()
			in.Close()
		}()
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(in, out)
			in.Close()
			out.Close()
		}()
	}
}

// serveSilently reads the calls of c (RESP arrays of bulk strings, as
// clients send them), keeps them and answers none but a connection's
// set-up.
func (p *tapProxy) serveSilently(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCall(r)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.calls = append(p.calls, strings.Join(args, " "))
		p.mu.Unlock()
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			_, err = io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
		case "CLIENT", "SELECT", "AUTH":
			_, err = io.WriteString(c, "+OK\r\n")
		}
		if err != nil {
			return
		}
	}
}

// readCall reads one call: an array of bulk strings.
func readCall(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || !strings.HasPrefix(line, "*") || n < 1 {
		return nil, fmt.Errorf("not a call: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = r.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || size < 0 {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

// startTapped starts a cluster of two nodes with args, the first of
// which reaches Redis through the returned tap.
func startTapped(t *testing.T, args ...string) (*Cluster, *tapProxy) {
	t.Helper()
	return startTappedN(t, 2, args...)
}

// startTappedN is startTapped with n nodes.
func startTappedN(t *testing.T, n int, args ...string) (*Cluster, *tapProxy) {
	t.Helper()
	var tap *tapProxy
	c := Start(t, Config{Args: args, NodeArgs: func(id string) []string {
		if id == "n1" {
			return []string{"-redis", tap.URL()}
		}
		return nil
	}})
	tap = startTap(t, c)
	for range n {
		c.AddNode(t)
	}
	return c, tap
}

// askedOf fails t when a call n1 made through tap since its Silence
// names key.
func askedOf(t *testing.T, tap *tapProxy, key, what string) {
	t.Helper()
	calls := tap.Calls()
	for _, call := range calls {
		if strings.Contains(call, key) {
			t.Fatalf("%s: n1 called Redis about %s while it knew Redis silent: %.200s", what, key, call)
		}
	}
	t.Logf("%s: n1's %d calls while Redis was silent name no %s", what, len(calls), key)
}
