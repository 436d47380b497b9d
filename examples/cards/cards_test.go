package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/examples/cards/cardsv1"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/tickroomtest"
)

// view is what one member holds: the card ids of its hand, and the seats'
// card counts.
type view struct {
	hand  []uint32
	count map[uint32]uint32
}

func viewOf(t *testing.T, ents map[uint64]string) view {
	t.Helper()
	v := view{count: map[uint32]uint32{}}
	for id, b := range ents {
		if id > seatBase {
			var s cardsv1.Seat
			if err := s.UnmarshalVT([]byte(b)); err != nil {
				t.Fatal(err)
			}
			v.count[s.Seat] = s.Cards
			continue
		}
		v.hand = append(v.hand, uint32(id))
	}
	slices.Sort(v.hand)
	return v
}

// choose picks a legal move for hand on table: a card that follows,
// keeping eights for last, else a draw.
func choose(hand []uint32, table *cardsv1.Table) *cardsv1.Move {
	var eight uint32
	for _, id := range hand {
		c := cardOf(id)
		if c.Rank == 8 {
			eight = id
			continue
		}
		if c.Suit == table.Suit || c.Rank == table.Top.GetRank() {
			return &cardsv1.Move{Action: &cardsv1.Move_Play{Play: &cardsv1.Play{CardId: id}}}
		}
	}
	if eight != 0 {
		return &cardsv1.Move{Action: &cardsv1.Move_Play{Play: &cardsv1.Play{CardId: eight, Suit: cardsv1.Suit_SUIT_HEARTS}}}
	}
	return &cardsv1.Move{Action: &cardsv1.Move_Draw{Draw: &cardsv1.Draw{}}}
}

// TestEightsHiddenHands plays whole matches on a manual clock and checks
// after every move that each player's view holds exactly their own hand,
// a spectator's none, and everyone the true card counts; moves out of turn,
// of a card not held, or that do not follow are refused with their codes;
// the match ends with a result whose card counts match the views.
func TestEightsHiddenHands(t *testing.T) {
	t.Parallel()
	for _, seats := range []int{2, 3, 4} {
		env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
		room := env.Create(t, game.RoomOptions{Game: "eights", Seed: uint64(seats), Options: map[string]string{"seats": string(rune('0' + seats))}})
		var ps []*gametest.Player
		for i := range seats {
			ps = append(ps, env.Seat(t, room, string(rune('a'+i))))
		}
		watcher := env.Watch(t, room, "watcher")
		env.Advance(t, 200*time.Millisecond)
		if room.Phase() != game.PhaseRunning {
			t.Fatalf("%d seats: phase %v after all sat down", seats, room.Phase())
		}
		if seats < 4 { // a full room refuses by itself; a dealt one closed its seats
			if err := room.Join(game.JoinRequest{UserID: "late", Client: gametest.NewClient("late")}, nil); !errors.Is(err, game.ErrLocked) {
				t.Fatalf("a player's join to a dealt table: %v, want ErrLocked", err)
			}
		}

		refusals := 0
		for move := 0; len(env.Results()) == 0; move++ {
			if move > 500 {
				t.Fatalf("%d seats: no end after 500 moves", seats)
			}
			var table cardsv1.Table
			ps[0].DecodeGlobals(t, &table)
			held := map[uint32]bool{}
			for _, p := range ps {
				ents, _ := p.Entities()
				v := viewOf(t, ents)
				for _, q := range ps {
					if v.count[q.Seat] != viewOf(t, mustEnts(q.Client)).count[q.Seat] {
						t.Fatalf("%s sees %d cards for seat %d", p.Name(), v.count[q.Seat], q.Seat)
					}
				}
				if uint32(len(v.hand)) != v.count[p.Seat] {
					t.Fatalf("%s holds %d card entities, its seat says %d", p.Name(), len(v.hand), v.count[p.Seat])
				}
				for _, c := range v.hand {
					if held[c] {
						t.Fatalf("card %d is in two views", c)
					}
					held[c] = true
				}
			}
			if w := viewOf(t, mustEnts(watcher.Client)); len(w.hand) != 0 {
				t.Fatalf("the spectator sees cards %v", w.hand)
			}

			cur := ps[slices.IndexFunc(ps, func(p *gametest.Player) bool { return p.Seat == table.Turn })]
			other := ps[slices.IndexFunc(ps, func(p *gametest.Player) bool { return p.Seat != table.Turn })]
			hand := viewOf(t, mustEnts(cur.Client)).hand
			if refusals < 3 {
				// Out of turn; a card the mover does not hold; a card that does not follow.
				other.SendMessage(t, &cardsv1.Move{Action: &cardsv1.Move_Draw{Draw: &cardsv1.Draw{}}})
				notHeld := uint32(1)
				for slices.Contains(hand, notHeld) {
					notHeld++
				}
				cur.SendMessage(t, &cardsv1.Move{Action: &cardsv1.Move_Play{Play: &cardsv1.Play{CardId: notHeld}}})
				env.Advance(t, 200*time.Millisecond)
				if m := other.TakeMessages(); len(m) != 1 || m[0].Code != uint32(cardsv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN) {
					t.Fatalf("out of turn: %v", m)
				}
				if m := cur.TakeMessages(); len(m) != 1 || m[0].Code != uint32(cardsv1.ErrorCode_ERROR_CODE_NOT_IN_HAND) {
					t.Fatalf("card not held: %v", m)
				}
				for _, id := range hand {
					if c := cardOf(id); c.Rank != 8 && c.Suit != table.Suit && c.Rank != table.Top.GetRank() {
						cur.SendMessage(t, &cardsv1.Move{Action: &cardsv1.Move_Play{Play: &cardsv1.Play{CardId: id}}})
						env.Advance(t, 200*time.Millisecond)
						if m := cur.TakeMessages(); len(m) != 1 || m[0].Code != uint32(cardsv1.ErrorCode_ERROR_CODE_DOES_NOT_FOLLOW) {
							t.Fatalf("%v on %v: %v", c, table.Top, m)
						}
						refusals++
						break
					}
				}
			}
			cur.SendMessage(t, choose(hand, &table))
			env.Advance(t, 200*time.Millisecond)
			if m := cur.TakeMessages(); len(m) != 0 {
				t.Fatalf("a legal move was refused: %v", m)
			}
		}
		res := env.Results()[0]
		var left cardsv1.Result
		if err := left.UnmarshalVT(res.Outcome.Data); err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Winners() {
			if res.Outcome.Reason == "out" && left.CardsLeft[w.Seat-1] != 0 {
				t.Fatalf("winner %d still holds %d cards", w.Seat, left.CardsLeft[w.Seat-1])
			}
		}
		if res.Outcome.Reason != "out" && res.Outcome.Reason != "blocked" || len(res.Players) != seats {
			t.Fatalf("%d seats: result %+v", seats, res)
		}
	}
}

func mustEnts(c *gametest.Client) map[uint64]string {
	ents, _ := c.Entities()
	return ents
}

// TestEightsTurnClock draws for a player who lets the clock run out.
func TestEightsTurnClock(t *testing.T) {
	t.Parallel()
	env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
	room := env.Create(t, game.RoomOptions{Game: "eights", Options: map[string]string{"turn_seconds": "5"}})
	a, b := env.Seat(t, room, "a"), env.Seat(t, room, "b")
	env.Advance(t, 4*time.Second)
	if n := len(viewOf(t, mustEnts(a.Client)).hand); n != handSize {
		t.Fatalf("a holds %d cards before the clock ran out", n)
	}
	env.Advance(t, 2*time.Second)
	if n := len(viewOf(t, mustEnts(a.Client)).hand); n != handSize+1 {
		t.Fatalf("a holds %d cards after the clock ran out, want %d", n, handSize+1)
	}
	if m := a.TakeMessages(); len(m) != 1 || m[0].Text != "time is up: you drew a card" {
		t.Fatalf("messages %v", m)
	}
	var table cardsv1.Table
	b.DecodeGlobals(t, &table)
	if table.Turn != b.Seat {
		t.Fatalf("turn %d after a's clock ran out, want %d", table.Turn, b.Seat)
	}
}

// TestEightsOverLoopback runs the command's server with real clients: two
// players quick-match a table, each connection carries its own hand and
// no card of the other's, they play a few turns, and when one leaves the
// other wins.
func TestEightsOverLoopback(t *testing.T) {
	t.Parallel()
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{Definition()}})
	ann, bob := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
	ann.QuickMatch("eights", nil)
	if bob.QuickMatch("eights", nil); bob.Room != ann.Room {
		t.Fatalf("bob in %s, ann in %s", bob.Room, ann.Room)
	}
	hand := func(p *tickroomtest.Player) []uint32 {
		var out []uint32
		for _, id := range p.Entities() {
			if id <= seatBase {
				out = append(out, uint32(id))
			}
		}
		slices.Sort(out)
		return out
	}
	counts := func(p *tickroomtest.Player) map[uint32]uint32 {
		out := map[uint32]uint32{}
		for _, id := range p.Entities() {
			var s cardsv1.Seat
			if id > seatBase && p.Entity(id, &s) {
				out[s.Seat] = s.Cards
			}
		}
		return out
	}
	var table cardsv1.Table
	for turn := 0; turn < 6; turn++ {
		ann.WaitFor("both views agree on the turn and the counts", func() bool {
			var tb cardsv1.Table
			ann.Globals(&table)
			bob.Globals(&tb)
			ca, cb := counts(ann), counts(bob)
			return table.Turn != 0 && tb.Turn == table.Turn && uint32(len(hand(ann))) == ca[ann.Seat] && uint32(len(hand(bob))) == cb[bob.Seat] &&
				ca[bob.Seat] == cb[bob.Seat] && ca[ann.Seat] == cb[ann.Seat]
		})
		ha, hb := hand(ann), hand(bob)
		for _, c := range ha {
			if slices.Contains(hb, c) {
				t.Fatalf("card %d is in both hands: ann %v, bob %v", c, ha, hb)
			}
		}
		cur := ann
		if table.Turn == bob.Seat {
			cur = bob
		}
		cur.Send(choose(hand(cur), &table))
		cur.WaitFor("the turn to pass", func() bool {
			var tb cardsv1.Table
			cur.Globals(&tb)
			return tb.Turn != cur.Seat
		})
	}
	bob.Leave()
	res := ann.MatchEnded()
	if res.GetReason() != "last_at_table" || len(res.GetWinnerSeats()) != 1 || res.GetWinnerSeats()[0] != ann.Seat {
		t.Fatalf("after bob left: %v", res)
	}
}

// TestEightsStateInTheMonitor reads a dealt table from the admin API, as
// the monitor's inspector does: the operator sees what Encode wrote, both
// hands included, decoded into fields by the game's Schema.
func TestEightsStateInTheMonitor(t *testing.T) {
	t.Parallel()
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{Definition()}, AdminAddr: "127.0.0.1:0"})
	ann, bob := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
	ann.QuickMatch("eights", nil)
	bob.QuickMatch("eights", nil)
	ann.WaitFor("the deal", func() bool {
		var tb cardsv1.Table
		ann.Globals(&tb)
		return tb.Turn != 0
	})

	st := tickroomtest.RoomState(t, srv, ann.Room)
	if st.GlobalsType != "cards.v1.Table" {
		t.Fatalf("globals type %q", st.GlobalsType)
	}
	var names []string
	cards := 0
	for _, e := range st.Entities {
		var v struct {
			Name, Suit string
			Rank       int
		}
		if err := json.Unmarshal(e.Value, &v); err != nil {
			t.Fatalf("entity %s: %s (%v)", e.ID, e.Value, err)
		}
		switch e.Type {
		case "cards.v1.Seat":
			names = append(names, v.Name)
		case "cards.v1.Card":
			if !strings.HasPrefix(v.Suit, "SUIT_") || v.Rank < 1 || v.Rank > 13 {
				t.Fatalf("card %s decoded as %s", e.ID, e.Value)
			}
			cards++
		default:
			t.Fatalf("entity %s of type %q", e.ID, e.Type)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"ann", "bob"}) || cards != 2*handSize {
		t.Fatalf("seats %v and %d cards in hands, want ann, bob and %d", names, cards, 2*handSize)
	}
}

// TestEightsSeatsWithinTheRoom: a table that waits for more players than
// the room has seats would never deal, so it is refused.
func TestEightsSeatsWithinTheRoom(t *testing.T) {
	t.Parallel()
	env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
	if _, err := env.RT.CreateRoom(game.RoomOptions{Game: "eights", MaxPlayers: 2, Options: map[string]string{"seats": "3"}}); !errors.Is(err, game.ErrInvalidOptions) {
		t.Fatalf("3 seats in a room of 2: %v", err)
	}
	// Two seats and the default table of two deal as before.
	room := env.Create(t, game.RoomOptions{Game: "eights", MaxPlayers: 2})
	env.Seat(t, room, "a")
	env.Seat(t, room, "b")
	env.Advance(t, 100*time.Millisecond)
	if room.Phase() != game.PhaseRunning {
		t.Fatalf("phase %v", room.Phase())
	}
}

// TestEightsQuickMatchAfterTheDeal: once a 2-seat table in a 4-seat room
// has dealt, the next players who quick-match eights get a table of their
// own, not the game's refusal of the dealt one.
func TestEightsQuickMatchAfterTheDeal(t *testing.T) {
	t.Parallel()
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{Definition()}})
	ann, bob := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
	ann.QuickMatch("eights", nil)
	bob.QuickMatch("eights", nil)
	ann.WaitFor("the deal", func() bool {
		var tb cardsv1.Table
		ann.Globals(&tb)
		return tb.Turn != 0
	})
	carl := tickroomtest.Join(t, srv, "carl")
	if carl.QuickMatch("eights", nil); carl.Room == ann.Room {
		t.Fatalf("carl was put in the dealt table %s", ann.Room)
	}
}
