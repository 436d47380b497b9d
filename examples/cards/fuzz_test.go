package main

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/examples/cards/cardsv1"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// FuzzTable plays a table of 2 to 4 seats from a script: each step is a
// move (a draw, a play of any card id with any suit, or raw input bytes)
// from any seat, or a player leaving. Every move is taken exactly when
// the rules allow it and refused with the code that says why otherwise;
// after each step the 52 cards are all somewhere (hands, deck, the top
// card, or gone with a leaver or under the top card), each view holds its own hand and nothing
// more, and a refused move changes nothing.
func FuzzTable(f *testing.F) {
	f.Add(uint8(2), uint64(1), []byte{0, 0, 4, 17, 1, 8, 40, 3, 1, 0, 12})
	f.Add(uint8(3), uint64(7), []byte{1, 5, 2, 2, 0, 0, 0, 8, 1, 12, 3, 0, 0})
	f.Add(uint8(4), uint64(3), []byte{2, 3, 0x08, 0x12, 0x00, 3, 0, 1, 20, 5})
	f.Add(uint8(2), uint64(9), []byte{3, 0, 3, 1})
	f.Fuzz(func(t *testing.T, seats uint8, seed uint64, script []byte) {
		n := int(seats%3) + 2
		env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
		room := env.Create(t, game.RoomOptions{Game: "eights", Seed: max(seed, 1), Options: map[string]string{"seats": strconv.Itoa(n), "turn_seconds": "300"}})
		var ps []*gametest.Player
		for i := range n {
			ps = append(ps, env.Seat(t, room, string(rune('a'+i))))
		}
		env.Advance(t, 200*time.Millisecond)
		gone := map[uint32]bool{}
		lost := uint32(0) // cards that left with leavers or under the top card
		for len(script) > 0 && len(env.Results()) == 0 {
			op := script[0]
			arg := func(i int) byte {
				if i < len(script) {
					return script[i]
				}
				return 0
			}
			p := ps[int(op)%n]
			var table cardsv1.Table
			p.DecodeGlobals(t, &table)
			before := viewOf(t, mustEnts(p.Client))
			var data []byte
			want := cardsv1.ErrorCode_ERROR_CODE_UNSPECIFIED
			switch op / 4 % 4 {
			case 0:
				data, _ = (&cardsv1.Move{Action: &cardsv1.Move_Draw{Draw: &cardsv1.Draw{}}}).MarshalVT()
				script = script[1:]
			case 1:
				play := &cardsv1.Play{CardId: uint32(arg(1)) % 60, Suit: cardsv1.Suit(arg(2) % 6)}
				data, _ = (&cardsv1.Move{Action: &cardsv1.Move_Play{Play: play}}).MarshalVT()
				script = script[min(3, len(script)):]
			case 2:
				k := min(int(arg(1))%8, max(len(script)-2, 0))
				data = slices.Clone(script[min(2, len(script)) : min(2, len(script))+k])
				script = script[min(2+k, len(script)):]
			case 3:
				script = script[1:]
				if gone[p.Seat] {
					continue
				}
				gone[p.Seat] = true
				if table.Turn != 0 {
					lost += before.count[p.Seat]
				}
				if err := room.Leave(p.Seat); err != nil {
					t.Fatal(err)
				}
				env.Advance(t, 200*time.Millisecond)
				continue
			}
			if gone[p.Seat] {
				continue
			}
			var m cardsv1.Move
			switch {
			case m.UnmarshalVT(data) != nil || m.Action == nil:
				want = cardsv1.ErrorCode_ERROR_CODE_MALFORMED
			case room.Phase() != game.PhaseRunning || table.Turn != p.Seat:
				want = cardsv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN
			case m.GetPlay() != nil:
				pl := m.GetPlay()
				c := cardOf(pl.CardId)
				switch {
				case !slices.Contains(before.hand, pl.CardId):
					want = cardsv1.ErrorCode_ERROR_CODE_NOT_IN_HAND
				case c.Rank == 8 && (pl.Suit < cardsv1.Suit_SUIT_CLUBS || pl.Suit > cardsv1.Suit_SUIT_SPADES):
					want = cardsv1.ErrorCode_ERROR_CODE_NAME_A_SUIT
				case c.Rank != 8 && c.Suit != table.Suit && c.Rank != table.Top.GetRank():
					want = cardsv1.ErrorCode_ERROR_CODE_DOES_NOT_FOLLOW
				}
			}
			globals := string(p.Globals())
			p.Send(t, data)
			env.Advance(t, 200*time.Millisecond)
			msgs := p.TakeMessages()
			if want != cardsv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				if len(msgs) != 1 || msgs[0].Code != uint32(want) {
					t.Fatalf("move %x by seat %d on %v: messages %v, want code %v", data, p.Seat, &table, msgs, want)
				}
				if string(p.Globals()) != globals || !slices.Equal(viewOf(t, mustEnts(p.Client)).hand, before.hand) {
					t.Fatalf("refused move %x changed the table", data)
				}
			} else if len(msgs) != 0 {
				t.Fatalf("legal move %x by seat %d on %v refused: %v", data, p.Seat, &table, msgs)
			} else if m.GetPlay() != nil {
				lost++ // the card it covers leaves the game
			}
			if len(env.Results()) > 0 {
				break
			}
			// Every card is somewhere, and in one view at most.
			var tb cardsv1.Table
			p.DecodeGlobals(t, &tb)
			total, held := tb.Deck+1+lost, map[uint32]bool{}
			for _, q := range ps {
				if err := q.Err(); err != nil {
					t.Fatal(err)
				}
				if gone[q.Seat] {
					continue
				}
				v := viewOf(t, mustEnts(q.Client))
				if uint32(len(v.hand)) != v.count[q.Seat] {
					t.Fatalf("seat %d holds %d cards, its seat says %d", q.Seat, len(v.hand), v.count[q.Seat])
				}
				total += v.count[q.Seat]
				for _, c := range v.hand {
					if held[c] || c == cardIDOf(tb.Top) {
						t.Fatalf("card %d is in two places", c)
					}
					held[c] = true
				}
			}
			if total != 52 {
				t.Fatalf("%d cards on the table, not 52 (deck %d, lost %d)", total, tb.Deck, lost)
			}
		}
	})
}

// cardIDOf is cardOf's inverse.
func cardIDOf(c *cardsv1.Card) uint32 {
	return (uint32(c.GetSuit())-1)*13 + c.GetRank()
}

// FuzzOptions: "seats" is taken exactly when it is a whole number 2..4
// within the room's player seats, "turn_seconds" when it is 5..300, and
// the table then waits for that many players and gives that long a turn.
func FuzzOptions(f *testing.F) {
	for _, v := range []string{"2", "4", "1", "5", "-3", "+3", "3 ", "", "0x3"} {
		f.Add(v, true, "30", true, 4)
	}
	for _, v := range []string{"5", "300", "4", "301", "1e2", "-0"} {
		f.Add("2", false, v, true, 2)
	}
	f.Add("4", true, "", false, 3)
	f.Fuzz(func(t *testing.T, seats string, setSeats bool, turn string, setTurn bool, maxPlayers int) {
		opts := map[string]string{}
		if setSeats {
			opts["seats"] = seats
		}
		if setTurn {
			opts["turn_seconds"] = turn
		}
		g, err := newEights(game.Setup{Options: opts, MaxPlayers: maxPlayers, TickRate: 10})
		wantSeats, wantTurn := 2, 30
		good := true
		if setSeats {
			n, err := strconv.Atoi(seats)
			good = good && err == nil && n >= 2 && n <= 4
			wantSeats = n
		}
		good = good && wantSeats <= maxPlayers
		if setTurn {
			n, err := strconv.Atoi(turn)
			good = good && err == nil && n >= 5 && n <= 300
			wantTurn = n
		}
		if (err == nil) != good {
			t.Fatalf("seats %q (%v), turn_seconds %q (%v), %d player seats: err %v", seats, setSeats, turn, setTurn, maxPlayers, err)
		}
		if err != nil {
			return
		}
		if e := g.(*eights); e.seats != wantSeats || e.turnTime != time.Duration(wantTurn)*time.Second {
			t.Fatalf("options %v: %d seats, %v a turn", opts, e.seats, e.turnTime)
		}
	})
}
