package hub_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// stalledGraph is a Graph whose Admit waits until release is closed, as
// a store that stopped answering would.
type stalledGraph struct{ release chan struct{} }

func (g stalledGraph) Load(context.Context, string, int) (social.GraphData, error) {
	return social.GraphData{}, nil
}
func (g stalledGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}
func (g stalledGraph) Admit(ctx context.Context, _ social.GraphChange, _ int) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestFriendRequestsAwaitingAStalledStoreAreBounded: while the store does
// not answer, a connection has at most four friend requests and blocks
// being checked; the next is refused at once with ERROR_CODE_RATE_LIMITED
// and a retry hint, and the four are answered once the store is back.
func TestFriendRequestsAwaitingAStalledStoreAreBounded(t *testing.T) {
	g := stalledGraph{release: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	ann, _ := e.connect("ann")
	var waiting []uint32
	for i := range 4 {
		waiting = append(waiting, ann.Send(addFriend(fmt.Sprint("user", i))))
	}
	m := ann.Request(block("user9", false))
	if e := m.GetError(); e == nil || e.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || e.RetryAfterMs <= 0 {
		t.Fatalf("a fifth request while four are checked: %v, want RATE_LIMITED with a retry hint", m)
	}
	close(g.release)
	answered := map[uint32]bool{}
	for range waiting {
		m := ann.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetOk() != nil || m.GetError() != nil })
		if m.GetOk() == nil {
			t.Fatalf("a request once the store answered: %v, want Ok", m)
		}
		answered[m.RequestId] = true
	}
	for _, id := range waiting {
		if !answered[id] {
			t.Fatalf("request %d not answered once the store answered (%v)", id, answered)
		}
	}
	if m := ann.Request(block("user9", false)); m.GetOk() == nil {
		t.Fatalf("a block once the checks are done: %v, want Ok", m)
	}

}

// TestFriendRequestWithdrawnWhileCheckedStaysWithdrawn: a Remove sent
// while the request it withdraws is still being checked by the store wins
// over it, though the check ends after it: the other user finds no
// request standing, and its own request is a new one.
func TestFriendRequestWithdrawnWhileCheckedStaysWithdrawn(t *testing.T) {
	g := stalledGraph{release: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	asked := ann.Send(addFriend("bob"))
	if m := ann.Request(removeFriend("bob")); m.GetOk() == nil {
		t.Fatalf("Remove while the request is checked: %v, want Ok", m)
	}
	close(g.release)
	if m := ann.Reply(asked); m.GetOk() == nil {
		t.Fatalf("the withdrawn request once checked: %v, want Ok", m)
	}
	if m := bob.Request(addFriend("ann")); m.GetOk() == nil {
		t.Fatalf("bob's request: %v", m)
	}
	fr := ann.Next(isKind[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest()
	if fr.GetFromUserId() != "bob" {
		t.Fatalf("ann got %v, want bob's new request (hers was withdrawn)", fr)
	}
}

// laggingGraph admits every change at once and hands each saved change to
// the test rather than storing it: the test calls Done when "the store"
// has written it.
type laggingGraph struct{ saved chan social.GraphChange }

func (g laggingGraph) Load(context.Context, string, int) (social.GraphData, error) {
	return social.GraphData{}, nil
}
func (g laggingGraph) Save(c social.GraphChange) { g.saved <- c }
func (g laggingGraph) Admit(context.Context, social.GraphChange, int) error {
	return nil
}

// TestFriendRequestOkWaitsForTheStore: a friend request to a user
// connected nowhere is answered Ok once the store has it (the user may
// connect to another node at once and read its requests there), or
// without it once the store has lagged past a bound; one to a user online
// here is answered at once, the user told directly.
func TestFriendRequestOkWaitsForTheStore(t *testing.T) {
	g := laggingGraph{saved: make(chan social.GraphChange, 16)}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	ann, _ := e.connect("ann")
	isOk := func(id uint32) func(*tickroomv1.ServerMessage) bool {
		return func(m *tickroomv1.ServerMessage) bool { return m.RequestId == id }
	}

	asked := ann.Send(addFriend("offline1"))
	c := <-g.saved
	if c.Kind != social.ChangeRequest || c.To != "offline1" || c.Done == nil {
		t.Fatalf("saved %+v, want the request with a Done", c)
	}
	for _, m := range ann.Drain(300 * time.Millisecond) {
		if m.RequestId == asked {
			t.Fatalf("answered before the store had the request: %v", m)
		}
	}
	c.Done()
	if m := ann.Next(isOk(asked)); m.GetOk() == nil {
		t.Fatalf("once stored: %v, want Ok", m)
	}

	// A store that never finishes: the Ok comes anyway.
	asked = ann.Send(addFriend("offline2"))
	<-g.saved
	if m := ann.Next(isOk(asked)); m.GetOk() == nil {
		t.Fatalf("with the store lagging: %v, want Ok", m)
	}

	// Online here: Ok at once, the store's Done not awaited.
	bob, _ := e.connect("bob")
	asked = ann.Send(addFriend("bob"))
	<-g.saved
	if m := ann.Next(isOk(asked)); m.GetOk() == nil {
		t.Fatalf("to a user online here: %v, want Ok", m)
	}
	if fr := bob.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetFriendRequest() != nil }); fr.GetFriendRequest().GetFromUserId() != "ann" {
		t.Fatalf("bob's request: %v", fr)
	}
	// bob accepts while both are online here: Ok at once, and the store
	// gets the friendship.
	asked = bob.Send(answerFriend("ann", true))
	select {
	case c := <-g.saved:
		if c.Kind != social.ChangeFriends || c.From != "ann" || c.To != "bob" {
			t.Fatalf("saved %+v, want ann and bob's friendship", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the friendship of two online users was not saved")
	}
	if m := bob.Next(isOk(asked)); m.GetOk() == nil {
		t.Fatalf("bob's acceptance: %v, want Ok", m)
	}

	// A friendship accepted while the asker is connected nowhere: the
	// Ok, and the asker's presence after it, wait for the store too.
	cy, _ := e.connect("cy")
	cy.Request(addFriend("ann"))
	<-g.saved
	ann.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetFriendRequest().GetFromUserId() == "cy" })
	cy.WS.Close()
	deadline := time.Now().Add(10 * time.Second)
	for ann.Request(queryPresence("cy")).GetPresenceList().GetUsers()[0].GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		if time.Now().After(deadline) {
			t.Fatal("cy still online after closing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	asked = ann.Send(answerFriend("cy", true))
	c = <-g.saved
	if c.Kind != social.ChangeFriends || c.Done == nil {
		t.Fatalf("saved %+v, want the friendship with a Done", c)
	}
	for _, m := range ann.Drain(300 * time.Millisecond) {
		if m.RequestId == asked || m.GetPresence() != nil {
			t.Fatalf("answered before the store had the friendship: %v", m)
		}
	}
	c.Done()
	if m := ann.Next(isOk(asked)); m.GetOk() == nil {
		t.Fatalf("once stored: %v, want Ok", m)
	}
	if m := ann.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetPresence() != nil }); m.GetPresence().GetUserId() != "cy" {
		t.Fatalf("after the Ok: %v, want cy's presence", m)
	}
}

// gatedLoads is a Graph whose Load waits until gate is closed, as a
// store that stopped answering would, and which counts the loads under
// way; it loads Blocks for every user.
type gatedLoads struct {
	stalledGraph
	gate          chan struct{}
	blocks        []string
	running, most atomic.Int32
}

func (g *gatedLoads) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	select {
	case <-g.gate:
		return social.GraphData{Blocks: g.blocks}, nil
	case <-ctx.Done():
		return social.GraphData{}, ctx.Err()
	}
}

// gatedInbox is an Inbox whose Take waits until gate is closed, counting
// the takes under way.
type gatedInbox struct {
	stalledInbox
	gate          chan struct{}
	running, most atomic.Int32
}

func (b *gatedInbox) Take(ctx context.Context, _ string) ([]social.Stored, error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for m := b.most.Load(); n > m && !b.most.CompareAndSwap(m, n); m = b.most.Load() {
	}
	select {
	case <-b.gate:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestReconnectsAwaitingAStalledStoreAreBounded: while the store does
// not answer, a user that reconnects again and again has one load of its
// lists and one read of its inbox waiting on it, not one of each for
// every connection it opened (each a goroutine held up to 10 s); once the
// store answers, its latest connection gets its lists.
func TestReconnectsAwaitingAStalledStoreAreBounded(t *testing.T) {
	gate := make(chan struct{})
	g := &gatedLoads{gate: gate, blocks: []string{"bob"}}
	in := &gatedInbox{gate: gate}
	// With the session rate off, which would stop the loop after its
	// burst: the bound holds however fast a user comes online.
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g; c.Social.Inbox = in; c.SessionRate = math.Inf(1) }})
	const conns = 50
	for range conns {
		ann, _ := e.connect("ann")
		ann.WS.Close()
		for e.hub.Online("ann") {
			time.Sleep(time.Millisecond)
		}
	}
	e.connect("ann")
	bob, _ := e.connect("bob")
	if n := g.most.Load(); n > 2 {
		t.Errorf("%d loads of one user's lists waited on the store at once over %d connections, want at most 2", n, conns)
	}
	if n := in.most.Load(); n > 2 {
		t.Errorf("%d reads of one user's inbox waited on the store at once over %d connections, want at most 2", n, conns)
	}
	close(gate)
	// ann's latest connection got its lists: its block of bob holds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := bob.Request(direct("ann", "hi"))
		if m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's message to ann 10 s after the store answered: %v, want BLOCKED (ann's lists loaded)", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
