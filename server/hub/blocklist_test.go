package hub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// blockRowsGraph is a Graph that keeps the blocks saved, as rows of a
// store, and whose Admit counts the maker's rows as the store's does: a
// block of a user not blocked yet is refused with ERROR_CODE_LIST_FULL
// once the maker has max. Every user's load waits until gate is closed: a
// login's read that has not ended.
type blockRowsGraph struct {
	gate chan struct{}

	mu     sync.Mutex
	blocks map[string]map[string]bool // maker → blocked
}

func (g *blockRowsGraph) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	select {
	case <-g.gate:
		return social.GraphData{}, nil
	case <-ctx.Done():
		return social.GraphData{}, ctx.Err()
	}
}

func (g *blockRowsGraph) Admit(_ context.Context, c social.GraphChange, max int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for x := range g.blocks[c.From] {
		if x != c.To {
			n++
		}
	}
	if c.Kind == social.ChangeBlock && n >= max {
		return protocol.NewError(protocol.ErrorListFull, "your block list is full")
	}
	return nil
}

func (g *blockRowsGraph) Save(c social.GraphChange) {
	g.mu.Lock()
	switch c.Kind {
	case social.ChangeBlock:
		if g.blocks[c.From] == nil {
			g.blocks[c.From] = make(map[string]bool)
		}
		g.blocks[c.From][c.To] = true
	case social.ChangeUnblock:
		delete(g.blocks[c.From], c.To)
	}
	g.mu.Unlock()
	if c.Done != nil {
		c.Done()
	}
}

// stored returns how many blocks of user the graph holds.
func (g *blockRowsGraph) stored(user string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.blocks[user])
}

// TestBlocksOfOnlineUsersHoldTheListBound: a user whose lists have not
// been read yet (its login's load has not ended) blocking users online
// here is held to the block list's bound by the store's count of its
// blocks, as a block of a user away is: however often it reconnects, the
// store holds no more than MaxListSize of its blocks. Blocks of online
// users used to skip that count (the user is known to exist), and the
// list in memory, empty again on each new connection, let another
// MaxListSize through with each.
func TestBlocksOfOnlineUsersHoldTheListBound(t *testing.T) {
	const max = 2
	g := &blockRowsGraph{gate: make(chan struct{}), blocks: make(map[string]map[string]bool)}
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.Graph = g
		c.Social.MaxListSize = max
		c.Social.ContactRate, c.Social.ContactBurst = 1000, 1000
	}})
	t.Cleanup(func() { close(g.gate) }) // runs before the server's shutdown
	targets := []string{"bob", "cy", "dee", "eve", "fay"}
	for _, u := range targets {
		e.connect(u)
	}
	mal, _ := e.connect("mallory")
	for _, u := range targets[:max] {
		ok(t, mal.Request(block(u, false)))
	}
	if m := mal.Request(block(targets[max], false)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("a block past the list on the same connection: %v, want LIST_FULL", m)
	}

	// mallory comes back on a new connection, her lists unread again.
	mal.WS.Close()
	for deadline := time.Now().Add(10 * time.Second); e.hub.Presence("mallory").Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("mallory's closed connection never went")
		}
	}
	mal, _ = e.connect("mallory")
	for _, u := range targets[max:] {
		if m := mal.Request(block(u, false)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
			t.Fatalf("mallory, back with %d blocks stored, blocking %s (online): %v, want LIST_FULL; %d blocks of hers stored, the list holds %d",
				max, u, m, g.stored("mallory"), max)
		}
	}
	if n := g.stored("mallory"); n > max {
		t.Fatalf("%d blocks of mallory stored, the list holds %d", n, max)
	}
	// A block she has already is no new row: still Ok.
	ok(t, mal.Request(block(targets[0], false)))
}

// fullInboxGraph is a Graph whose Load gives every user max friend
// requests standing for it, from users away, and no blocks: the most a
// login reads, so the user's other lists are not known whole, its block
// list is. Its Admit refuses every change with ERROR_CODE_LIST_FULL, an
// answer a block of a user online here is not made over (as it is over
// ERROR_CODE_UNAVAILABLE): a block answered Ok was answered from the list
// in memory, with no store check.
type fullInboxGraph struct{ max int }

func (g fullInboxGraph) Load(context.Context, string, int) (social.GraphData, error) {
	var d social.GraphData
	for i := range g.max {
		d.Incoming = append(d.Incoming, social.Request{From: fmt.Sprintf("asker%d", i), Name: "asker", AtMs: 1})
	}
	return d, nil
}

func (fullInboxGraph) Admit(context.Context, social.GraphChange, int) error {
	return protocol.NewError(protocol.ErrorListFull, "your block list is full")
}

func (fullInboxGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// TestBlocksOfOnlineUsersOnceTheBlockListLoaded: once a user's blocks are
// loaded whole, a block of a user online here is answered from the list
// in memory, whatever the user's other lists: one with as many friend
// requests standing as a login reads (its incoming requests may go on in
// the store) blocks an online user with no store check (the graph's
// would refuse it). Such a block used to wait for every list to be loaded
// whole, so that user's blocks each went to the store for the whole
// session, and failed with ERROR_CODE_UNAVAILABLE while it could not be
// read.
func TestBlocksOfOnlineUsersOnceTheBlockListLoaded(t *testing.T) {
	const max = 2
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.Graph = fullInboxGraph{max: max}
		c.Social.MaxListSize = max
	}})
	e.connect("bob")
	ann, _ := e.connect("ann")
	for range max { // the load has merged
		ann.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	}
	if m := ann.Request(block("bob", false)); m.GetOk() == nil {
		t.Fatalf("ann, her blocks loaded whole, blocking bob (online): %v, want Ok from the list in memory, no store check", m)
	}
}

// outageGraph is a Graph whose store cannot be read: Load fails (the
// login's read is tried again for as long as the user is online) and
// Admit answers ERROR_CODE_UNAVAILABLE.
type outageGraph struct{}

func (outageGraph) Load(context.Context, string, int) (social.GraphData, error) {
	return social.GraphData{}, errors.New("store out of reach")
}

func (outageGraph) Admit(context.Context, social.GraphChange, int) error {
	return protocol.NewError(protocol.ErrorUnavailable, "the request could not be checked")
}

func (outageGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// TestBlockingAnOnlineUserDuringAStoreOutage: while the store cannot be
// read, so the user's blocks are not loaded and their count cannot be
// checked, a block of a user online here is made from memory all the
// same: that user can reach the blocker now, and the block stops its
// direct messages at once. A block of a user away, which may name no user,
// is still refused with ERROR_CODE_UNAVAILABLE. Both used to be.
func TestBlockingAnOnlineUserDuringAStoreOutage(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = outageGraph{} }})
	bob, _ := e.connect("bob")
	ann, _ := e.connect("ann")
	if m := ann.Request(block("bob", false)); m.GetOk() == nil {
		t.Fatalf("ann blocking bob (online) while the store cannot be read: %v, want Ok", m)
	}
	if m := bob.Request(direct("ann", "hi")); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("bob's direct message to ann, who blocked him: %v, want BLOCKED", m)
	}
	if m := ann.Request(block("zed", false)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("ann blocking zed (away) while the store cannot be read: %v, want UNAVAILABLE", m)
	}
}
