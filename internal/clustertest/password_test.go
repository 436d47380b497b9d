package clustertest

import (
	"net/http"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRoomPasswordGuessesWithAResumeTickAreBounded: past its wrong
// passwords (10, counted per user from loopback) a guesser is refused
// with RATE_LIMITED; a JoinRoom that also carries a resume_tick for a
// seat the user never held was let through, and in a cluster the room
// directory checks its password, so the guesses went on unbounded and the
// right one was answered with a Redirect into the room. It is refused
// too, whether the room runs on the guesser's node or another.
func TestRoomPasswordGuessesWithAResumeTickAreBounded(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	keeper := connect(t, n1, "keeper")
	r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Password: "sesame"}}})
	locked := joined(t, "keeper", r).RoomId
	try := func(password string, resumeTick uint64) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: password, ResumeTick: resumeTick}}}
	}
	for _, n := range []*Node{n1, n2} {
		p := connect(t, n, "guesser-"+n.ID)
		for i := range 10 {
			if r := p.c.Request(try("guess", 0)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
				t.Fatalf("through %s, guess %d: %v, want WRONG_PASSWORD", n.ID, i+1, r)
			}
		}
		if r := p.c.Request(try("guess", 0)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			t.Fatalf("through %s, 11th guess: %v, want RATE_LIMITED", n.ID, r)
		}
		for _, pw := range []string{"guess", "sesame"} {
			if r := p.c.Request(try(pw, 1)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
				t.Fatalf("through %s, %q with a resume tick past the guesses: %v, want RATE_LIMITED", n.ID, pw, r)
			}
		}
	}
}

// connectFrom connects a new guest to node n as a client at addr, which
// the node believes from its trusted proxy (-trusted-proxies 127.0.0.1).
func connectFrom(t *testing.T, n *Node, name, addr string) *player {
	t.Helper()
	tok, _ := n.Login(t, name)
	p := &player{t: t, name: name}
	c, _, err := testclient.Dial(t, n.WSURL(), tok, testclient.Options{
		Label: name, OnState: p.onState, Header: http.Header{"X-Forwarded-For": {addr}},
	})
	if err != nil {
		t.Fatalf("%s connecting to %s: %v", name, n.ID, err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	p.c = c
	return p
}

// guessUntilRefused sends wrong passwords through ps in turn until one is
// refused with RATE_LIMITED, and fails t when more were answered
// WRONG_PASSWORD than the bound lets through (10, and one more every 2 s
// the guessing took), or when none is refused in 200. It returns the
// player refused.
func guessUntilRefused(t *testing.T, ps []*player, try func(string) *tickroomv1.ClientMessage) *player {
	t.Helper()
	start, wrong := time.Now(), 0
	for i := range 200 {
		p := ps[i%len(ps)]
		r := p.c.Request(try("guess"))
		switch e := r.GetError(); e.GetCode() {
		case tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD:
			wrong++
			continue
		case tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			if e.RetryAfterMs == 0 || e.RetryAfterMs > 2000 {
				t.Fatalf("%s refused with a retry hint of %d ms, want one of at most 2 s", p.name, e.RetryAfterMs)
			}
		default:
			t.Fatalf("guess %d by %s: %v, want WRONG_PASSWORD or RATE_LIMITED", i+1, p.name, r)
		}
		if bound := 10 + int(time.Since(start).Seconds()/2); wrong > bound {
			t.Fatalf("%d wrong passwords answered before RATE_LIMITED, want at most %d", wrong, bound)
		}
		return p
	}
	t.Fatalf("200 wrong passwords answered, none refused")
	return nil
}

// TestRoomPasswordGuessesAreBoundedAcrossNodes: each node kept the wrong
// room passwords of an address in its own memory, so a guesser whose
// connections alternated between two nodes had 10 on each, 20 in all,
// before RATE_LIMITED. The bound is now counted in Redis by every node:
// past 10 wrong passwords through either node, a join with a password,
// the right one too, is RATE_LIMITED on both, and so is the room's
// spectator feed, while another address joins.
func TestRoomPasswordGuessesAreBoundedAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-trusted-proxies", "127.0.0.1"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	keeper := connectFrom(t, n1, "keeper", "198.51.100.1")
	r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Password: "sesame"}}})
	locked := joined(t, "keeper", r).RoomId
	try := func(password string) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: password}}}
	}
	// Two guests of one address, one on each node.
	a, b := connectFrom(t, n1, "guesser-a on n1", "203.0.113.7"), connectFrom(t, n2, "guesser-b on n2", "203.0.113.7")
	refused := guessUntilRefused(t, []*player{a, b}, try)
	other := a
	if refused == a {
		other = b
	}
	if r := other.c.Request(try("sesame")); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("the right password by %s, once %s was refused: %v, want RATE_LIMITED", other.name, refused.name, r)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+n1.HTTP()+"/v1/rooms/"+locked+"/events?password=sesame", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the room's feed on %s with the right password: HTTP %d, want 429", n1.ID, resp.StatusCode)
	}
	friend := connectFrom(t, n2, "friend", "192.0.2.9")
	if r := friend.c.Request(try("sesame")); r.GetRedirect() == nil {
		t.Fatalf("another address through %s: %v, want a Redirect to %s", n2.ID, r, n1.ID)
	}
}

// lockedRoom starts two nodes behind a trusted proxy and has a keeper
// make a gomoku room with the password "sesame" on the first; it returns
// the cluster, that node and the room.
func lockedRoom(t *testing.T) (*Cluster, *Node, string) {
	t.Helper()
	return lockedRoomOn(t, Start(t, Config{Nodes: 2, Args: []string{"-trusted-proxies", "127.0.0.1"}}))
}

// lockedRoomOn is lockedRoom on c, started with "-trusted-proxies
// 127.0.0.1".
func lockedRoomOn(t *testing.T, c *Cluster) (*Cluster, *Node, string) {
	t.Helper()
	n1 := c.Nodes()[0]
	keeper := connectFrom(t, n1, "keeper", "198.51.100.1")
	r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Password: "sesame"}}})
	return c, n1, joined(t, "keeper", r).RoomId
}

// TestRoomPasswordGuessesAreBoundedWithoutRedis: while Redis is out of
// reach each node counts wrong passwords in its own memory: a guesser
// through the room's node (the only one that can find the room then) is
// answered, not stalled, and is RATE_LIMITED past 10.
func TestRoomPasswordGuessesAreBoundedWithoutRedis(t *testing.T) {
	t.Parallel()
	c, n1, locked := lockedRoom(t)
	guesser := connectFrom(t, n1, "guesser", "203.0.113.7")
	c.Redis.Stop(t)
	guessUntilRefused(t, []*player{guesser}, func(password string) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: password}}}
	})
}

// TestRoomPasswordGuessesWhileRedisIsSilent: while Redis takes the
// nodes' calls and answers none (a silent partition: redis-server
// stopped with SIGSTOP), each wrong password waited out three calls of a
// Redis timeout (a second) each, the directory's reservation, the shared
// bucket's check (cut short by the request's deadline) and its charge:
// 2.5 s a guess, 56 guesses in 140 s. The buckets now skip Redis while the
// node knows it does not answer: no call of the room's node to Redis
// meanwhile names a bucket (the calls are kept by a tap between it and
// Redis), a guesser through it is still RATE_LIMITED, and another
// address joins with the right password.
func TestRoomPasswordGuessesWhileRedisIsSilent(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP); it runs alone, before
	// the parallel tests.
	c, tap := startTapped(t, "-trusted-proxies", "127.0.0.1")
	c, n1, locked := lockedRoomOn(t, c)
	guesser := connectFrom(t, n1, "guesser", "203.0.113.7")
	friend := connectFrom(t, n1, "friend", "192.0.2.9")
	try := func(password string) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: password}}}
	}
	tap.Silence()
	silentRedis(t, c, n1)
	start, guesses := time.Now(), 0
	guessUntilRefused(t, []*player{guesser}, func(password string) *tickroomv1.ClientMessage {
		guesses++
		return try(password)
	})
	t.Logf("%d guesses while Redis was silent took %v", guesses, time.Since(start).Round(time.Millisecond))
	askedOf(t, tap, cluster.Keys{Prefix: cluster.DefaultPrefix}.Bucket(""), "the guesses")
	joined(t, "friend", friend.c.Request(try("sesame")))
}
