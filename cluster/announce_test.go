package cluster

import (
	"context"
	"fmt"
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
// at the workers' pace, none refused.
func TestAnnounceRemoteIsNotDropped(t *testing.T) {
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
			if loads.Load() < loaded || len(peers.jobs) != 0 {
				return false
			}
			time.Sleep(50 * time.Millisecond)
			return len(peers.jobs) == 0
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
	drained("the announcements cast", 600)
	if got := peers.Refused.Load() - before; got != 0 {
		t.Fatalf("AnnounceRemote of 600 users with 10 remote friends each: %d casts refused by the lookup queue, want none", got)
	}
}
