package hub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// countingGraph is a Graph that admits every change, keeps each saved
// change for the test to count (calling its Done at once), and loads data
// for every user, once gate (when not nil) is closed.
type countingGraph struct {
	data social.GraphData
	gate chan struct{}

	mu    sync.Mutex
	saved []social.GraphChange
}

func (g *countingGraph) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return social.GraphData{}, ctx.Err()
		}
	}
	return g.data, nil
}

func (g *countingGraph) Save(c social.GraphChange) {
	g.mu.Lock()
	g.saved = append(g.saved, c)
	g.mu.Unlock()
	if c.Done != nil {
		c.Done()
	}
}

func (g *countingGraph) Admit(context.Context, social.GraphChange, int) error { return nil }

// changes returns the changes saved so far.
func (g *countingGraph) changes() []social.GraphChange {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]social.GraphChange(nil), g.saved...)
}

// TestRemovingStrangersWritesNothing: once a user's lists are loaded,
// removing a friendship it does not have, unblocking a user it does not
// block and blocking one it blocks already are answered Ok and give the
// store nothing to write, however many; removing a real friend and
// unblocking a real block are written. Before the lists are loaded, a
// Remove is written as before: the store may hold what it removes.
func TestRemovingStrangersWritesNothing(t *testing.T) {
	g := &countingGraph{data: social.GraphData{Friends: []string{"bob"}, Blocks: []string{"mallory"}}}
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.Graph = g
		c.Social.ContactRate, c.Social.ContactBurst = 1000, 1000
	}})
	ann, _ := e.connect("ann")
	// bob's presence comes once ann's lists are loaded.
	if pr := ann.Next(isKind[*tickroomv1.ServerMessage_Presence]).GetPresence(); pr.UserId != "bob" {
		t.Fatalf("ann's first presence: %v, want her friend bob's", pr)
	}
	var ids []uint32
	for i := range 100 {
		stranger := fmt.Sprint("stranger", i)
		ids = append(ids, ann.Send(removeFriend(stranger)), ann.Send(block(stranger, true)))
	}
	ids = append(ids, ann.Send(block("mallory", false)))
	for _, id := range ids {
		if m := ann.Reply(id); m.GetOk() == nil {
			t.Fatalf("request %d: %v, want Ok", id, m)
		}
	}
	if c := g.changes(); len(c) != 0 {
		t.Fatalf("%d changes saved for removals and unblocks of strangers, want none: %+v", len(c), c[0])
	}

	ok(t, ann.Request(removeFriend("bob")))
	ok(t, ann.Request(block("mallory", true)))
	c := g.changes()
	if len(c) != 2 || c[0].Kind != social.ChangeUnfriend || c[0].To != "bob" || c[1].Kind != social.ChangeUnblock || c[1].To != "mallory" {
		t.Fatalf("saved %+v, want the end of ann's friendship with bob and of her block of mallory", c)
	}
	// Done once: removing bob again, unblocking mallory again.
	ok(t, ann.Request(removeFriend("bob")))
	ok(t, ann.Request(block("mallory", true)))
	if n := len(g.changes()); n != 2 {
		t.Fatalf("%d changes saved after repeating them, want 2", n)
	}

	// Lists not loaded yet (the store is slow): a Remove is written.
	slow := &countingGraph{gate: make(chan struct{})}
	defer close(slow.gate)
	e = start(t, options{hub: func(c *hub.Config) { c.Social.Graph = slow }})
	cy, _ := e.connect("cy")
	ok(t, cy.Request(removeFriend("dee")))
	ok(t, cy.Request(block("dee", true)))
	c = slow.changes()
	if len(c) != 2 || c[0].Kind != social.ChangeUnfriend || c[1].Kind != social.ChangeUnblock {
		t.Fatalf("saved %+v before the lists loaded, want the Remove and the Unblock", c)
	}
}

// TestContactRequestsOverTheirRateAreRefused: friend requests, answers
// and removals, blocks and unblocks past a connection's contact rate are
// refused with ERROR_CODE_RATE_LIMITED and a retry hint, and counted;
// other users' contact requests, and the flooder's chat, go on.
func TestContactRequestsOverTheirRateAreRefused(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.ContactBurst = 5; c.Social.ContactRate = 0.5 }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	var ids []uint32
	for i := range 20 {
		stranger := fmt.Sprint("stranger", i)
		var msg *tickroomv1.ClientMessage
		switch i % 4 {
		case 0:
			msg = removeFriend(stranger)
		case 1:
			msg = block(stranger, true)
		case 2:
			msg = block(stranger, false)
		case 3:
			msg = addFriend(stranger)
		}
		ids = append(ids, ann.Send(msg))
	}
	limited := 0
	for _, id := range ids {
		m := ann.Reply(id)
		if e := m.GetError(); e != nil {
			if e.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || e.RetryAfterMs <= 0 {
				t.Fatalf("flood refused with %v, want RATE_LIMITED with a retry hint", e)
			}
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 contact requests over a burst of 5 were refused", limited)
	}
	if got := e.hub.Stats().ContactRefused.Load(); got != uint64(limited) {
		t.Fatalf("ContactRefused %d, want %d", got, limited)
	}
	if m := ann.Request(answerFriend("bob", false)); errCode(t, m) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("an answer over the rate: %v, want RATE_LIMITED", m)
	}
	// bob is not held back by ann's flood.
	ok(t, bob.Request(addFriend("ann")))
	ok(t, bob.Request(block("cat", false)))
	ok(t, bob.Request(block("cat", true)))
	// ann's chat has a budget of its own.
	ok(t, ann.Request(direct("bob", "still here")))
}

// stalledInbox is an Inbox whose Keep waits until release is closed, as
// a store that stopped answering would; it keeps nothing.
type stalledInbox struct{ release chan struct{} }

func (b stalledInbox) Keep(ctx context.Context, _ social.Stored) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b stalledInbox) Take(context.Context, string) ([]social.Stored, error) { return nil, nil }
func (b stalledInbox) Done(context.Context, string, []int64) error           { return nil }

// TestOfflineDirectMessagesAwaitingAStalledStoreAreBounded: while the
// store does not answer, a connection has at most sixteen direct
// messages to offline users being kept; the next is refused at once with
// ERROR_CODE_UNAVAILABLE and a retry hint, and counted, while other
// connections' messages still go to the store. All are answered Ok once
// the store is back, and the connection's messages are kept again.
func TestOfflineDirectMessagesAwaitingAStalledStoreAreBounded(t *testing.T) {
	b := stalledInbox{release: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Inbox = b; c.Social.ChatBurst = 50 }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	var waiting []uint32
	for i := range 16 {
		waiting = append(waiting, ann.Send(direct(fmt.Sprint("offline", i), "hi")))
	}
	m := ann.Request(direct("offline16", "one more"))
	if e := m.GetError(); e == nil || e.Code != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE || e.RetryAfterMs <= 0 {
		t.Fatalf("a 17th message while sixteen are kept: %v, want UNAVAILABLE with a retry hint", m)
	}
	if got := e.hub.Stats().DirectBusy.Load(); got != 1 {
		t.Fatalf("DirectBusy %d, want 1", got)
	}
	for _, m := range ann.Drain(100 * time.Millisecond) {
		for _, id := range waiting {
			if m.RequestId == id {
				t.Fatalf("answered while the store stalls: %v", m)
			}
		}
	}
	bobs := bob.Send(direct("offline0", "from bob"))
	close(b.release)
	if m := bob.Reply(bobs); m.GetOk() == nil {
		t.Fatalf("bob's message once the store answered: %v, want Ok", m)
	}
	answered := map[uint32]bool{}
	for range waiting {
		m := ann.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetOk() != nil || m.GetError() != nil })
		if m.GetOk() == nil {
			t.Fatalf("a message once the store answered: %v, want Ok", m)
		}
		answered[m.RequestId] = true
	}
	for _, id := range waiting {
		if !answered[id] {
			t.Fatalf("message %d not answered once the store answered (%v)", id, answered)
		}
	}
	if m := ann.Request(direct("offline9", "again")); m.GetOk() == nil {
		t.Fatalf("a message once the others are kept: %v, want Ok", m)
	}
	if got := e.hub.Stats().DirectStored.Load(); got != 18 {
		t.Fatalf("DirectStored %d, want 18 (ann's sixteen and one more, bob's one)", got)
	}
}

// TestRateLimitsOutliveReconnects reconnects one user again and again and
// sends a full burst of direct messages, contact requests and presence
// queries on each connection: a user's budgets are its own, not its
// connection's, so a new connection of the same user does not bring a new
// burst. The rates are so low that nothing refills during the test.
func TestRateLimitsOutliveReconnects(t *testing.T) {
	const burst, conns = 4, 6
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.ChatRate, c.Social.ChatBurst = 0.001, burst
		c.Social.ContactRate, c.Social.ContactBurst = 0.001, burst
		c.Social.PresenceRate, c.Social.PresenceBurst, c.Social.MaxPresenceQuery = 0.001, burst, 1
	}})
	bob, _ := e.connect("bob")
	_ = bob
	kinds := []struct {
		name string
		msg  func(i int) *tickroomv1.ClientMessage
	}{
		{"direct messages", func(int) *tickroomv1.ClientMessage { return direct("bob", "hi") }},
		{"contact requests", func(i int) *tickroomv1.ClientMessage { return block(fmt.Sprint("stranger", i), false) }},
		{"presence queries", func(int) *tickroomv1.ClientMessage { return queryPresence("bob") }},
	}
	passed := make([]int, len(kinds))
	for range conns {
		ann, _ := e.connect("ann") // replaces the one before (4502)
		for k, kind := range kinds {
			for i := range burst + 1 {
				if m := ann.Request(kind.msg(i)); m.GetError() == nil {
					passed[k]++
				} else if code := m.GetError().Code; code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
					t.Fatalf("%s: %v, want Ok or RATE_LIMITED", kind.name, m)
				}
			}
		}
	}
	for k, kind := range kinds {
		if passed[k] > burst {
			t.Errorf("%s over %d connections of one user: %d passed, want at most the burst, %d", kind.name, conns, passed[k], burst)
		}
	}
}

// TestContactRequestsPerAddressAreBounded: the users of one client
// address send contact requests within the address's rate together, so
// that guests made one after another at one address do not multiply the
// rows a user may write; a user at another address is not held back, nor
// is one at loopback, which has no such bound.
func TestContactRequestsPerAddressAreBounded(t *testing.T) {
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub: func(c *hub.Config) {
			c.Social.ContactRate, c.Social.ContactBurst = 0.01, 3
			c.Social.ContactAddressRate, c.Social.ContactAddressBurst = 0.01, 5
		},
	})
	passed, limited := 0, 0
	for i := range 4 { // 12 requests within the users' own bursts of 3
		c := e.connectFrom(fmt.Sprint("guest", i), "203.0.113.7")
		for j := range 3 {
			m := c.Request(block(fmt.Sprint("stranger", i, j), false))
			switch code := m.GetError().GetCode(); {
			case m.GetError() == nil:
				passed++
			case code == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
				limited++
			default:
				t.Fatalf("guest%d's block %d: %v", i, j, m)
			}
		}
	}
	if passed != 5 || limited != 7 {
		t.Fatalf("%d of 12 blocks from one address passed and %d were refused, want the address's burst of 5 and 7", passed, limited)
	}
	other := e.connectFrom("elsewhere", "198.51.100.9")
	ok(t, other.Request(block("stranger", false)))
	local, _ := e.connect("local")
	ok(t, local.Request(block("stranger", false)))
}

// TestUnblockWhileTheListsLoadStands: an Unblock answered while the user's
// lists are still being read from the store stands once the read ends,
// though the read (made before the Unblock was written) held the block:
// the unblocked user's direct messages reach the user.
func TestUnblockWhileTheListsLoadStands(t *testing.T) {
	t.Parallel()
	g := &countingGraph{data: social.GraphData{Friends: []string{"bob"}, Blocks: []string{"mallory"}}, gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	ann, _ := e.connect("ann")
	ok(t, ann.Request(block("mallory", true)))
	close(g.gate)
	// bob's presence comes once ann's lists are loaded.
	if pr := ann.Next(isKind[*tickroomv1.ServerMessage_Presence]).GetPresence(); pr.UserId != "bob" {
		t.Fatalf("ann's first presence: %v, want her friend bob's", pr)
	}
	mallory, _ := e.connect("mallory")
	if m := mallory.Request(direct("ann", "hi")); m.GetOk() == nil {
		t.Fatalf("mallory's message to ann, who unblocked her while her lists loaded: %v, want Ok", m)
	}
	if dm := ann.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.FromUserId != "mallory" {
		t.Fatalf("ann got %v, want mallory's message", dm)
	}
}

// TestRemoveWhileTheListsLoadStands: a friend removed while the user's
// lists are still being read from the store stays removed once the read
// ends, though the read (made before the removal was written) held the
// friendship: no Presence of it comes.
func TestRemoveWhileTheListsLoadStands(t *testing.T) {
	t.Parallel()
	g := &countingGraph{data: social.GraphData{Friends: []string{"bob", "cy"}}, gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	ann, _ := e.connect("ann")
	ok(t, ann.Request(removeFriend("bob")))
	close(g.gate)
	// The load's presences come in the order it read the friends: cy's
	// last.
	var bobs []*tickroomv1.Presence
	ann.Next(func(m *tickroomv1.ServerMessage) bool {
		if pr := m.GetPresence(); pr.GetUserId() == "bob" {
			bobs = append(bobs, pr)
		}
		return m.GetPresence().GetUserId() == "cy"
	})
	if len(bobs) != 0 {
		t.Fatalf("ann, who removed bob while her lists loaded, was sent his presence: %v", bobs)
	}
}
