package social

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// castPeers is Peers that keeps what a node casts, for the test to hand
// to the nodes it chooses, in the order it chooses; Call runs call, or
// answers each op done.
type castPeers struct {
	mu    sync.Mutex
	casts []*RemoteOp
	call  func(ops []*RemoteOp, done func([]RemoteAnswer))
}

func (c *castPeers) Call(ops []*RemoteOp, done func([]RemoteAnswer)) {
	if c.call != nil {
		c.call(ops, done)
		return
	}
	go done(make([]RemoteAnswer, len(ops)))
}

func (c *castPeers) Cast(op *RemoteOp) {
	c.mu.Lock()
	c.casts = append(c.casts, op)
	c.mu.Unlock()
}

// take returns the ops cast since the last take.
func (c *castPeers) take() []*RemoteOp {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.casts
	c.casts = nil
	return ops
}

func (*castPeers) JoinChannel(string, func(error)) {}
func (*castPeers) LeaveChannel(string)             {}
func (*castPeers) PostChannel(string, *tickroomv1.Chat, uint64, func(error)) error {
	return nil
}

// sharedNode is a node of a cluster whose users may connect to several
// nodes (Config.SharedUsers), with no Graph: each node's lists are what
// was made or told there.
func sharedNode(t *testing.T, peers *castPeers) *Social {
	t.Helper()
	everyone := func(netip.Addr) bool { return true }
	so, err := New(Config{Peers: peers, SharedUsers: true, MaxListSize: 100, ContactBurst: 1000, AddressExempt: everyone}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return so
}

// serveAll serves ops on so, as its bus hands it the casts of a node.
func serveAll(so *Social, ops []*RemoteOp) {
	for _, op := range ops {
		so.Serve(op)
	}
}

// directFrom is what so answers a direct message from from to to, sent
// from another node.
func directFrom(so *Social, from, to string) protocol.ErrorCode {
	msg := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{
		DirectMessage: &tickroomv1.DirectMessage{FromUserId: from, Text: "hi"},
	}}
	return so.Serve(&RemoteOp{Kind: OpDeliver, From: from, To: to, Message: encodeMessage(msg), DirectRate: true}).Code
}

// tieHere is where uid's lists on so stand with x.
func tieHere(so *Social, uid, x string) (friend, requested, incoming, blocked bool) {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[uid]
	if p == nil {
		return
	}
	return has(p.friends, x), has(p.requested, x), has(p.incoming, x), has(p.blocks, x)
}

// x, on n1 and n2, blocks y on n2; y, on n1, asks x for friendship there
// before n1 hears of the block. The block stands on n2, and y's request
// is not listed there.
func TestABlockIsNotLiftedByARequestMadeOnAnotherNodeBeforeItWasKnownThere(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	n1, n2 := sharedNode(t, p1), sharedNode(t, p2)
	n1.Connect("x", "x", nil)
	x2 := n2.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	if err := n2.Block(x2, 1, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	if err := n1.AddFriend(y1, 2, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n1, p2.take())
	serveAll(n2, p1.take())
	if _, _, incoming, blocked := tieHere(n2, "x", "y"); !blocked || incoming {
		t.Errorf("x's lists on n2, where x blocked y, after y's request on n1: blocked %v, y's request listed %v; want the block and no request", blocked, incoming)
	}
	if code := directFrom(n2, "y", "x"); code != protocol.ErrorBlocked {
		t.Errorf("y's direct message to x on n2 answered %v, want %v", code, protocol.ErrorBlocked)
	}
	if _, _, incoming, blocked := tieHere(n1, "x", "y"); !blocked || incoming {
		t.Errorf("x's lists on n1 once told of its block: blocked %v, y's request listed %v; want the block and no request", blocked, incoming)
	}
}

// x blocked y on n2, alone there; x then connects to n1 too, whose lists
// (no store) hold no block, and y asks x there. The block stands on n2.
func TestABlockIsNotLiftedByARequestOnANodeTheBlockerJustJoined(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	n1, n2 := sharedNode(t, p1), sharedNode(t, p2)
	x2 := n2.Connect("x", "x", nil)
	if err := n2.Block(x2, 1, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	p2.take()
	n1.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	if err := n1.AddFriend(y1, 2, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	if _, _, incoming, blocked := tieHere(n2, "x", "y"); !blocked || incoming {
		t.Errorf("x's lists on n2, where x blocked y, after y's request on n1: blocked %v, y's request listed %v; want the block and no request", blocked, incoming)
	}
	if code := directFrom(n2, "y", "x"); code != protocol.ErrorBlocked {
		t.Errorf("y's direct message to x on n2 answered %v, want %v", code, protocol.ErrorBlocked)
	}
}

// ann, on n1 and n2, asks bob, on n2 only, from n1 (a call served on n2,
// where bob sees the request at once); bob accepts on n2 before n1's
// word of ann's request reaches n2. They stay friends on both nodes.
func TestARequestToldLateDoesNotUndoTheFriendshipItMade(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	n1, n2 := sharedNode(t, p1), sharedNode(t, p2)
	var calls sync.WaitGroup
	p1.call = func(ops []*RemoteOp, done func([]RemoteAnswer)) {
		calls.Add(1)
		go func() {
			defer calls.Done()
			as := make([]RemoteAnswer, len(ops))
			for i, op := range ops {
				op.Node = "n1"
				as[i] = n2.Serve(op)
			}
			done(as)
		}()
	}
	a1 := n1.Connect("ann", "ann", nil)
	n2.Connect("ann", "ann", nil)
	b2 := n2.Connect("bob", "bob", nil)
	if err := n1.AddFriend(a1, 1, &tickroomv1.AddFriend{UserId: "bob"}); err != nil {
		t.Fatal(err)
	}
	calls.Wait()
	if err := n2.AnswerFriend(b2, 2, &tickroomv1.AnswerFriend{UserId: "ann", Accept: true}); err != nil {
		t.Fatal(err)
	}
	serveAll(n1, p2.take())
	serveAll(n2, p1.take())
	for _, n := range []struct {
		name string
		so   *Social
	}{{"n1", n1}, {"n2", n2}} {
		if friend, requested, incoming, _ := tieHere(n.so, "ann", "bob"); !friend || requested || incoming {
			t.Errorf("ann's lists on %s after bob accepted on n2: friend %v, asked %v, asked by %v; want friends", n.name, friend, requested, incoming)
		}
	}
}

// x is on n1 and n2, y on n1 and n3. y asks x on n1, and n2 hears of it;
// x accepts on n1; n3 hears of it first, and y blocks x there, which ends
// the friendship: n2 hears of that before n1's word of the friendship.
// x and y are not friends on n2.
func TestAFriendshipToldLateDoesNotUndoItsEndMadeOnAThirdNode(t *testing.T) {
	p1, p2, p3 := &castPeers{}, &castPeers{}, &castPeers{}
	n1, n2, n3 := sharedNode(t, p1), sharedNode(t, p2), sharedNode(t, p3)
	x1 := n1.Connect("x", "x", nil)
	n2.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	y3 := n3.Connect("y", "y", nil)
	if err := n1.AddFriend(y1, 1, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	asked := p1.take()
	serveAll(n2, asked)
	serveAll(n3, asked)
	if _, _, incoming, _ := tieHere(n2, "x", "y"); !incoming {
		t.Fatal("y's request not listed for x on n2")
	}
	if err := n1.AnswerFriend(x1, 2, &tickroomv1.AnswerFriend{UserId: "y", Accept: true}); err != nil {
		t.Fatal(err)
	}
	accepted := p1.take()
	serveAll(n3, accepted)
	if friend, _, _, _ := tieHere(n3, "y", "x"); !friend {
		t.Fatal("y's lists on n3 do not hold x as a friend")
	}
	if err := n3.Block(y3, 3, &tickroomv1.BlockUser{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p3.take())
	serveAll(n2, accepted)
	if friend, requested, incoming, _ := tieHere(n2, "x", "y"); friend || requested || incoming {
		t.Errorf("x's lists on n2 after y ended the friendship on n3: friend %v, asked %v, asked by %v; want none", friend, requested, incoming)
	}
}

// pushHost is a Host that keeps what each connection is sent: the kind
// of each message, with the user it names ("FriendRequest y").
type pushHost struct {
	quietHost
	mu  sync.Mutex
	got map[*server.Conn][]string
}

func (h *pushHost) Send(m *tickroomv1.ServerMessage, conns []*server.Conn) bool {
	var s string
	switch b := m.Body.(type) {
	case *tickroomv1.ServerMessage_FriendRequest:
		s = "FriendRequest " + b.FriendRequest.FromUserId
	case *tickroomv1.ServerMessage_FriendAnswer:
		s = "FriendAnswer " + b.FriendAnswer.UserId
	case *tickroomv1.ServerMessage_Presence:
		s = "Presence " + b.Presence.UserId
	default:
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.got == nil {
		h.got = make(map[*server.Conn][]string)
	}
	for _, c := range conns {
		h.got[c] = append(h.got[c], s)
	}
	return true
}

// pushed is what c was sent, of the kinds pushHost keeps.
func (h *pushHost) pushed(c *server.Conn) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got[c]...)
}

// gatedGraph is a Graph whose Load answers data once release is closed.
type gatedGraph struct {
	release chan struct{}
	data    GraphData
}

func (g *gatedGraph) Load(ctx context.Context, _ string, _ int) (GraphData, error) {
	select {
	case <-g.release:
		return g.data, nil
	case <-ctx.Done():
		return GraphData{}, ctx.Err()
	}
}
func (*gatedGraph) Admit(context.Context, GraphChange, int) error { return nil }
func (*gatedGraph) Save(c GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// hostedNode is sharedNode with host h and Graph g (none when nil).
func hostedNode(t *testing.T, peers *castPeers, h Host, g Graph) *Social {
	t.Helper()
	everyone := func(netip.Addr) bool { return true }
	so, err := New(Config{Peers: peers, SharedUsers: true, Graph: g, MaxListSize: 100, ContactBurst: 1000, AddressExempt: everyone}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return so
}

// servedOn is a castPeers.call that serves the ops on so, as sent by
// node from.
func servedOn(so *Social, from string) func([]*RemoteOp, func([]RemoteAnswer)) {
	return func(ops []*RemoteOp, done func([]RemoteAnswer)) {
		go func() {
			as := make([]RemoteAnswer, len(ops))
			for i, op := range ops {
				op.Node = from
				as[i] = so.Serve(op)
			}
			done(as)
		}()
	}
}

// awaitPushed waits until c was pushed want (pushHost), up to 10 s.
func awaitPushed(t *testing.T, h *pushHost, c *server.Conn, want string) {
	t.Helper()
	for range 1000 {
		if slices.Contains(h.pushed(c), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never pushed %q: got %q", want, h.pushed(c))
}

// awaitMerged waits until the Graph's load of uid's lists on so merged.
func awaitMerged(t *testing.T, so *Social, uid string) {
	t.Helper()
	for range 1000 {
		so.mu.Lock()
		p := so.users[uid]
		merged := p != nil && p.merged
		so.mu.Unlock()
		if merged {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s's lists never loaded", uid)
}

// x, on n1, has a request from y; x opens a connection on n2, whose load
// of x's lists read the store before x accepted y on n1, and hears of the
// friendship before that load ends. x and y are friends on n2, and x's
// connection there is told so, not of y's request.
func TestAFriendshipToldWhileTheListsLoadIsKept(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	h2 := &pushHost{}
	g2 := &gatedGraph{release: make(chan struct{}), data: GraphData{Incoming: []Request{{From: "y", Name: "y", AtMs: 1}}}}
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, h2, g2)
	p2.call = servedOn(n1, "n2")
	x1 := n1.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	if err := n1.AddFriend(y1, 1, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	p1.take()
	c2 := &server.Conn{}
	x2 := n2.Connect("x", "x", c2)
	n2.Welcomed(x2)
	if err := n1.AnswerFriend(x1, 2, &tickroomv1.AnswerFriend{UserId: "y", Accept: true}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	close(g2.release)
	awaitMerged(t, n2, "x")
	if friend, _, incoming, _ := tieHere(n2, "x", "y"); !friend || incoming {
		t.Errorf("x's lists on n2 after x accepted y on n1: friend %v, y's request listed %v; want friends", friend, incoming)
	}
	awaitPushed(t, h2, c2, "Presence y")
	if got := h2.pushed(c2); slices.Contains(got, "FriendRequest y") {
		t.Errorf("x's connection on n2 was pushed %q; want y's Presence and not y's request", got)
	}
}

// y, on n1 and n2, asks x, on n1 and n2, on n1; x declines on n1. On n2,
// x's connection is pushed the request and then lists none, and y's is
// pushed the decline and lists no request.
func TestADeclineIsToldToTheOtherNodesOfBoth(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	h2 := &pushHost{}
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, h2, nil)
	x1 := n1.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	cx2, cy2 := &server.Conn{}, &server.Conn{}
	n2.Connect("x", "x", cx2)
	n2.Connect("y", "y", cy2)
	if err := n1.AddFriend(y1, 1, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	if _, _, incoming, _ := tieHere(n2, "x", "y"); !incoming {
		t.Fatal("y's request not listed for x on n2")
	}
	if got := h2.pushed(cx2); !slices.Contains(got, "FriendRequest y") {
		t.Errorf("x's connection on n2 was pushed %q, want y's request", got)
	}
	if err := n1.AnswerFriend(x1, 2, &tickroomv1.AnswerFriend{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	if friend, requested, incoming, _ := tieHere(n2, "x", "y"); friend || requested || incoming {
		t.Errorf("x's lists on n2 after x declined y on n1: friend %v, asked %v, asked by %v; want none", friend, requested, incoming)
	}
	if friend, requested, incoming, _ := tieHere(n2, "y", "x"); friend || requested || incoming {
		t.Errorf("y's lists on n2 after x declined y on n1: friend %v, asked %v, asked by %v; want none", friend, requested, incoming)
	}
	if got := h2.pushed(cy2); !slices.Contains(got, "FriendAnswer x") {
		t.Errorf("y's connection on n2 was pushed %q, want x's answer", got)
	}
}

// x, on n1 and n2, blocks y on n1 and then unblocks y there; n2 blocks
// y's direct messages to x once told of the block, and lets them through
// once told of the unblock.
func TestAnUnblockIsToldToTheUsersOtherNodes(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	n1, n2 := sharedNode(t, p1), sharedNode(t, p2)
	x1 := n1.Connect("x", "x", nil)
	n2.Connect("x", "x", nil)
	if err := n1.Block(x1, 1, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	if code := directFrom(n2, "y", "x"); code != protocol.ErrorBlocked {
		t.Errorf("y's direct message to x on n2 after x blocked y on n1 answered %v, want %v", code, protocol.ErrorBlocked)
	}
	if err := n1.Block(x1, 2, &tickroomv1.BlockUser{UserId: "y", Unblock: true}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	unblockedOnN2(t, n2)
}

// x, on n1, blocked y; x opens a connection on n2, whose load of x's
// lists read the block from the store, and unblocks y on n1 before that
// load ends. y is not blocked on n2: its direct messages reach x there.
func TestAnUnblockToldWhileTheListsLoadStands(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	g2 := &gatedGraph{release: make(chan struct{}), data: GraphData{Blocks: []string{"y"}}}
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, quietHost{}, g2)
	x1 := n1.Connect("x", "x", nil)
	if err := n1.Block(x1, 1, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	p1.take()
	n2.Welcomed(n2.Connect("x", "x", nil))
	if err := n1.Block(x1, 2, &tickroomv1.BlockUser{UserId: "y", Unblock: true}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	close(g2.release)
	awaitMerged(t, n2, "x")
	unblockedOnN2(t, n2)
}

// x, on n1, has a request from y; x opens a connection on n2, whose load
// of x's lists read the request from the store, and declines it on n1
// before that load ends. x's lists on n2 hold no request from y, and its
// connection there is not pushed it.
func TestADeclineToldWhileTheListsLoadStands(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	h2 := &pushHost{}
	g2 := &gatedGraph{release: make(chan struct{}), data: GraphData{Incoming: []Request{{From: "y", Name: "y", AtMs: 1}}}}
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, h2, g2)
	x1 := n1.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	if err := n1.AddFriend(y1, 1, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	p1.take()
	c2 := &server.Conn{}
	n2.Welcomed(n2.Connect("x", "x", c2))
	if err := n1.AnswerFriend(x1, 2, &tickroomv1.AnswerFriend{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	close(g2.release)
	awaitMerged(t, n2, "x")
	if friend, _, incoming, _ := tieHere(n2, "x", "y"); friend || incoming {
		t.Errorf("x's lists on n2 after x declined y on n1: friend %v, y's request listed %v; want none", friend, incoming)
	}
	if got := h2.pushed(c2); slices.Contains(got, "FriendRequest y") {
		t.Errorf("x's connection on n2 was pushed %q; want no request from y", got)
	}
}

// x, on n1, is asked by y from another node; x opens a connection on n2,
// whose load of x's lists reads the request from the store, where it was
// saved a little after it was made; x then declines it on n1. x's lists
// on n2 no longer hold the request.
func TestADeclineEndsTheRequestALoadReadFromTheStore(t *testing.T) {
	const at = 1_800_000_000_000
	p1, p2 := &castPeers{}, &castPeers{}
	g2 := &gatedGraph{release: make(chan struct{}), data: GraphData{Incoming: []Request{{From: "y", Name: "y", AtMs: at + 3}}}}
	close(g2.release)
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, quietHost{}, g2)
	x1 := n1.Connect("x", "x", nil)
	if a := n1.Serve(&RemoteOp{Kind: OpFriendOffer, From: "y", FromName: "y", To: "x", AtMs: at, Node: "n3"}); a.Code != 0 {
		t.Fatalf("y's request to x on n1 answered %v", a.Code)
	}
	n2.Welcomed(n2.Connect("x", "x", nil))
	awaitMerged(t, n2, "x")
	if _, _, incoming, _ := tieHere(n2, "x", "y"); !incoming {
		t.Fatal("x's lists on n2 do not hold y's request read from the store")
	}
	p1.take()
	if err := n1.AnswerFriend(x1, 1, &tickroomv1.AnswerFriend{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	var told []*RemoteOp
	for range 1000 {
		told = append(told, p1.take()...)
		if slices.ContainsFunc(told, func(op *RemoteOp) bool { return op.Kind == OpTie }) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	serveAll(n2, told)
	if friend, _, incoming, _ := tieHere(n2, "x", "y"); friend || incoming {
		t.Errorf("x's lists on n2 after x declined y on n1: friend %v, y's request listed %v; want none", friend, incoming)
	}
}

// x, on n1, accepts y's request and then blocks y there; x opens a
// connection on n2, whose load of x's lists reads the block from the
// store, and hears of the friendship before that load ends and of the
// block after. x's lists on n2 hold the block and no friendship with y,
// and y's direct messages are refused there.
func TestABlockReadByTheLoadEndsAFriendshipToldMeanwhile(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	g2 := &gatedGraph{release: make(chan struct{}), data: GraphData{Blocks: []string{"y"}}}
	n1, n2 := sharedNode(t, p1), hostedNode(t, p2, quietHost{}, g2)
	p2.call = servedOn(n1, "n2")
	x1 := n1.Connect("x", "x", nil)
	y1 := n1.Connect("y", "y", nil)
	if err := n1.AddFriend(y1, 1, &tickroomv1.AddFriend{UserId: "x"}); err != nil {
		t.Fatal(err)
	}
	p1.take()
	n2.Welcomed(n2.Connect("x", "x", nil))
	if err := n1.AnswerFriend(x1, 2, &tickroomv1.AnswerFriend{UserId: "y", Accept: true}); err != nil {
		t.Fatal(err)
	}
	friended := p1.take()
	if err := n1.Block(x1, 3, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	blocked := p1.take()
	serveAll(n2, friended)
	close(g2.release)
	awaitMerged(t, n2, "x")
	if friend, _, _, block := tieHere(n2, "x", "y"); friend || !block {
		t.Errorf("x's lists on n2 once loaded, after x accepted and then blocked y on n1: friend %v, blocked %v; want the block alone", friend, block)
	}
	// The block's OpTie alone (the OpUnfriend cast with it is cast only
	// when n1 knew of a tie between them), reaching lists that hold both
	// the friendship and the block, as the load left them before it
	// ended such friendships: the block ends the friendship.
	n2.mu.Lock()
	n2.addFriendSideLocked("x", n2.users["x"], "y")
	n2.mu.Unlock()
	for _, op := range blocked {
		if op.Kind == OpTie {
			n2.Serve(op)
		}
	}
	if friend, _, _, block := tieHere(n2, "x", "y"); friend || !block {
		t.Errorf("x's lists on n2 once told of the block: friend %v, blocked %v; want the block alone", friend, block)
	}
	if code := directFrom(n2, "y", "x"); code != protocol.ErrorBlocked {
		t.Errorf("y's direct message to x on n2 answered %v, want %v", code, protocol.ErrorBlocked)
	}
}

// unblockedOnN2 fails t unless x's lists on n2, after x unblocked y on
// n1, block y no more, and y's direct message to x there goes through.
func unblockedOnN2(t *testing.T, n2 *Social) {
	t.Helper()
	if _, _, _, blocked := tieHere(n2, "x", "y"); blocked {
		t.Error("x's lists on n2 after x unblocked y on n1 block y")
	}
	if code := directFrom(n2, "y", "x"); code != 0 {
		t.Errorf("y's direct message to x on n2 after x unblocked y on n1 answered %v, want no error", code)
	}
}

// x, on n1 and n2, blocked y; x unblocks y on n1 and blocks y again on
// n2 before the unblock is told there. The block made last stands on
// n1, and y's direct message to x there is refused. n2 still listed the
// block, so its block was answered Ok with nothing written nor told, and
// the unblock then lifted it on every node.
func TestABlockMadeAgainBeforeItsUnblockWasToldStands(t *testing.T) {
	p1, p2 := &castPeers{}, &castPeers{}
	n1, n2 := sharedNode(t, p1), sharedNode(t, p2)
	x1 := n1.Connect("x", "x", nil)
	x2 := n2.Connect("x", "x", nil)
	if err := n1.Block(x1, 1, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n2, p1.take())
	if err := n1.Block(x1, 2, &tickroomv1.BlockUser{UserId: "y", Unblock: true}); err != nil {
		t.Fatal(err)
	}
	unblock := p1.take()
	if err := n2.Block(x2, 2, &tickroomv1.BlockUser{UserId: "y"}); err != nil {
		t.Fatal(err)
	}
	serveAll(n1, p2.take())
	serveAll(n2, unblock)
	if _, _, _, blocked := tieHere(n1, "x", "y"); !blocked {
		t.Error("x's lists on n1 after x blocked y again on n2 do not block y")
	}
	if code := directFrom(n1, "y", "x"); code != protocol.ErrorBlocked {
		t.Errorf("y's direct message to x on n1 after x blocked y again on n2 answered %v, want %v", code, protocol.ErrorBlocked)
	}
}
