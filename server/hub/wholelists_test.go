package hub_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// fullStoreGraph is a Graph whose Load gives each user its entry of data
// (nothing for one it lacks), once gate is closed (a nil gate, or a user
// other than gated when gated is set: at once), and whose Admit counts its
// checks of blocks and acceptances and refuses them with
// ERROR_CODE_LIST_FULL: the store's count of the maker's rows says the
// list is full, as a store holding more rows than the list reads does. A
// block or acceptance answered Ok was made from the lists in memory, with
// no check. A friend request is admitted.
type fullStoreGraph struct {
	data   map[string]social.GraphData
	gate   chan struct{}
	gated  string
	checks atomic.Int32
}

func (g *fullStoreGraph) Load(ctx context.Context, uid string, _ int) (social.GraphData, error) {
	if g.gate != nil && (g.gated == "" || g.gated == uid) {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return social.GraphData{}, ctx.Err()
		}
	}
	return g.data[uid], nil
}

func (g *fullStoreGraph) Admit(_ context.Context, c social.GraphChange, _ int) error {
	if c.Kind == social.ChangeRequest {
		return nil
	}
	g.checks.Add(1)
	return protocol.NewError(protocol.ErrorListFull, "your list is full")
}

func (*fullStoreGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// startFullStore runs a server with g as its Graph and lists of max.
func startFullStore(t *testing.T, g *fullStoreGraph, max int) *env {
	return start(t, options{hub: func(c *hub.Config) {
		c.Social.Graph = g
		c.Social.MaxListSize = max
	}})
}

// requests are friend requests from users away, as a load gives them.
func requests(from ...string) []social.Request {
	var rs []social.Request
	for _, x := range from {
		rs = append(rs, social.Request{From: x, Name: x, AtMs: 1})
	}
	return rs
}

// loaded waits until c got a FriendRequest for each of n requests its
// load gave: its lists are merged with what the store had.
func loaded(c *client, n int) {
	for range n {
		c.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	}
}

// TestAcceptsOnceTheFriendsLoadedNeedNoStoreCheck: once a user's
// friendships and own requests are loaded whole, accepting a friend
// request is counted against the friend list in memory, the store's,
// with no store check, whatever its other lists: here the requests
// standing for it are as many as a login reads (more may stand in the
// store). Were acceptances sent to the store for the whole session, each
// would wait on it and fail while it cannot be read.
func TestAcceptsOnceTheFriendsLoadedNeedNoStoreCheck(t *testing.T) {
	const max = 2
	g := &fullStoreGraph{data: map[string]social.GraphData{"ann": {Incoming: requests("cy", "dee")}}}
	e := startFullStore(t, g, max)
	ann, _ := e.connect("ann")
	loaded(ann, max)
	if m := ann.Request(answerFriend("cy", true)); m.GetOk() == nil {
		t.Fatalf("ann, her friendships loaded whole, accepting cy's request: %v, want Ok from the list in memory; %d store checks", m, g.checks.Load())
	}
	if n := g.checks.Load(); n != 0 {
		t.Fatalf("ann's acceptance made %d store checks, want none", n)
	}
}

// TestAcceptsAfterACutFriendListAreChecked: a user whose friendships were
// more than its list holds (the bound lowered since they were made) has
// its friend list cut at the load, so the list in memory lacks some the
// store has; after removing one, accepting a request is still checked
// against the store's count, which refuses it, not made from the list in
// memory, which has room.
func TestAcceptsAfterACutFriendListAreChecked(t *testing.T) {
	const max = 2
	g := &fullStoreGraph{data: map[string]social.GraphData{"ann": {
		Friends:  []string{"f1", "f2", "f3"},
		Incoming: requests("cy"),
	}}}
	e := startFullStore(t, g, max)
	ann, _ := e.connect("ann")
	loaded(ann, 1)
	ok(t, ann.Request(removeFriend("f1"))) // f2 and f3 left in the store: full
	if m := ann.Request(answerFriend("cy", true)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("ann, her friends cut at the load, accepting cy's request: %v, want the store's LIST_FULL", m)
	}
}

// TestBlocksAfterACutBlockListAreChecked: a user whose blocks were more
// than its list holds has its block list cut at the load; after
// unblocking one, a block of a user online here is still checked against
// the store's count of its blocks, which refuses it, not made from the
// list in memory, which has room.
func TestBlocksAfterACutBlockListAreChecked(t *testing.T) {
	const max = 2
	g := &fullStoreGraph{data: map[string]social.GraphData{"ann": {
		Blocks:   []string{"b1", "b2", "b3"},
		Incoming: requests("cy"),
	}}}
	e := startFullStore(t, g, max)
	e.connect("bob")
	ann, _ := e.connect("ann")
	loaded(ann, 1)
	ok(t, ann.Request(block("b1", true))) // b2 and b3 left in the store: full
	if m := ann.Request(block("bob", false)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("ann, her blocks cut at the load, blocking bob (online): %v, want the store's LIST_FULL", m)
	}
}

// TestBlocksAfterLostUnblockNotesAreChecked: a user that unblocked more
// users while its lists loaded than are noted has none of the blocks the
// load read kept (any may be one it unblocked), so the store may hold
// blocks the list lacks: a block of a user online here is still checked
// against the store's count of its blocks, not made from the list in
// memory.
func TestBlocksAfterLostUnblockNotesAreChecked(t *testing.T) {
	const max = 2
	g := &fullStoreGraph{gate: make(chan struct{}), data: map[string]social.GraphData{"ann": {
		Blocks:   []string{"mallory"},
		Incoming: requests("cy"),
	}}}
	e := startFullStore(t, g, max)
	e.connect("bob")
	ann, _ := e.connect("ann")
	for _, x := range []string{"x1", "x2", "x3"} { // one past the notes
		ok(t, ann.Request(block(x, true)))
	}
	close(g.gate)
	loaded(ann, 1)
	if m := ann.Request(block("bob", false)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("ann, her unblocks' notes lost while her lists loaded, blocking bob (online): %v, want the store's LIST_FULL", m)
	}
}

// TestAcceptsAfterLostUnfriendNotesAreChecked: a user that ended more ties
// while its lists loaded than are noted has none of the friendships and
// requests the load read kept (any may be one it ended), so the store may
// hold friendships the list lacks: accepting a request is still checked
// against the store's count, not made from the list in memory.
func TestAcceptsAfterLostUnfriendNotesAreChecked(t *testing.T) {
	const max = 2
	g := &fullStoreGraph{gate: make(chan struct{}), gated: "ann", data: map[string]social.GraphData{
		"ann": {Friends: []string{"f1"}},
		"bob": {Friends: []string{"ann"}},
	}}
	e := startFullStore(t, g, max)
	bob, _ := e.connect("bob")
	bob.Next(isKind[*tickroomv1.ServerMessage_Presence]) // bob's lists are merged
	cy, _ := e.connect("cy")
	ann, _ := e.connect("ann")
	ok(t, cy.Request(addFriend("ann")))
	ann.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	for _, x := range []string{"x1", "x2", "x3"} { // one past the notes
		ok(t, ann.Request(removeFriend(x)))
	}
	close(g.gate)
	// ann's lists are merged: bob, who counts her a friend, is added.
	for {
		if pr := ann.Next(isKind[*tickroomv1.ServerMessage_Presence]).GetPresence(); pr.UserId == "bob" {
			break
		}
	}
	if m := ann.Request(answerFriend("cy", true)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("ann, her ended ties' notes lost while her lists loaded, accepting cy's request: %v, want the store's LIST_FULL", m)
	}
}
