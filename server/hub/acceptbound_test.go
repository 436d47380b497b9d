package hub_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// friendRowsGraph is a Graph that keeps friendships and requests as rows
// of a store, one a pair, and whose Admit counts the maker's own rows
// (its friendships and the requests it made, but for one with c.To) as
// the store's does, for a request and for an acceptance. Every user's
// load waits until gate is closed: a login's read that has not ended.
type friendRowsGraph struct {
	gate chan struct{}

	mu   sync.Mutex
	rows map[[2]string]friendRow
}

type friendRow struct {
	from     string
	accepted bool
}

func pairOf(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (g *friendRowsGraph) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	select {
	case <-g.gate:
		return social.GraphData{}, nil
	case <-ctx.Done():
		return social.GraphData{}, ctx.Err()
	}
}

// own counts user's friendships and the requests it made but any with
// except.
func (g *friendRowsGraph) own(user, except string) int {
	n := 0
	for k, r := range g.rows {
		if (k[0] == user || k[1] == user) && k != pairOf(user, except) && (r.accepted || r.from == user) {
			n++
		}
	}
	return n
}

func (g *friendRowsGraph) Admit(_ context.Context, c social.GraphChange, max int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if (c.Kind == social.ChangeRequest || c.Kind == social.ChangeFriends) && g.own(c.From, c.To) >= max {
		return protocol.NewError(protocol.ErrorListFull, "your friend list is full")
	}
	return nil
}

func (g *friendRowsGraph) Save(c social.GraphChange) {
	g.mu.Lock()
	switch c.Kind {
	case social.ChangeRequest:
		g.rows[pairOf(c.From, c.To)] = friendRow{from: c.From}
	case social.ChangeFriends:
		g.rows[pairOf(c.From, c.To)] = friendRow{from: c.From, accepted: true}
	case social.ChangeUnfriend:
		delete(g.rows, pairOf(c.From, c.To))
	}
	g.mu.Unlock()
	if c.Done != nil {
		c.Done()
	}
}

// TestAcceptsHoldTheFriendListBound: a user whose lists have not been
// read yet (its login's load has not ended) accepting friend requests is
// held to the friend list's bound by the store's count of its own
// friendships, as a request it makes is: accepting turns the requester's
// row into a friendship counted against the accepter. Acceptances used to
// be counted against the list in memory only, empty again at each login,
// so each connection could store another MaxListSize friendships.
func TestAcceptsHoldTheFriendListBound(t *testing.T) {
	const max = 2
	g := &friendRowsGraph{gate: make(chan struct{}), rows: map[[2]string]friendRow{
		pairOf("mallory", "f1"): {from: "f1", accepted: true},
		pairOf("mallory", "f2"): {from: "mallory", accepted: true},
	}}
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.Graph = g
		c.Social.MaxListSize = max
		c.Social.ContactRate, c.Social.ContactBurst = 1000, 1000
	}})
	t.Cleanup(func() { close(g.gate) }) // runs before the server's shutdown
	mal, _ := e.connect("mallory")
	p1, _ := e.connect("p1")
	p2, _ := e.connect("p2")
	ok(t, p1.Request(addFriend("mallory")))
	ok(t, p2.Request(addFriend("mallory")))
	mal.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	mal.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])

	if m := mal.Request(answerFriend("p1", true)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		g.mu.Lock()
		n := g.own("mallory", "")
		g.mu.Unlock()
		t.Fatalf("mallory, %d friendships stored, her lists unread, accepting p1: %v, want LIST_FULL; %d friendships of hers stored now, the list holds %d", max, m, n, max)
	}
	// Asking back accepts too.
	if m := mal.Request(addFriend("p2")); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("mallory asking p2 back: %v, want LIST_FULL", m)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.own("mallory", ""); n > max {
		t.Fatalf("%d friendships and requests of mallory's stored, the list holds %d", n, max)
	}
}

// rowlessGuestGraph is a Graph whose store has no account for "guest" (a
// guest that logged in while the store was down has none) and counts no
// rows: Admit answers ERROR_CODE_USER_NOT_FOUND for a change naming it.
// Every user's load waits until gate is closed.
type rowlessGuestGraph struct{ gate chan struct{} }

func (g rowlessGuestGraph) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	select {
	case <-g.gate:
		return social.GraphData{}, nil
	case <-ctx.Done():
		return social.GraphData{}, ctx.Err()
	}
}

func (rowlessGuestGraph) Admit(_ context.Context, c social.GraphChange, _ int) error {
	if c.To == "guest" {
		return protocol.NewError(protocol.ErrorUserNotFound, "")
	}
	return nil
}

func (rowlessGuestGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// TestAUserOnlineWithNoAccountRowCanBeBlockedAndBefriended: a guest that
// logged in while the store was down has no account in the store, but it
// is online here: before the user's lists are loaded, blocking it and
// accepting its friend request are answered Ok, as they are once the
// lists are loaded (then the store is not asked). They used to be
// refused with ERROR_CODE_USER_NOT_FOUND until then.
func TestAUserOnlineWithNoAccountRowCanBeBlockedAndBefriended(t *testing.T) {
	g := rowlessGuestGraph{gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	t.Cleanup(func() { close(g.gate) }) // runs before the server's shutdown
	guest, _ := e.connect("guest")
	ann, _ := e.connect("ann")
	ok(t, guest.Request(addFriend("ann")))
	ann.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	if m := ann.Request(answerFriend("guest", true)); m.GetOk() == nil {
		t.Fatalf("ann, her lists unread, accepting the request of guest (online, no account row): %v, want Ok", m)
	}
	if m := ann.Request(block("guest", false)); m.GetOk() == nil {
		t.Fatalf("ann, her lists unread, blocking guest (online, no account row): %v, want Ok", m)
	}
}

// gatedChecksGraph is a Graph whose loads wait until loads is closed (the
// lists are not read), and whose checks of blocks and acceptances wait
// until blocks, or accepts, is closed, each telling started first; a
// friend request's check answers at once. Every check admits.
type gatedChecksGraph struct {
	loads, blocks, accepts chan struct{}
	started                chan social.ChangeKind
}

func (g *gatedChecksGraph) Load(ctx context.Context, _ string, _ int) (social.GraphData, error) {
	select {
	case <-g.loads:
		return social.GraphData{}, nil
	case <-ctx.Done():
		return social.GraphData{}, ctx.Err()
	}
}

func (g *gatedChecksGraph) Admit(ctx context.Context, c social.GraphChange, _ int) error {
	gate := g.blocks
	switch c.Kind {
	case social.ChangeBlock:
	case social.ChangeFriends:
		gate = g.accepts
	default:
		return nil
	}
	g.started <- c.Kind
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return protocol.NewError(protocol.ErrorUnavailable, "the request could not be checked")
	}
}

func (*gatedChecksGraph) Save(c social.GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// TestAnAcceptanceWhoseRequestWentIsAskedWithItsOwnCheck: ann, her lists
// not read, accepts cy's request by asking back while three other checks
// of hers are under way, the four a connection may have; cy withdraws the
// request meanwhile, so once the acceptance's check ends ann's asking back
// is a new request, checked as one. It is made (Ok, and cy gets it): the
// acceptance's check is over and no longer counted. It used to be counted
// until the new request had claimed its own, a fifth, refused with
// ERROR_CODE_RATE_LIMITED.
func TestAnAcceptanceWhoseRequestWentIsAskedWithItsOwnCheck(t *testing.T) {
	g := &gatedChecksGraph{loads: make(chan struct{}), blocks: make(chan struct{}), accepts: make(chan struct{}), started: make(chan social.ChangeKind, 16)}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Graph = g }})
	t.Cleanup(func() { close(g.blocks); close(g.loads) }) // runs before the server's shutdown
	cy, _ := e.connect("cy")
	ann, _ := e.connect("ann")
	ok(t, cy.Request(addFriend("ann")))
	ann.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	for _, x := range []string{"z1", "z2", "z3"} {
		ann.Send(block(x, false))
	}
	asked := ann.Send(addFriend("cy"))
	for range 4 {
		<-g.started
	}
	ok(t, cy.Request(removeFriend("ann")))
	close(g.accepts)
	if m := ann.Reply(asked); m.GetOk() == nil {
		t.Fatalf("ann asking cy back, cy's request withdrawn during the check, three other checks of hers under way: %v, want Ok (a new request)", m)
	}
	if r := cy.Next(isKind[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest(); r.FromUserId != "ann" {
		t.Fatalf("cy got a request from %s, want ann", r.FromUserId)
	}
}
