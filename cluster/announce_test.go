package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/social"
)

// quietHost is a social.Host that delivers nothing.
type quietHost struct{}

func (quietHost) Send(*tickroomv1.ServerMessage, []*server.Conn) bool { return true }
func (quietHost) Reply(*server.Conn, *tickroomv1.ServerMessage)       {}
func (quietHost) SendToUser(string, *tickroomv1.ServerMessage) int    { return 0 }
func (quietHost) Now() time.Time                                      { return time.Now() }

// tenFriends is a social.Graph that gives each user ten friends, none of
// them on this node, and counts the lists it gave.
type tenFriends struct{ loads *atomic.Int64 }

func (g tenFriends) Load(_ context.Context, user string, _ int) (social.GraphData, error) {
	var fs []string
	for j := range 10 {
		fs = append(fs, fmt.Sprint(user, "-friend", j))
	}
	defer g.loads.Add(1)
	return social.GraphData{Friends: fs}, nil
}
func (tenFriends) Admit(context.Context, social.GraphChange, int) error { return nil }
func (tenFriends) Save(social.GraphChange)                              {}

// TestAnnounceRemoteIsNotDropped: a node that registers again tells its
// users' friends on other nodes their presence (AnnounceRemote, run after
// every heartbeat that follows a failed one). It cast all of them at
// once, holding the social layer's lock, into the lookup queue of 4096,
// which refused most of what a node of 600 users with ten friends each
// had to say (and the users' own requests meanwhile); they are now queued
// with the presence casts (presence.go), none refused.
func TestAnnounceRemoteIsNotDropped(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	n := startNode(t, rs, "a")
	bus, err := NewBus(BusConfig{Client: n.Client(), Node: n.ID(), Timeout: n.Timeout()})
	if err != nil {
		t.Fatal(err)
	}
	users, err := NewUsers(UsersConfig{Client: n.Client(), Node: n.ID(), Timeout: n.Timeout()})
	if err != nil {
		t.Fatal(err)
	}
	peers := NewSocial(bus, users, nil)
	var loads atomic.Int64
	so, err := social.New(social.Config{Peers: peers, Graph: tenFriends{&loads}}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	peers.Bind(so)
	bus.Start()
	users.Start()
	t.Cleanup(func() { peers.Close(); users.Close(); bus.Close() })
	// A login's lists are read on a goroutine of their own, and what it
	// casts follows: wait until every list was read and the queue stayed
	// empty a while, so that only the announcements fill it below.
	drained := func(what string, loaded int64) {
		t.Helper()
		waitFor(t, 20*time.Second, what, func() bool {
			if loads.Load() < loaded || len(peers.jobs) != 0 || peers.pushes.Len() != 0 {
				return false
			}
			time.Sleep(50 * time.Millisecond)
			return len(peers.jobs) == 0 && peers.pushes.Len() == 0
		})
	}
	for i := range 600 {
		so.Welcomed(so.Connect(fmt.Sprint("u", i), "", nil))
		if i%50 == 49 {
			drained("the users' logins cast", int64(i+1)) // logins come at their own pace
		}
	}
	drained("the users' logins cast", 600)
	before := peers.Refused.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := peers.AnnounceRemote(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the announcements queued", func() bool { return peers.Announced.Load() == 6000 })
	drained("the announcements cast", 600)
	if got := peers.Refused.Load() - before; got != 0 {
		t.Fatalf("AnnounceRemote of 600 users with 10 remote friends each: %d casts refused by the lookup queue, want none", got)
	}
}

// remoteFriends is a social.Graph that gives user "u<i>" friends friends
// among the users "r0" … "r<remote-1>" (of another node) and counts the
// lists it gave.
type remoteFriends struct {
	friends, remote int
	loads           *atomic.Int64
}

func (g remoteFriends) Load(_ context.Context, user string, _ int) (social.GraphData, error) {
	var i int
	if _, err := fmt.Sscanf(user, "u%d", &i); err != nil {
		return social.GraphData{}, err
	}
	var fs []string
	for j := range g.friends {
		fs = append(fs, fmt.Sprint("r", (i*7+j)%g.remote))
	}
	defer g.loads.Add(1)
	return social.GraphData{Friends: fs}, nil
}
func (remoteFriends) Admit(context.Context, social.GraphChange, int) error { return nil }
func (remoteFriends) Save(social.GraphChange)                              {}

// TestAnnounceRemoteOutlastsTheHookDeadline: the announcements a node
// casts when it registers again, one per (user, friend on another node),
// were cast within the hook's deadline (4 × the Redis timeout); a node
// with more of them than fit in it (10,000 users of 500 remote friends
// each cast about 40,000 a second, two minutes' worth, against 4 s) failed
// the hook, stayed not ready and ran every hook again at each heartbeat,
// for good. Here, with a Redis timeout of 100 ms (a 400 ms deadline) and
// 2,000 users of 25 remote friends each (50,000 casts, over a second on
// loopback), the node was never ready again after its registration was
// deleted; it is now ready again once the hooks ran, and the other node
// is told every user's presence to every friend.
func TestAnnounceRemoteOutlastsTheHookDeadline(t *testing.T) {
	t.Parallel()
	const users, friends, remote = 2000, 25, 500
	rs := redistest.Start(t)
	startNode(t, rs, "b")
	rdb := rs.Client(t)
	// Node b holds the friends, and records what it is told.
	bBus, err := NewBus(BusConfig{Client: rdb, Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	told := make(map[[2]string]bool)
	record := func(op *social.RemoteOp) {
		if op != nil && op.Kind == social.OpPresence {
			mu.Lock()
			told[[2]string{op.From, op.To}] = true
			mu.Unlock()
		}
	}
	bBus.Handle(kindOp, func(e *Envelope) {
		var op social.RemoteOp
		if json.Unmarshal(e.Body, &op) == nil {
			record(&op)
		}
	})
	bBus.Handle(kindOps, func(e *Envelope) {
		var ops []*social.RemoteOp
		if json.Unmarshal(e.Body, &ops) == nil {
			for _, op := range ops {
				record(op)
			}
		}
	})
	bUsers, err := NewUsers(UsersConfig{Client: rdb, Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	bBus.Start()
	bUsers.Start()
	t.Cleanup(func() { bUsers.Close(); bBus.Close() })
	for k := range remote {
		if _, err := bUsers.Claim(context.Background(), fmt.Sprint("r", k), uint64(k+1), time.Now(), false); err != nil {
			t.Fatal(err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n, err := New(Config{Client: rdb, ID: "a", WebSocketURL: "ws://" + ln.Addr().String() + "/v1/ws",
		Heartbeat: 200 * time.Millisecond, TTL: 2 * time.Second, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := NewBus(BusConfig{Client: rdb, Node: "a", Timeout: n.Timeout()})
	if err != nil {
		t.Fatal(err)
	}
	aUsers, err := NewUsers(UsersConfig{Client: rdb, Node: "a", Timeout: n.Timeout()})
	if err != nil {
		t.Fatal(err)
	}
	peers := NewSocial(bus, aUsers, nil)
	var loads atomic.Int64
	so, err := social.New(social.Config{Peers: peers, Graph: remoteFriends{friends, remote, &loads}}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	peers.Bind(so)
	n.OnRegister(aUsers.Republish)
	n.OnRegister(peers.AnnounceRemote)
	n.OnRegister(peers.Recheck)
	bus.Start()
	aUsers.Start()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()); peers.Close(); aUsers.Close(); bus.Close() })
	settled := func() bool { // ready, with no hook to run
		n.mu.Lock()
		defer n.mu.Unlock()
		return !n.hooking && !n.rejoin && n.Ready() == nil
	}
	waitFor(t, 10*time.Second, "node a ready", settled)

	for i := range users {
		so.Welcomed(so.Connect(fmt.Sprint("u", i), "", nil))
	}
	// The logins cast too: let them end.
	waitFor(t, 30*time.Second, "the users' lists read and their casts done", func() bool {
		if loads.Load() < users || len(peers.jobs) != 0 || peers.pushes.Len() != 0 {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		return len(peers.jobs) == 0 && peers.pushes.Len() == 0
	})
	mu.Lock()
	clear(told)
	mu.Unlock()

	// The registration lapses: the next heartbeat registers afresh.
	regs := n.Registrations()
	if err := rdb.Del(context.Background(), n.Keys().Node("a")).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node a registered again", func() bool { return n.Registrations() > regs })
	waitFor(t, 10*time.Second, "node a ready again after registering again (its hooks done)", settled)
	waitFor(t, 60*time.Second, "every user's presence told to every friend on node b", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(told) == users*friends
	})
}
