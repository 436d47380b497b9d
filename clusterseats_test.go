package tickroom_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// notYetRace is race whose game refuses alice's first join of any of
// its rooms (asked, shared by them), at the tick, once gate closes
// (entered tells the test it waits there, holding up the room's tick),
// and takes her later joins; when closeSeats is set by then, its match
// begins with that refusal, and the room takes no player after it
// (Context.CloseSeats).
type notYetRace struct {
	*race
	entered    chan<- struct{}
	gate       <-chan struct{}
	asked      *atomic.Bool
	closeSeats *atomic.Bool
}

func (g *notYetRace) Accept(ctx *game.Context, p game.Player) error {
	if p.Name != "alice" || !g.asked.CompareAndSwap(false, true) {
		return nil
	}
	g.entered <- struct{}{}
	<-g.gate
	if g.closeSeats.Load() {
		ctx.CloseSeats()
	}
	return game.Refuse("not yet")
}

// heldJoin is a join of alice's phone held at the tick of a room of
// notYetRace on b, a node of a cluster of two (a, b) with -multi-sockets,
// which write their rooms' taken seats to Redis only as they register,
// before the test goes on (a seat reserved stays a reservation while the
// test runs): the phone left it and joined again (again, which waits for
// the first to be settled); open lets the game refuse the first, and
// take the second (refuse it at once, closeSeats set). Both nodes serve
// metrics on an admin port.
type heldJoin struct {
	a, b          *tickroom.Server
	room          string
	phone, laptop *testclient.Client
	first, leave  uint32
	again         uint32
	open          func()
	closeSeats    atomic.Bool
}

func holdJoin(t *testing.T, maxPlayers int) *heldJoin {
	t.Helper()
	rdb := redistest.Start(t)
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	h := &heldJoin{open: sync.OnceFunc(func() { close(gate) })}
	var asked atomic.Bool
	def := raceDefinition()
	def.Name, def.MaxPlayers = "notyet", maxPlayers
	def.New = func(game.Setup) (game.Game, error) {
		return &notYetRace{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate, asked: &asked, closeSeats: &h.closeSeats}, nil
	}
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true, AdminAddr: "127.0.0.1:0"}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	h.a, h.b = startRegistered(t, opts), startRegistered(t, opts)
	t.Cleanup(h.open) // a test that fails first lets the room's tick go on

	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "notyet"}}}
	if h.room = dial(t, h.b, "host").Request(create).GetJoined().GetRoomId(); h.room == "" {
		t.Fatal("the host could not create a room")
	}
	token := login(t, h.b, "alice")
	socket := func(label string) *testclient.Client {
		c, _, err := testclient.Dial(t, "ws://"+h.b.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return c
	}
	h.phone, h.laptop = socket("phone"), socket("laptop")

	// The phone's join reaches the room's tick, which waits.
	h.first = sendHeld(t, h.phone, entered, h.join(), "the phone's join")
	h.leave = h.phone.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: h.room}}})
	h.again = h.queued(t, h.phone)
	return h
}

func (h *heldJoin) join() *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: h.room}}}
}

// queued is queuedJoin of the room.
func (h *heldJoin) queued(t *testing.T, c *testclient.Client) uint32 {
	t.Helper()
	return queuedJoin(t, c, h.join())
}

// queuedJoin sends join from c until one is refused ALREADY_IN_ROOM:
// another join of c's waits then, the one returned unless c had one
// waiting before.
func queuedJoin(t *testing.T, c *testclient.Client, join *tickroomv1.ClientMessage) uint32 {
	t.Helper()
	ids := []uint32{c.Send(join)}
	for {
		ids = append(ids, c.Send(join))
		m := c.Next(func(m *tickroomv1.ServerMessage) bool { return slices.Contains(ids, m.RequestId) })
		ids = slices.DeleteFunc(ids, func(id uint32) bool { return id == m.RequestId })
		switch code := m.GetError().GetCode(); code {
		case tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM:
			return ids[0]
		case tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT:
		default:
			t.Fatalf("%v while a join of the room waited", m)
		}
	}
}

// settle opens the gate: the game refuses the phone's first join, and
// seats its second.
func (h *heldJoin) settle(t *testing.T) {
	t.Helper()
	h.open()
	if m := h.phone.Reply(h.first); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's first join: %v, want FORBIDDEN", m)
	}
	if m := h.phone.Reply(h.leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}
	if m := h.phone.Reply(h.again); m.GetJoined().GetRoomId() != h.room {
		t.Fatalf("the phone's join after its leave: %v, want Joined", m)
	}
}

// lateJoin has another player join the room through a (lateJoinOf).
func (h *heldJoin) lateJoin(t *testing.T) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	t.Helper()
	return lateJoinOf(t, h.a, h.room)
}

// lateJoinOf has another player join room through srv, again while it
// is refused ROOM_FULL for a few seconds (a seat given back goes to
// Redis off the room's tick, just after the answers that tell of it, and
// a seat left goes from the room at its next tick): the reply then, and
// the redirects it followed.
func lateJoinOf(t *testing.T, srv *tickroom.Server, room string) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	t.Helper()
	return lateJoin(t, srv, joinRoom(room))
}

// lateJoin is lateJoinOf with join, a JoinRoom of the room.
func lateJoin(t *testing.T, srv *tickroom.Server, join *tickroomv1.ClientMessage) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	t.Helper()
	late := dial(t, srv, "late")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cur, reply, hops := late.Follow(join)
		if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || time.Now().After(deadline) {
			return reply, hops
		}
		if cur != late {
			late = dial(t, srv, "late") // it followed a redirect off srv
		}
	}
}

// A JoinRoom sent after a LeaveRoom of a join the game refuses at the
// tick takes the seat that join reserved in Redis (the refusal keeps it
// for it). Dropped unasked, as its connection closed meanwhile, it gave
// back nothing: the seat stayed reserved for the reservation's minute,
// and the room of two, the host alone in it, was full to everyone else.
func TestQueuedJoinOfAClosedConnectionGivesBackTheSeat(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	_ = h.phone.WS.Close()
	closed := regexp.MustCompile(`(?m)^tickroom_connections_closed_total\{[^}]*\} [1-9]`)
	for deadline := time.Now().Add(3 * time.Second); !closed.MatchString(adminGet(t, h.b, "/metrics")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the phone's connection not closed on b 3 s after it closed it")
		}
	}
	h.open() // the game refuses the phone's first join; the second is dropped

	if reply, hops := h.lateJoin(t); reply.GetJoined().GetRoomId() != h.room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: the phone's dropped join kept alice's seat", len(hops), reply)
	}
}

// The same when the room refuses that JoinRoom at once as it asks for
// the seat: here its seats closed with the refusal (the match began).
// The room of two, the host alone in it, was full to everyone else in
// Redis, which had not heard of its closed seats yet; another player is
// sent to its node, and refused there.
func TestQueuedJoinRefusedAtOnceGivesBackTheSeat(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	h.closeSeats.Store(true)
	h.open()
	if m := h.phone.Reply(h.first); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's first join: %v, want FORBIDDEN", m)
	}
	if m := h.phone.Reply(h.leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}
	if m := h.phone.Reply(h.again); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's join after its leave, of a room that closed its seats: %v, want FORBIDDEN", m)
	}

	if reply, hops := h.lateJoin(t); reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN || len(hops) != 1 {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want a redirect to b, which refuses it FORBIDDEN: the phone's refused join kept alice's seat", len(hops), reply)
	}
}

// TestRefusedJoinKeepsTheSeatAQueuedJoinTakes: a join the game refuses
// at the tick gives back the seat it reserved in Redis unless a join of
// the user's on the node plays in the room or is joining it: one sent on
// the same connection after a LeaveRoom of the refused join, which waits
// for that join to be refused and then takes the seat, or with
// -multi-sockets another socket's. The refusal gave it back whatever they
// did: here the phone's JoinRoom sent again after a LeaveRoom of its join
// still pending, and the laptop's join, which was to take the phone's
// seat over and is refused with it. Alice sat in the room of two,
// full, while Redis counted a seat free there, and another player was
// sent to the room's node to be refused ROOM_FULL.
func TestRefusedJoinKeepsTheSeatAQueuedJoinTakes(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	taken := h.queued(t, h.laptop)
	h.settle(t)
	t.Logf("the laptop's join: %v", h.laptop.Reply(taken))

	// The room is full, the host and alice in it: a refuses another
	// player there.
	_, reply, hops := dial(t, h.a, "late").Follow(h.join())
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: a refused join of alice's gave back the seat she sits in", len(hops), reply)
	}
}

// TestQuickMatchRefusedAtTheTickKeepsTheSeatAQueuedJoinTakes: the same
// for a quick-match, which gave back the seat of a room whose game
// refused it at the tick before it went on, whatever the user's other
// sockets on the node did there: here the laptop's quick-match, matched
// with the room its phone is joining, was to take the phone's seat over
// and is refused with it, while the phone's JoinRoom sent after a
// LeaveRoom of that join then joins. Alice sat in the room of three with
// the host, and another player's, while Redis counted a seat free there.
func TestQuickMatchRefusedAtTheTickKeepsTheSeatAQueuedJoinTakes(t *testing.T) {
	t.Parallel()
	// matched has the laptop quick-match, and reports whether its join of
	// the room waits for the tick: the room, which counts alice's seat,
	// has one free, the match finds it, and a JoinRoom of the room then
	// is refused ALREADY_IN_ROOM. Sent before the match's join reached
	// the room, that JoinRoom takes its place, and the match goes to
	// another room (matched there, or made: here, or on a, a Redirect).
	matched := func(h *heldJoin) (uint32, bool) {
		match := h.laptop.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "notyet"}}})
		time.Sleep(100 * time.Millisecond)
		for {
			probe := h.laptop.Send(h.join())
			m := h.laptop.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == probe || m.RequestId == match })
			switch {
			case m.RequestId == match:
				if j, r := m.GetJoined(), m.GetRedirect(); j != nil && j.RoomId != h.room || r != nil && r.RoomId != h.room {
					t.Logf("the laptop's quick-match went to another room, its JoinRoom reached the room first: %v", m)
					return match, false
				}
				t.Fatalf("the laptop's quick-match answered before the room's tick: %v, want it to wait there", m)
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM:
				return match, true
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT:
				time.Sleep(10 * time.Millisecond)
			default:
				t.Fatalf("the laptop's JoinRoom while its quick-match waited: %v", m)
			}
		}
	}
	var h *heldJoin
	var match uint32
	for tries := 1; ; tries++ {
		h = holdJoin(t, 3)
		var ok bool
		if match, ok = matched(h); ok {
			break
		}
		if tries == 3 {
			t.Skip("the laptop's JoinRoom reached the room before its quick-match's join 3 times")
		}
	}
	h.settle(t)
	t.Logf("the laptop's quick-match: %v", h.laptop.Reply(match))

	// The host and alice hold two of the room's three seats: a sends the
	// next player there, and refuses the one after.
	if _, reply, _ := dial(t, h.a, "next").Follow(h.join()); reply.GetJoined() == nil {
		t.Fatalf("another player's JoinRoom of the room's last seat: %v, want Joined", reply)
	}
	_, reply, hops := dial(t, h.a, "late").Follow(h.join())
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the laptop's refused quick-match gave back the seat alice sits in", len(hops), reply)
	}
}

// waitRace is race whose game holds alice's first join of its rooms at
// the tick until gate closes (entered tells the test it waits there),
// then takes it.
type waitRace struct {
	*race
	entered chan<- struct{}
	gate    <-chan struct{}
	asked   *atomic.Bool
}

func (g *waitRace) Accept(_ *game.Context, p game.Player) error {
	if p.Name == "alice" && g.asked.CompareAndSwap(false, true) {
		g.entered <- struct{}{}
		<-g.gate
	}
	return nil
}

// A join refused while another socket of the user has a join of the room
// pending that a LeaveRoom left, none queued after it, gives back the
// user's seat in Redis: that join is on its way out, seated only to be
// given up, and nothing gives the seat back then. It kept the seat: here
// the laptop's JoinRoom sent through a to b with the seat reserved,
// refused RATE_LIMITED there (alice's joins on b spent), while the
// phone's join waited for the tick and was left; the game then seated
// the phone's join and the hub gave it up, and the room of two, the host
// alone in it, was full to everyone else for the reservation's minute.
func TestRefusedJoinGivesBackTheSeatALeftJoinHolds(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	var asked atomic.Bool
	def := raceDefinition()
	def.Name, def.MaxPlayers = "wait", 2
	def.New = func(game.Setup) (game.Game, error) {
		return &waitRace{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate, asked: &asked}, nil
	}
	opts := tickroom.Options{Games: []game.Definition{def, raceDefinition()}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true}
	opts = tickroom.WithDirectorySync(tickroom.WithJoinRate(opts, 0.001), time.Hour)
	a, b := startRegistered(t, opts), startRegistered(t, opts)
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // a test that fails first lets the room's tick go on

	host := dial(t, b, "host")
	create := func(game string) string {
		t.Helper()
		m := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: game}}})
		if m.GetJoined() == nil {
			t.Fatalf("the host's room of %s: %v", game, m)
		}
		return m.GetJoined().RoomId
	}
	room, other := create("wait"), create("race")
	join := joinRoom(room)
	token := login(t, b, "alice")
	socket := func(srv *tickroom.Server, label string) *testclient.Client {
		c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return c
	}

	// The phone's join reaches the room's tick, which waits; alice's
	// joins on b are then spent, and the phone leaves the room.
	phone := socket(b, "phone")
	first := sendHeld(t, phone, entered, join, "the phone's join")
	spendJoinsOn(t, b, token, other)
	leave := phone.Send(leaveRoom(room))

	// The laptop asks through a, which reserves alice's seat (her one
	// there) and sends it to b, where her bucket refuses the join.
	if _, reply, hops := socket(a, "laptop").Follow(join); len(hops) != 1 || reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("the laptop's JoinRoom through a: %d redirects, then %v; want one, then RATE_LIMITED", len(hops), reply)
	}

	open() // the game seats the phone's join, given up as it was left
	if m := phone.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("the phone's join: %v, want Joined", m)
	}
	if m := phone.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}

	seatFreeThrough(t, a, room, "the laptop's refused join kept alice's seat for the phone's, which was left")
}

// roomOfTwo starts two nodes of a cluster running def, in rooms of two,
// which write their rooms' taken seats to Redis only as they register,
// before the test goes on (a seat reserved stays a reservation while the
// test runs, as one given up before the node's next sync of its rooms
// does); a host makes a room of def on b. It returns the nodes, the room,
// and a token of alice's.
func roomOfTwo(t *testing.T, def game.Definition) (a, b *tickroom.Server, room, token string) {
	t.Helper()
	rdb := redistest.Start(t)
	def.MaxPlayers = 2
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	a, b = startRegistered(t, opts), startRegistered(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	if room = dial(t, b, "host").Request(create).GetJoined().GetRoomId(); room == "" {
		t.Fatal("the host could not create a room")
	}
	return a, b, room, login(t, b, "alice")
}

// socketOf connects to srv with token, up to its Welcome.
func socketOf(t *testing.T, srv *tickroom.Server, token, label string) *testclient.Client {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

// A seat given up before the room's node wrote it to Redis as taken goes
// back there: the node's sync drops only the seated players who left, and
// the seat stayed reserved for the reservation's minute. Here alice joins
// the room of two on b and leaves it at once; the room, the host alone in
// it, was full to everyone else.
func TestSeatLeftAtOnceGoesBack(t *testing.T) {
	t.Parallel()
	a, b, room, token := roomOfTwo(t, raceDefinition())
	alice := socketOf(t, b, token, "alice")
	if m := alice.Request(joinRoom(room)); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Request(leaveRoom(room)); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	seatFreeThrough(t, a, room, "alice's seat, left, stayed reserved")
}

// The same for a seat held for a resume, which the user gives up from a
// later connection.
func TestHeldSeatLeftAtOnceGoesBack(t *testing.T) {
	t.Parallel()
	a, b, room, token := roomOfTwo(t, raceDefinition())
	if m := socketOf(t, b, token, "phone").Request(joinRoom(room)); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	// A newer login replaces the phone's connection, and holds its seat.
	if m := socketOf(t, b, token, "laptop").Request(leaveRoom(room)); m.GetLeft() == nil {
		t.Fatalf("alice's leave of her held seat: %v, want Left", m)
	}
	seatFreeThrough(t, a, room, "alice's seat, left, stayed reserved")
}

// A player's JoinRoom that resumes the user's spectator seat (the room
// gives a user its one seat there back) gives back the player seat it
// reserved in Redis: it stayed reserved for the reservation's minute,
// nobody sitting in it. Here alice watches the room of two on b from her
// phone; a newer login, her laptop, holds that seat, and its JoinRoom to
// play resumes it. The room, the host alone in it as a player, was full
// to everyone else.
func TestPlayerJoinResumingASpectatorSeatGivesBackItsSeat(t *testing.T) {
	t.Parallel()
	a, b, room, token := roomOfTwo(t, raceDefinition())
	watch := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}
	if m := socketOf(t, b, token, "phone").Request(watch); !m.GetJoined().GetSpectator() {
		t.Fatalf("alice's join to watch: %v, want Joined as a spectator", m)
	}
	// A newer login replaces the phone's connection, and holds its seat.
	laptop := socketOf(t, b, token, "laptop")
	if m := laptop.Request(joinRoom(room)); !m.GetJoined().GetSpectator() || !m.GetJoined().GetResumed() {
		t.Fatalf("alice's join to play from her laptop: %v, want Joined, her spectator seat resumed", m)
	}
	seatFreeThrough(t, a, room, "the player seat alice's join reserved stayed reserved, her spectator seat resumed")
}

// heldAtTheTick is raceDefinition whose game holds alice's first join of
// its rooms at the tick until the returned open is called (entered tells
// the test it waits there), then takes it.
func heldAtTheTick(t *testing.T) (def game.Definition, entered <-chan struct{}, open func()) {
	t.Helper()
	in, gate := make(chan struct{}, 1), make(chan struct{})
	var asked atomic.Bool
	def = raceDefinition()
	def.Name = "wait"
	def.New = func(game.Setup) (game.Game, error) {
		return &waitRace{race: &race{at: map[uint32]byte{}}, entered: in, gate: gate, asked: &asked}, nil
	}
	open = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // a test that fails first lets the room's tick go on
	return def, in, open
}

// The same for a seat the game gives a join that a LeaveRoom left while
// it waited for the tick, which the hub gives up at once.
func TestSeatOfAJoinLeftWhilePendingGoesBack(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "alice")
	first := sendHeld(t, alice, entered, joinRoom(room), "alice's join")
	leave := alice.Send(leaveRoom(room))
	open()
	if m := alice.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	seatFreeThrough(t, a, room, "alice's seat, given up, stayed reserved")
}

// The same for a seat the game gives a join whose connection a newer
// login of the user replaced while it waited for the tick: the hub gives
// it up, as the newer login was never told of it.
func TestSeatOfAJoinReplacedWhilePendingGoesBack(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "phone")
	sendHeld(t, alice, entered, joinRoom(room), "alice's join")
	socketOf(t, b, token, "laptop") // replaces the phone's connection
	open()
	seatFreeThrough(t, a, room, "alice's seat, given up, stayed reserved")
}

// A join refused while the user's spectator join of the room, left,
// waits for the tick keeps the user's seat in Redis when a player's
// JoinRoom sent after that leave waits to take it: it gave the seat
// back, the left join being a spectator's. Here alice's JoinRoom to watch
// the room of two on b waits at the tick and is left; her JoinRoom to
// play, sent then, waits for it with her seat reserved, and another
// JoinRoom of hers is refused ALREADY_IN_ROOM. She then sits in the room
// with the host while Redis counted a seat free: a sent another player
// to b, to be refused ROOM_FULL there.
func TestRefusedJoinKeepsTheSeatAJoinAfterALeftSpectatorTakes(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "alice")
	first := sendHeld(t, alice, entered, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}, "alice's join to watch")
	leave := alice.Send(leaveRoom(room))
	again := queuedJoin(t, alice, joinRoom(room))
	open()
	if m := alice.Reply(first); !m.GetJoined().GetSpectator() {
		t.Fatalf("alice's join to watch: %v, want Joined as a spectator", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if m := alice.Reply(again); m.GetJoined().GetRoomId() != room || m.GetJoined().GetSpectator() {
		t.Fatalf("alice's join to play after her leave: %v, want Joined as a player", m)
	}

	_, reply, hops := dial(t, a, "late").Follow(joinRoom(room))
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: alice's refused join gave back the seat she sits in", len(hops), reply)
	}
}

// A LeaveRoom and a JoinRoom of the same room sent at once keep the
// user's seat in Redis: the node gives the left seat back off the room's
// tick, and the join reserves it again, each on its own goroutine, and
// the give-back that reached Redis second took the seat the join had just
// reserved. The user then sat in the room with no seat in Redis until the
// node's next sync. Here alice, in a room on b, leaves and joins it again
// at once, a few times; after each Joined, the room's seats in Redis must
// count hers.
func TestLeaveAndJoinAtOnceKeepTheSeat(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	def := raceDefinition()
	def.MaxPlayers = 4
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithJoinRate(tickroom.WithDirectorySync(opts, time.Hour), 1000)
	b, _, _ := start(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host could not create a room")
	}
	join := joinRoom(room)
	leave := leaveRoom(room)
	alice := socketOf(t, b, login(t, b, "alice"), "alice")
	if m := alice.Request(join); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	rc := rdb.Client(t)
	seats := func() int64 {
		n, err := rc.ZCard(context.Background(), "tickroom:room:"+room+":seats").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := seats(); n != 2 {
		t.Fatalf("after alice's join, %d seats of the room in Redis, want 2", n)
	}
	for i := range 30 {
		l, j := alice.Send(leave), alice.Send(join)
		if m := alice.Reply(l); m.GetLeft() == nil {
			t.Fatalf("round %d, alice's leave: %v, want Left", i, m)
		}
		if m := alice.Reply(j); m.GetJoined().GetRoomId() != room {
			t.Fatalf("round %d, alice's join after it: %v, want Joined", i, m)
		}
		time.Sleep(50 * time.Millisecond) // a give-back still on its way lands
		if n := seats(); n != 2 {
			t.Fatalf("round %d: alice, back in the room, and the host: %d seats of the room in Redis, want 2", i, n)
		}
	}
}

// A seat given up as a LeaveRoom came while its join waited for the tick
// stays the user's in Redis when a JoinRoom of the user's sent after that
// leave waits to take it (gaveUpSeat): given back, the user sat in the
// room with no seat there. Here alice's join of a room of three on b waits
// at the tick; she leaves it, and her JoinRoom sent then waits for it. The
// game seats the first, the hub gives it up, and the second takes a seat;
// bob fills the room. Another player's JoinRoom through a must then be
// refused ROOM_FULL by a: a sent it on to b, Redis counting a seat free.
func TestSeatOfAJoinLeftWhilePendingStaysForTheJoinAfter(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	rdb := redistest.Start(t)
	def.MaxPlayers = 3 // the left seat keeps its place in the room until the next tick
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	a, _, _ := start(t, opts)
	b, _, _ := start(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host could not create a room")
	}
	join := joinRoom(room)
	alice := socketOf(t, b, login(t, b, "alice"), "alice")
	first := sendHeld(t, alice, entered, join, "alice's join")
	leave := alice.Send(leaveRoom(room))
	again := queuedJoin(t, alice, join)
	open()
	if m := alice.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if m := alice.Reply(again); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join after her leave: %v, want Joined", m)
	}
	if m := dial(t, b, "bob").Request(join); m.GetJoined().GetRoomId() != room {
		t.Fatalf("bob's join: %v, want Joined", m)
	}
	time.Sleep(50 * time.Millisecond) // a give-back still on its way lands
	_, reply, hops := dial(t, a, "late").Follow(join)
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the seat alice sits in was given back", len(hops), reply)
	}
}

// A seat the admin API takes from a kicked or banned user goes back to
// Redis at once, as a seat left does: it stayed reserved for the
// reservation's minute when the node had not written it as seated yet,
// and the room of two, the host alone in it, was full to everyone else.
// Here alice joins the room of two on b; kicked, or banned once a newer
// login of hers holds her seat, she is out of the room.
func TestSeatOfAKickedOrBannedUserGoesBack(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ action, held string }{{"kick", ""}, {"ban", " once a newer login held it"}} {
		t.Run(c.action, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Start(t)
			def := raceDefinition()
			def.MaxPlayers = 2
			opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), AdminAddr: "127.0.0.1:0"}
			opts = tickroom.WithDirectorySync(opts, time.Hour)
			a, _, _ := start(t, opts)
			b, _, _ := start(t, opts)
			create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
			room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
			if room == "" {
				t.Fatal("the host could not create a room")
			}
			_, alice := api{t: t, base: "http://" + b.HTTPAddr().String()}.post("/v1/login", "", map[string]string{"name": "alice"})
			if m := socketOf(t, b, str(alice, "token"), "phone").Request(joinRoom(room)); m.GetJoined().GetRoomId() != room {
				t.Fatalf("alice's join: %v, want Joined", m)
			}
			if c.held != "" {
				socketOf(t, b, str(alice, "token"), "laptop") // replaces the phone's connection, and holds its seat
			}
			admin := api{t: t, base: "http://" + b.AdminAddr().String()}
			if st, m := admin.post("/v1/admin/players/"+str(alice, "user_id")+"/"+c.action, b.AdminToken(), map[string]string{}); st != 200 {
				t.Fatalf("%s of alice: %d %v, want 200", c.action, st, m)
			}
			if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
				t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, taken by the %s%s, stayed reserved", len(hops), reply, c.action, c.held)
			}
		})
	}
}

// sendHeld sends join from c, named what in a failure, and returns its
// request id once the join waits at the room's tick (entered).
func sendHeld(t *testing.T, c *testclient.Client, entered <-chan struct{}, join *tickroomv1.ClientMessage, what string) uint32 {
	t.Helper()
	id := c.Send(join)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal(what + " never reached the room's tick")
	}
	return id
}

// seatFreeThrough fails t unless another player's JoinRoom of room, the
// host alone in it, through a is Joined (lateJoinOf): the seat a user gave
// up went back to Redis. why says what kept it otherwise.
func seatFreeThrough(t *testing.T, a *tickroom.Server, room, why string) {
	t.Helper()
	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: %s", len(hops), reply, why)
	}
}

// joinRoom is a JoinRoom of room as a player.
func joinRoom(room string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
}

// leaveRoom is a LeaveRoom of room.
func leaveRoom(room string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}
}
