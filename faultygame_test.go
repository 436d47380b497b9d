package tickroom_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
	"github.com/tickroom/tickroom/tickroomtest"
)

// bloat is a game with a bug in its state: each player's entity is
// Options["size"] bytes, and grows by Options["grow"] bytes a tick (a
// list the game appends to and never trims).
type bloat struct {
	size, grow int
	seats      map[uint32]bool
}

func bloatDefinition() game.Definition {
	return game.Definition{Name: "bloat", TickRate: 20, MaxPlayers: 2, New: func(s game.Setup) (game.Game, error) {
		size, _ := strconv.Atoi(s.Options["size"])
		grow, _ := strconv.Atoi(s.Options["grow"])
		return &bloat{size: size, grow: grow, seats: map[uint32]bool{}}, nil
	}}
}

func (g *bloat) Accept(*game.Context, game.Player) error { return nil }

func (g *bloat) Notice(_ *game.Context, kind game.NoticeKind, p game.Player) {
	if kind == game.NoticeJoined && !p.Spectator {
		g.seats[p.Seat] = true
	}
}

func (g *bloat) Input(*game.Context, uint32, []byte) error { return nil }

func (g *bloat) Update(*game.Context, time.Duration) { g.size += g.grow }

func (g *bloat) Encode(s *game.Snapshot) {
	for seat := range g.seats {
		s.EntityBytes(uint64(seat), bytes.Repeat([]byte{1}, g.size))
	}
}

// A game whose state is far past what a client should be sent (5 MB at
// once, or 200 KB more every tick) has its room closed: its player is
// told the match ended with "error" and gets Left ROOM_CLOSED on a
// connection that stays open, rather than being closed as a slow client
// (4001, resumable, so that its client resumed into the same state and was
// closed again, for ever); another room on the server plays on.
func TestGameStateOverTheLimitClosesItsRoom(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]map[string]string{
		"at once": {"size": "5000000"},
		"growing": {"size": "1000", "grow": "200000"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{bloatDefinition(), raceDefinition()}})
			ann, bob := dial(t, srv, "ann"), dial(t, srv, "bob")
			j := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}).GetJoined()
			m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "bloat", Options: opts}}})
			room := m.GetJoined().GetRoomId()
			if room == "" || j == nil {
				t.Fatalf("quick-match: %v, %v", m, j)
			}
			playerClosedOut(t, ann, room)
			// The connection serves on, and the other room plays.
			if m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}); m.GetRoomList() == nil {
				t.Fatalf("a request after the close: %v", m)
			}
			bob.Next(func(m *tickroomv1.ServerMessage) bool {
				return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
			})
			for seq := range uint32(3) {
				input(bob, j.GetRoomId(), seq+1, "+")
			}
			res := bob.Next(func(m *tickroomv1.ServerMessage) bool {
				return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
			}).GetRoomEvent().GetResult()
			if res.GetReason() != "finished" {
				t.Fatalf("the other room's match ended with %v", res)
			}
		})
	}
}

// fragile is a game with a bug a client reaches: the input "boom" panics.
type fragile struct{ race }

func fragileDefinition() game.Definition {
	return game.Definition{Name: "fragile", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &fragile{race{at: map[uint32]byte{}}}, nil
	}}
}

func (g *fragile) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "boom" {
		var m map[string]int
		m["x"]++ // a nil map, the kind of bug a game ships
	}
	return g.race.Input(ctx, seat, data)
}

// playerClosedOut waits for c to be told that room ended with "error" and
// closed (LEAVE_REASON_ROOM_CLOSED), its connection open.
func playerClosedOut(t *testing.T, c *testclient.Client, room string) {
	t.Helper()
	var ended *tickroomv1.MatchResult
	left := c.Next(func(m *tickroomv1.ServerMessage) bool {
		if ev := m.GetRoomEvent(); ev.GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			ended = ev.GetResult()
		}
		return m.GetLeft() != nil
	}).GetLeft()
	if left.GetRoomId() != room || left.GetReason() != tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED {
		t.Fatalf("left %v, want ROOM_CLOSED for %s", left, room)
	}
	if ended.GetReason() != "error" {
		t.Fatalf("match ended with %v, want reason error", ended)
	}
	if code := c.CloseCode(); code != 0 {
		t.Fatalf("the player's connection closed with %d", code)
	}
}

// A room closed because its game failed (a panic on a client's input, a
// state over the limit) is counted on /metrics by game, beside the log
// line, so an operator's alert sees a game that crashes its rooms.
func TestRoomsWhoseGameFailedAreCounted(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{AdminAddr: "127.0.0.1:0", Games: []game.Definition{fragileDefinition(), bloatDefinition(), raceDefinition()}})
	ann, bob, cy := dial(t, srv, "ann"), dial(t, srv, "bob"), dial(t, srv, "cy")
	quick := func(c *testclient.Client, g string, opts map[string]string) string {
		t.Helper()
		m := c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: g, Options: opts}}})
		if m.GetJoined() == nil {
			t.Fatalf("quick-match %s: %v", g, m)
		}
		return m.GetJoined().GetRoomId()
	}
	bad := quick(ann, "fragile", nil)
	quick(cy, "race", nil)
	ann.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
	})
	input(ann, bad, 1, "boom")
	playerClosedOut(t, ann, bad)
	big := quick(bob, "bloat", map[string]string{"size": "2000000"})
	playerClosedOut(t, bob, big)

	body := adminGet(t, srv, "/metrics")
	for _, want := range []string{
		`tickroom_room_crashes_total{game="fragile"} 1` + "\n",
		`tickroom_room_crashes_total{game="bloat"} 1` + "\n",
		`tickroom_room_crashes_total{game="race"} 0` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grep(body, "crashes"))
		}
	}
}

// A match whose game panicked did not end in a draw: it was closed before
// its game decided, as a room an operator closes (Reason "closed"), so the
// store keeps it as played by its players, neither a draw nor a loss, and a
// player about to lose who reaches the bug does not turn the loss into a
// draw in the standings.
func TestMatchWhoseGameFailedIsNoDraw(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seen := make(chan game.Result, 1)
	srv, cancel, done := start(t, tickroom.Options{
		Games: []game.Definition{fragileDefinition()}, DataDir: dir,
		OnResult: func(r game.Result) { seen <- r },
	})
	ada, bob := dial(t, srv, "ada"), dial(t, srv, "bob")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "fragile"}}}
	room := ada.Request(qm).GetJoined().GetRoomId()
	if got := bob.Request(qm).GetJoined().GetRoomId(); got != room {
		t.Fatalf("bob joined %q, ada %q", got, room)
	}
	ada.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
	})
	input(ada, room, 1, "+")
	input(ada, room, 2, "boom")
	playerClosedOut(t, bob, room)
	select {
	case r := <-seen:
		if r.Outcome.Reason != "error" || len(r.Players) != 2 {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnResult not called")
	}
	cancel()
	if err := <-done; err != nil { // the store's queue is written out
		t.Fatalf("Run: %v", err)
	}
	db, err := store.Open(context.Background(), store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	top, err := db.Leaderboard(context.Background(), "fragile", 10)
	if err != nil || len(top) != 2 {
		t.Fatalf("leaderboard %+v, %v", top, err)
	}
	for _, s := range top {
		if s.Played != 1 || s.Draws != 0 || s.Wins != 0 || s.Losses != 0 {
			t.Fatalf("%s's standing after the crash: %+v, want played 1 and no draw", s.Name, s)
		}
	}
}

// stuck is a game whose Update, after the input "hang", never returns
// (until the test ends): a loop that does not end, or a wait a game was
// told never to make.
type stuck struct {
	race
	hang    bool
	hung    chan<- struct{} // closed when Update starts to hang
	release <-chan struct{}
}

func (g *stuck) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "hang" {
		g.hang = true
		return nil
	}
	return g.race.Input(ctx, seat, data)
}

func (g *stuck) Update(*game.Context, time.Duration) {
	if g.hang {
		if g.hung != nil {
			close(g.hung)
			g.hung = nil
		}
		<-g.release
	}
}

// waitHung waits until a stuck game's Update hangs: a stop before that
// finds no worker stuck, however long the test slept after the input.
func waitHung(t *testing.T, hung <-chan struct{}) {
	t.Helper()
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck game's Update did not run within 10 s of its hang input")
	}
}

// A server whose game never returns from a call still shuts down within
// its deadline: Shutdown returns the context's error, its other clients
// get the resumable shutdown close, rather than the process waiting for
// the stuck tick worker for ever (a SIGTERM that never ended). The worker
// it gave up on is counted, as tickroom_tick_workers_stuck_total on
// /metrics reads it.
func TestShutdownOutlastsAStuckGame(t *testing.T) {
	t.Parallel()
	release, hung := make(chan struct{}), make(chan struct{})
	def := game.Definition{Name: "stuck", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &stuck{race: race{at: map[uint32]byte{}}, hung: hung, release: release}, nil
	}}
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{def, raceDefinition()}, Shards: 2, AdminAddr: "127.0.0.1:0"})
	t.Cleanup(func() { close(release) }) // after Shutdown's cleanup: the worker ends
	if body := adminGet(t, srv, "/metrics"); !strings.Contains(body, "\ntickroom_tick_workers_stuck_total 0\n") {
		t.Fatalf("/metrics lacks tickroom_tick_workers_stuck_total 0:\n%s", grep(body, "stuck"))
	}
	ann, bob := dial(t, srv, "ann"), dial(t, srv, "bob")
	room := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "stuck"}}}).GetJoined().GetRoomId()
	bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}})
	ann.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
	})
	input(ann, room, 1, "hang")
	waitHung(t, hung)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the deadline's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return 9 s past its deadline: it waits for the stuck tick worker")
	}
	if code := bob.WaitClosed(); code != int(protocol.CloseServerShutdown) {
		t.Fatalf("the other room's player closed with %d, want %d", code, protocol.CloseServerShutdown)
	}
	if n := srv.Runtime().StuckWorkers(); n != 1 {
		t.Fatalf("%d stuck tick workers counted, want the one of the two that ran the stuck game", n)
	}
}

// Neither a shutdown nor a drain before it spends its long deadline on a
// tick worker already stuck in a game's call (past game.StuckAfter):
// everything else finishes (the other room's match ends and is saved,
// every client gets the resumable shutdown close, the store is written)
// and Run returns long before the deadline, with game.ErrWorkerStuck. A
// rolling deploy with one broken room on a node is not held up for the
// whole -shutdown-timeout or -drain-timeout.
func TestShutdownGivesUpOnAStuckWorker(t *testing.T) {
	t.Parallel()
	const deadline = 30 * time.Second
	for _, tc := range []struct {
		name  string
		drain time.Duration
		// finish has bob end his race after the stop: the drain waits
		// for it, and it is saved as his win rather than a closed match.
		finish bool
	}{
		{name: "shutdown"},
		{name: "drain", drain: deadline, finish: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release, hung := make(chan struct{}), make(chan struct{})
			t.Cleanup(func() { close(release) })
			def := game.Definition{Name: "stuck", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
				return &stuck{race: race{at: map[uint32]byte{}}, hung: hung, release: release}, nil
			}}
			dir := t.TempDir()
			srv, cancel, done := start(t, tickroom.Options{Games: []game.Definition{def, raceDefinition()}, Shards: 2, DataDir: dir, ShutdownTimeout: deadline, DrainTimeout: tc.drain})
			ann, bob := dial(t, srv, "ann"), dial(t, srv, "bob")
			room := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "stuck"}}}).GetJoined().GetRoomId()
			race := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}).GetJoined().GetRoomId()
			for _, c := range []*testclient.Client{ann, bob} {
				c.Next(func(m *tickroomv1.ServerMessage) bool {
					return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
				})
			}
			input(ann, room, 1, "hang")
			waitHung(t, hung)

			began := time.Now()
			cancel()
			if tc.finish {
				for seq := range uint32(3) {
					input(bob, race, seq+1, "+")
				}
				if r := matchEnded(bob); r.GetReason() != "finished" {
					t.Fatalf("bob's race ended %q, want finished", r.GetReason())
				}
			}
			select {
			case err := <-done:
				if !errors.Is(err, game.ErrWorkerStuck) {
					t.Fatalf("Run: %v, want game.ErrWorkerStuck", err)
				}
			case <-time.After(deadline / 2):
				t.Fatalf("Run has not returned %v into a %v deadline: it waits it out for the stuck tick worker", time.Since(began), deadline)
			}
			for _, c := range []*testclient.Client{ann, bob} {
				if code := c.WaitClosed(); code != int(protocol.CloseServerShutdown) {
					t.Fatalf("closed with %d, want %d", code, protocol.CloseServerShutdown)
				}
			}
			if n := srv.Runtime().StuckWorkers(); n != 1 {
				t.Fatalf("%d stuck tick workers counted, want 1", n)
			}
			db, err := store.Open(context.Background(), store.Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			wins := int64(0)
			if tc.finish {
				wins = 1
			}
			top, err := db.Leaderboard(context.Background(), "race", 10)
			if err != nil || len(top) != 1 || top[0].Name != "bob" || top[0].Played != 1 || top[0].Wins != wins {
				t.Fatalf("race leaderboard %+v, %v: want bob's match saved, %d won", top, err, wins)
			}
		})
	}
}

// loud is a game with a bug in what it sends: the input "shout" sends the
// player a 5 MB GameMessage, "end" ends the match with a 5 MB result,
// "rant" ends it with a 5 MB reason (rant), and "hi" sends a small message.
type loud struct{ race }

// playingLoud starts a server with the loud game, and a store in dataDir
// unless it is "", and returns ann seated in a running room of it.
func playingLoud(t *testing.T, dataDir string) (*testclient.Client, *tickroomv1.Joined) {
	t.Helper()
	def := game.Definition{Name: "loud", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &loud{race{at: map[uint32]byte{}}}, nil
	}}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}, DataDir: dataDir})
	ann := dial(t, srv, "ann")
	j := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "loud"}}}).GetJoined()
	ann.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
	})
	return ann, j
}

// matchEnded waits for c's MATCH_ENDED and returns its result.
func matchEnded(c *testclient.Client) *tickroomv1.MatchResult {
	return c.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	}).GetRoomEvent().GetResult()
}

func (g *loud) Input(ctx *game.Context, seat uint32, data []byte) error {
	switch string(data) {
	case "shout":
		ctx.Send(seat, game.Message{Code: 7, Data: make([]byte, 5<<20)})
	case "hi":
		ctx.Send(seat, game.Message{Code: 8, Text: "hi"})
	case "end":
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "done", Data: make([]byte, 5<<20)})
	case "rant":
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: rant})
	case "garble-refuse":
		return &game.InputError{Code: 10, Text: garbled}
	case "garble":
		ctx.Send(seat, game.Message{Code: 9, Text: garbled})
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: garbled})
	}
	return nil
}

// A game message or match result the game made far larger than a client
// is sent is not sent as it is, which closed every recipient as a slow
// client (4001) and lost the message (and, for a result, the end of the
// match) for good: an oversized message is left out and logged, and a
// result goes out without its oversized data; the connection stays open.
func TestOversizedGameMessagesAreNotSent(t *testing.T) {
	t.Parallel()
	ann, j := playingLoud(t, "")
	input(ann, j.GetRoomId(), 1, "shout")
	input(ann, j.GetRoomId(), 2, "hi")
	if gm := ann.Next(testclient.Is[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); gm.GetCode() != 8 {
		t.Fatalf("game message %d, want the small one (8) alone", gm.GetCode())
	}
	input(ann, j.GetRoomId(), 3, "end")
	res := matchEnded(ann)
	if res.GetReason() != "done" || len(res.GetWinnerSeats()) != 1 || res.GetWinnerSeats()[0] != j.GetSeat() || len(res.GetData()) != 0 {
		t.Fatalf("result %v (%d bytes of data), want done, won by seat %d, without its data", res.GetReason(), len(res.GetData()), j.GetSeat())
	}
	if code := ann.CloseCode(); code != 0 {
		t.Fatalf("closed with %d", code)
	}
}

// rant is a reason far over game.MaxReasonLen whose runes (after the
// first byte) are two bytes long, so that the limit splits one.
var rant = "a" + strings.Repeat("é", 5<<19)

// A match result whose reason the game made megabytes long went whole to
// every member (past the largest message they are sent: closed as too
// slow, 4001, the end of the match lost) and into every player's match
// history: the reason is cut at game.MaxReasonLen, on a rune's start, for
// the members and the store alike, and the connection stays open.
func TestOversizedResultReasonIsCut(t *testing.T) {
	t.Parallel()
	ann, j := playingLoud(t, t.TempDir())
	input(ann, j.GetRoomId(), 1, "rant")
	want := rant[:game.MaxReasonLen-1] // 'a' and 63 of the 2-byte 'é'
	res := matchEnded(ann)
	if res.GetReason() != want || len(res.GetWinnerSeats()) != 1 || res.GetWinnerSeats()[0] != j.GetSeat() {
		t.Fatalf("result of a %d-byte reason: %d-byte reason %.20q, won by %v; want its first %d bytes, won by seat %d",
			len(rant), len(res.GetReason()), res.GetReason(), res.GetWinnerSeats(), len(want), j.GetSeat())
	}
	var hist *tickroomv1.MatchHistory
	waitUntil(t, "the match in ann's history", func() bool {
		hist = ann.Request(historyRequest("", 0, 0)).GetMatchHistory()
		return len(hist.GetMatches()) == 1
	})
	if got := hist.Matches[0].Reason; got != want {
		t.Fatalf("the history keeps a %d-byte reason %.20q, want the %d bytes the members got", len(got), got, len(want))
	}
	if code := ann.CloseCode(); code != 0 {
		t.Fatalf("closed with %d", code)
	}
}

// garbled is a game's text that is not UTF-8 and holds a NUL, as a game
// that puts a client's input bytes into its text would make.
const garbled = "bad\xff\xfe\x00end"

// A game's text that is not valid UTF-8 (or holds a NUL) reaches its
// members as UTF-8 with U+FFFD in place of each bad byte: a strict decoder
// such as protobuf-es refuses a message whose string field is not UTF-8
// whole, and the store refuses a NUL. The members get the game's message
// and the end of the match, and the history keeps the result.
func TestGameTextThatIsNotUTF8IsMended(t *testing.T) {
	t.Parallel()
	ann, j := playingLoud(t, t.TempDir())
	input(ann, j.GetRoomId(), 1, "garble-refuse")
	if gm := ann.Next(testclient.Is[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); gm.GetCode() != 10 || gm.GetText() != "bad\uFFFD\x00end" {
		t.Fatalf("input refusal %d %q, want 10 %q", gm.GetCode(), gm.GetText(), "bad\uFFFD\x00end")
	}
	input(ann, j.GetRoomId(), 2, "garble")
	// A run of bad bytes is one U+FFFD; a NUL, UTF-8, is kept in a
	// message and replaced in a reason, which the store keeps.
	if gm := ann.Next(testclient.Is[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); gm.GetText() != "bad\uFFFD\x00end" {
		t.Fatalf("game message text %q, want %q", gm.GetText(), "bad\uFFFD\x00end")
	}
	const want = "bad\uFFFD\uFFFDend"
	res := matchEnded(ann)
	if res.GetReason() != want {
		t.Fatalf("result reason %q, want %q", res.GetReason(), want)
	}
	var hist *tickroomv1.MatchHistory
	waitUntil(t, "the match in ann's history", func() bool {
		hist = ann.Request(historyRequest("", 0, 0)).GetMatchHistory()
		return len(hist.GetMatches()) == 1
	})
	if got := hist.Matches[0].Reason; got != want {
		t.Fatalf("the history keeps reason %q, want %q", got, want)
	}
	if code := ann.CloseCode(); code != 0 {
		t.Fatalf("closed with %d", code)
	}
}

// A game's refusal of a join whose reason is not UTF-8 reaches the player
// mended, as the game's messages do.
func TestGameRefusalThatIsNotUTF8IsMended(t *testing.T) {
	t.Parallel()
	def := game.Definition{Name: "picky", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &picky{race{at: map[uint32]byte{}}}, nil
	}}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}})
	ann := dial(t, srv, "ann")
	m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "picky"}}})
	if e := m.GetError(); e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN || !strings.Contains(e.GetMessage(), "bad\uFFFD\x00end") {
		t.Fatalf("a refused join got %v, want FORBIDDEN naming %q", m, "bad\uFFFD\x00end")
	}
}

// picky refuses every join with a reason that is not UTF-8.
type picky struct{ race }

func (*picky) Accept(*game.Context, game.Player) error { return game.Refuse(garbled) }

// A game's refusal of a join with a reason of megabytes closed the
// player as too slow (4001) and lost the refusal: the reply's text is cut,
// and the player gets the refusal and stays connected.
func TestGameRefusalTextIsBounded(t *testing.T) {
	t.Parallel()
	def := game.Definition{Name: "verbose", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &verbose{race{at: map[uint32]byte{}}}, nil
	}}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}})
	ann := dial(t, srv, "ann")
	m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "verbose"}}})
	e := m.GetError()
	if e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN || len(e.GetMessage()) > hub.MaxErrorText || !strings.HasPrefix(e.GetMessage(), "game: join refused: aé") {
		t.Fatalf("a join refused with a %d-byte reason: %v (%d bytes of text), want FORBIDDEN with at most %d", len(rant), e.GetCode(), len(e.GetMessage()), hub.MaxErrorText)
	}
	if !utf8.ValidString(e.GetMessage()) {
		t.Fatalf("the cut text is not UTF-8: %q", e.GetMessage())
	}
	if code := ann.CloseCode(); code != 0 {
		t.Fatalf("closed with %d", code)
	}
}

// verbose refuses every join with a reason of megabytes.
type verbose struct{ race }

func (*verbose) Accept(*game.Context, game.Player) error { return game.Refuse(rant) }

// A game whose New returns no Game and no error for some options (a nil
// pointer it meant to fill) has those options refused as bad options, as
// an error from New is, rather than a room made, paid for and closed as
// soon as its creator's join reached the missing game (ROOM_CLOSING).
func TestGameNewReturningNoGameRefusesTheOptions(t *testing.T) {
	t.Parallel()
	def := game.Definition{Name: "hollow", TickRate: 20, MaxPlayers: 2, New: func(s game.Setup) (game.Game, error) {
		var g *race
		switch s.Options["mode"] {
		case "nil":
			return nil, nil
		case "nil pointer":
			return g, nil
		}
		return &race{at: map[uint32]byte{}}, nil
	}}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}})
	ann := dial(t, srv, "ann")
	for _, mode := range []string{"nil", "nil pointer"} {
		m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "hollow", Options: map[string]string{"mode": mode}}}})
		if code := m.GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("%s: %v, want ERROR_CODE_BAD_OPTIONS", mode, m)
		}
	}
	if m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "hollow"}}}); m.GetJoined() == nil {
		t.Fatalf("a room of good options: %v", m)
	}
}
