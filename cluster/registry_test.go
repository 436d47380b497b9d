package cluster

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

// hubNode is one node of a test cluster: a WebSocket server with a hub
// whose Registry is a cluster Registry over a shared Redis.
type hubNode struct {
	id    string
	url   string
	reg   *Registry
	users *Users
	bus   *Bus
	hub   *hub.Hub
}

var testAuthKey = auth.Key{ID: "test", Secret: bytes.Repeat([]byte{7}, 32)}

// startHubNode starts node id on 127.0.0.1:0; claiming, if set, runs on
// the registry's worker before each claim goes to Redis.
func startHubNode(t *testing.T, rs *redistest.Server, id string, claiming func(user string, conn uint64)) *hubNode {
	t.Helper()
	return startHubNodeAs(t, rs, id, nil, claiming, nil, nil)
}

// startHubNodeOf is startHubNode for the started node n, its registry
// on clock (nil: time.Now).
func startHubNodeOf(t *testing.T, rs *redistest.Server, n *Node, claiming func(user string, conn uint64), clock func() time.Time) *hubNode {
	t.Helper()
	return startHubNodeAs(t, rs, n.ID(), n, claiming, clock, nil)
}

// startHubNodeAs starts node id, over the started node n if set, its
// bus taking the kinds of handlers besides the registry's.
func startHubNodeAs(t *testing.T, rs *redistest.Server, id string, n *Node, claiming func(user string, conn uint64), clock func() time.Time, handlers map[string]func(*Envelope)) *hubNode {
	t.Helper()
	return startHubNodeWith(t, rs, id, hubNodeOptions{node: n, claiming: claiming, clock: clock, handlers: handlers})
}

// hubNodeOptions are a test node's: the started node it runs over, the
// registry's hooks and clock (nil: time.Now), and its bus's handlers
// besides the registry's.
type hubNodeOptions struct {
	node *Node
	// claiming and releasing run on the registry's worker before each
	// claim, and each release, goes to Redis.
	claiming, releasing func(user string, conn uint64)
	clock               func() time.Time
	handlers            map[string]func(*Envelope)
}

// startHubNodeWith starts node id with o.
func startHubNodeWith(t *testing.T, rs *redistest.Server, id string, o hubNodeOptions) *hubNode {
	t.Helper()
	n, claiming, clock, handlers := o.node, o.claiming, o.clock, o.handlers
	a, err := auth.New(auth.Config{Keys: []auth.Key{testAuthKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	rdb := rs.Client(t)
	bus, err := NewBus(BusConfig{Client: rdb, Node: id})
	if err != nil {
		t.Fatal(err)
	}
	users, err := NewUsers(UsersConfig{Client: rdb, Node: id})
	if err != nil {
		t.Fatal(err)
	}
	for k, h := range handlers {
		bus.Handle(k, h)
	}
	reg := NewRegistry(users, bus, nil)
	reg.claiming, reg.releasing = claiming, o.releasing
	if clock != nil {
		reg.clock = clock
	}
	if n != nil {
		// As the server wires them (clusterusers.go).
		bus.WaitForNode(n)
		reg.WaitForNode(n)
		reg.UseClockOf(n)
	}
	h, err := hub.New(hub.Config{Server: srv, Auth: a, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	reg.Bind(h)
	srv.Handle(hub.Path, h)
	h.Start()
	bus.Start()
	users.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
		reg.Close(ctx)
		users.Close()
		bus.Close()
	})
	return &hubNode{id: id, url: "ws://" + srv.Addr().String() + hub.Path, reg: reg, users: users, bus: bus, hub: h}
}

// dial connects with tok and waits for the Welcome.
func (n *hubNode) dial(t *testing.T, tok, label string) *testclient.Client {
	t.Helper()
	c, _, err := testclient.Dial(t, n.url, tok, testclient.Options{Label: label})
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

// settle waits until the claims and releases queued for user on n's
// registry have run: they run in order on the user's worker.
func (n *hubNode) settle(user string) {
	done := make(chan struct{})
	n.reg.enqueue(user, func() { close(done) })
	<-done
}

// TestLateClaimKeepsTheNewerSession drives two nodes a and b: ada's
// session on a passes the check that it is still open, and its claim is
// held back before Redis until ada's session on b, opened later, is
// recorded. The late claim must not close the newer session on b: when
// the session on a is still open it is closed with
// CLOSE_CODE_DUPLICATE_LOGIN instead (a second login); when ada left it
// for b (a Redirect followed at once), nothing is closed. Claims that
// reach Redis in the order the sessions opened close the older one, as
// any second login elsewhere does.
func TestLateClaimKeepsTheNewerSession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// late holds a's claim back until b's session is recorded.
		late bool
		// leave closes the session on a before dialling b, as a client
		// following a Redirect does.
		leave bool
	}{
		{name: "second login, claims in order", late: false},
		{name: "second login, claim of the first late", late: true},
		{name: "redirect followed, claim of the first late", late: true, leave: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			entered, release := make(chan struct{}, 1), make(chan struct{})
			var hold func(string, uint64)
			if tc.late {
				hold = func(string, uint64) {
					select {
					case entered <- struct{}{}:
					default: // a try after the first, the test gone on
					}
					<-release
				}
			}
			a := startHubNode(t, rs, "a", hold)
			b := startHubNode(t, rs, "b", nil)
			now := time.Now()
			iss, err := auth.New(auth.Config{Keys: []auth.Key{testAuthKey}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := iss.Issue(auth.Claims{UserID: "ada", Name: "ada", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			located := func(want ...UserSession) func() bool {
				return func() bool {
					loc, err := a.users.Locate(ctx, "ada")
					return err == nil && slices.Equal(loc["ada"], want)
				}
			}

			first := a.dial(t, tok, "ada on a")
			aConn := a.reg.Sessions("ada")[0].ConnID()
			if tc.late {
				<-entered // a's claim passed its check and waits
			} else {
				waitFor(t, 10*time.Second, "ada's record on a", located(UserSession{Node: "a", Conn: aConn}))
			}
			if tc.leave {
				_ = first.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				first.WaitClosed()
				waitFor(t, 10*time.Second, "a's hub to see ada leave", func() bool { return len(a.reg.Sessions("ada")) == 0 })
			}
			second := b.dial(t, tok, "ada on b")
			bConn := b.reg.Sessions("ada")[0].ConnID()
			waitFor(t, 10*time.Second, "ada's record on b", located(UserSession{Node: "b", Conn: bConn}))
			if tc.late {
				close(release)
			}
			a.settle("ada") // a's claim has run

			if !located(UserSession{Node: "b", Conn: bConn})() {
				loc, err := a.users.Locate(ctx, "ada")
				t.Fatalf("after a's claim ada is located at %v (%v), want only b/%d", loc, err, bConn)
			}
			if !tc.leave {
				if code := first.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
					t.Fatalf("the session on a closed with %d, want %d", code, protocol.CloseDuplicateLogin)
				}
			}
			if r := second.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}}); r.GetPong() == nil {
				t.Fatalf("the session on b after a's claim: %v (closed with %d)", r, second.CloseCode())
			}
			if code := second.CloseCode(); code != 0 {
				t.Fatalf("the newer session on b closed with %d", code)
			}
			// a's release of its session, after b's claim, leaves b's
			// record; a refreshes none of ada's.
			waitFor(t, 10*time.Second, "a to release ada", func() bool { return len(a.reg.Sessions("ada")) == 0 })
			a.settle("ada")
			if !located(UserSession{Node: "b", Conn: bConn})() {
				loc, err := a.users.Locate(ctx, "ada")
				t.Fatalf("after a's release ada is located at %v (%v), want only b/%d", loc, err, bConn)
			}
			if n := a.users.Connected(); n != 0 {
				t.Fatalf("a still refreshes the records of %d users", n)
			}
		})
	}
}

// TestDroppedReleaseIsNotRefreshed: when a user's session closes while
// the registry's workers are backed up (Redis slow or silent) and its
// release cannot be queued, the node stops refreshing the user's record,
// so it lapses with its TTL rather than showing the user connected here
// for as long as the node runs.
func TestDroppedReleaseIsNotRefreshed(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startHubNode(t, rs, "a", nil)
	now := time.Now()
	iss, err := auth.New(auth.Config{Keys: []auth.Key{testAuthKey}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(auth.Claims{UserID: "ada", Name: "ada", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := a.dial(t, tok, "ada on a")
	a.settle("ada")
	if n := a.users.Connected(); n != 1 {
		t.Fatalf("a refreshes %d users, want ada", n)
	}
	// Every worker stuck and its queue full. Each queue is filled only
	// once its worker holds the blocking job: filled before, the worker
	// would take the job from a full queue and leave a slot for ada's
	// release.
	block := make(chan struct{})
	for _, q := range a.reg.queue {
		stuck := make(chan struct{})
		q <- func() { close(stuck); <-block }
		<-stuck
	fill:
		for {
			select {
			case q <- func() {}:
			default:
				break fill
			}
		}
	}
	_ = c.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.WaitClosed()
	// Remove takes the session out of the registry before it tries to
	// queue the release: wait for the drop, not for the session to go.
	waitFor(t, 10*time.Second, "a's hub to see ada leave and drop her release (the test wants it dropped, not queued)", func() bool {
		return len(a.reg.Sessions("ada")) == 0 && a.reg.Dropped.Load() > 0 && a.users.Connected() == 0
	})
	close(block)
	waitFor(t, 10*time.Second, "the workers to catch up", func() bool {
		for _, q := range a.reg.queue {
			if len(q) > 0 {
				return false
			}
		}
		return true
	})
	a.settle("ada")
	if n := a.users.Connected(); n != 0 {
		t.Fatalf("after ada left, a still refreshes the records of %d users", n)
	}
}

// TestSecondLoginOnAnotherNodeWinsWhateverTheClocks: node a's clock runs a
// minute ahead of b's (a host whose NTP failed, a VM resumed). ada is
// connected to a and logs in again through b: her new session is the
// one kept, her session on a closed with CLOSE_CODE_DUPLICATE_LOGIN, as
// with clocks in step. Sessions were ordered by each node's own clock,
// so a's older session counted as a minute newer, and the new one was
// closed.
func TestSecondLoginOnAnotherNodeWinsWhateverTheClocks(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	ahead := func() time.Time { return time.Now().Add(time.Minute) }
	na := startNodeClock(t, rs, "a", ahead)
	nb := startNode(t, rs, "b")
	a := startHubNodeOf(t, rs, na, nil, ahead)
	b := startHubNodeOf(t, rs, nb, nil, nil)
	now := time.Now()
	iss, err := auth.New(auth.Config{Keys: []auth.Key{testAuthKey}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(auth.Claims{UserID: "ada", Name: "ada", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	located := func(want ...UserSession) func() bool {
		return func() bool {
			loc, err := a.users.Locate(ctx, "ada")
			return err == nil && slices.Equal(loc["ada"], want)
		}
	}
	first := a.dial(t, tok, "ada on a")
	aConn := a.reg.Sessions("ada")[0].ConnID()
	waitFor(t, 10*time.Second, "ada's record on a", located(UserSession{Node: "a", Conn: aConn}))
	second := b.dial(t, tok, "ada on b")
	b.settle("ada") // b's claim has run
	if r := second.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}}); r.GetPong() == nil {
		t.Fatalf("ada's new session on b, with a's clock a minute ahead: %v (closed with %d), want it kept", r, second.CloseCode())
	}
	if code := first.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("ada's older session on a closed with %d, want %d", code, protocol.CloseDuplicateLogin)
	}
}

// TestSecondLoginWinsOverASessionHeldWhileTheNodeWaitedOut: node a's
// clock runs a minute ahead, and a was started again at once under an id
// whose previous registration lives on (a crash and a supervisor's
// restart): it holds ada's session's claim until it has registered. The
// claim was stamped on Redis's clock at the login, before a had measured
// the difference (its first heartbeat fails while the id is in use), so
// it carried a's own clock, and once a registered, ada's session there
// counted as a minute newer than her later login through b, which was
// closed with CLOSE_CODE_DUPLICATE_LOGIN. The later login is kept.
func TestSecondLoginWinsOverASessionHeldWhileTheNodeWaitedOut(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	ahead := func() time.Time { return time.Now().Add(time.Minute) }
	prev := startNode(t, rs, "a") // the process whose registration lives on
	na := startNodeOn(t, rs, "a", ahead)
	nb := startNode(t, rs, "b")
	a := startHubNodeOf(t, rs, na, nil, ahead)
	b := startHubNodeOf(t, rs, nb, nil, nil)
	waitFor(t, 5*time.Second, "the process under a's id to find the id in use", func() bool {
		err := na.Ready()
		return err != nil && strings.Contains(err.Error(), "in use")
	})
	tok := userToken(t, "ada")
	ctx := context.Background()
	located := func(want ...UserSession) func() bool {
		return func() bool {
			loc, err := b.users.Locate(ctx, "ada")
			return err == nil && slices.Equal(loc["ada"], want)
		}
	}
	first := a.dial(t, tok, "ada on a, waiting out the previous process")
	aConn := a.reg.Sessions("ada")[0].ConnID()
	a.settle("ada") // its claim is held
	if err := prev.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ada's held session on a recorded once a registered", located(UserSession{Node: "a", Conn: aConn}))
	if _, ok := na.LocalTime(time.Now()); !ok {
		t.Fatal("a registered without measuring Redis's clock")
	}
	second := b.dial(t, tok, "ada on b")
	b.settle("ada") // b's claim has run
	if r := second.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}}); r.GetPong() == nil {
		t.Fatalf("ada's new session on b, her session on a held while a waited out its id with its clock a minute ahead: %v (closed with %d), want it kept", r, second.CloseCode())
	}
	if code := first.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("ada's older session on a closed with %d, want %d", code, protocol.CloseDuplicateLogin)
	}
}
