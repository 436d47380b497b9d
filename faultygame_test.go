package tickroom_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
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
			var ended *tickroomv1.MatchResult
			left := ann.Next(func(m *tickroomv1.ServerMessage) bool {
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
			if code := ann.CloseCode(); code != 0 {
				t.Fatalf("the player's connection closed with %d", code)
			}
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
