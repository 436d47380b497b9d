package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tickroom/tickroom/examples/cards/cardsv1"
	"github.com/tickroom/tickroom/game"
)

const (
	handSize = 5
	seatBase = 100 // entity id of seat s is seatBase + s
)

// Definition registers crazy eights. Room options: "seats", the players
// the table waits for before the deal (2..4, default 2), and
// "turn_seconds", how long a player may think before drawing
// automatically (5..300, default 30). A room with fewer player seats
// than "seats" is refused: its table would never deal.
//
// MinPlayers equals MaxPlayers so the runtime never starts a table by
// itself: the game deals and calls Context.Start once "seats" players sat
// down, and closes its seats (Context.CloseSeats): the next players
// quick-match to a table of their own.
//
// Its Schema lets the monitor's inspector show a table as fields, every
// hand included: the admin API sees what Encode wrote, not a player's view.
func Definition() game.Definition {
	return game.Definition{
		Name: "eights", TickRate: 10, MaxPlayers: 4, MinPlayers: 4, MaxSpectators: 8, InputRate: 10, New: newEights,
		Schema: game.Schema{Globals: (*cardsv1.Table)(nil).ProtoReflect().Type(), Entity: entityType},
	}
}

// entityType is the message type of entity id: a seat above seatBase, a
// card (ids 1..52) below.
func entityType(id uint64) protoreflect.MessageType {
	if id > seatBase {
		return (*cardsv1.Seat)(nil).ProtoReflect().Type()
	}
	return (*cardsv1.Card)(nil).ProtoReflect().Type()
}

// eights is one table. The runtime calls it only on the room's tick
// worker, one call at a time.
type eights struct {
	rng      *rand.Rand
	seats    int
	turnTime time.Duration

	players  []*hand // in seat order, those at the table
	deck     []uint32
	top      uint32
	suit     cardsv1.Suit
	turn     uint32
	deadline uint64
	passes   int
	dealt    bool
}

type hand struct {
	seat  uint32
	name  string
	cards []uint32 // card ids, sorted
	gone  bool     // left during the match
}

func newEights(s game.Setup) (game.Game, error) {
	g := &eights{rng: rand.New(rand.NewPCG(s.Seed, 0xc0ffee)), seats: 2, turnTime: 30 * time.Second}
	if v, ok := s.Options["seats"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 4 {
			return nil, fmt.Errorf("seats %q is not 2..4", v)
		}
		g.seats = n
	}
	if g.seats > s.MaxPlayers {
		// The table would wait for players who have no seat to sit in.
		return nil, fmt.Errorf("seats %d is more than the room's %d player seats", g.seats, s.MaxPlayers)
	}
	if v, ok := s.Options["turn_seconds"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 300 {
			return nil, fmt.Errorf("turn_seconds %q is not 5..300", v)
		}
		g.turnTime = time.Duration(n) * time.Second
	}
	return g, nil
}

// cardOf returns the suit and rank of card id 1..52.
func cardOf(id uint32) *cardsv1.Card {
	return &cardsv1.Card{Suit: cardsv1.Suit((id-1)/13 + 1), Rank: (id-1)%13 + 1}
}

func (g *eights) Accept(ctx *game.Context, p game.Player) error {
	if !p.Spectator && (g.dealt || len(g.players) >= g.seats) {
		return game.Refuse("the table is full; watch instead")
	}
	return nil
}

func (g *eights) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if p.Spectator {
		return
	}
	switch kind {
	case game.NoticeJoined:
		g.players = append(g.players, &hand{seat: p.Seat, name: p.Name})
		if len(g.players) == g.seats {
			g.deal(ctx)
		}
	case game.NoticeLeft:
		h := g.hand(p.Seat)
		if h == nil {
			return
		}
		if !g.dealt {
			g.players = slices.DeleteFunc(g.players, func(x *hand) bool { return x == h })
			return
		}
		// The leaver's cards leave the game with them.
		h.gone, h.cards = true, nil
		if left := g.inPlay(); len(left) == 1 {
			g.end(ctx, []uint32{left[0].seat}, "last_at_table")
		} else if g.turn == h.seat {
			g.next(ctx)
		}
	}
}

// deal shuffles with the room's seeded source (a replay with the same seed
// deals the same hands), gives each player handSize cards and turns up the
// first card that is not an eight.
func (g *eights) deal(ctx *game.Context) {
	g.deck = make([]uint32, 52)
	for i := range g.deck {
		g.deck[i] = uint32(i + 1)
	}
	g.rng.Shuffle(len(g.deck), func(i, j int) { g.deck[i], g.deck[j] = g.deck[j], g.deck[i] })
	for _, h := range g.players {
		h.cards = append(h.cards, g.deck[:handSize]...)
		g.deck = g.deck[handSize:]
		slices.Sort(h.cards)
	}
	i := slices.IndexFunc(g.deck, func(c uint32) bool { return cardOf(c).Rank != 8 })
	g.top = g.deck[i]
	g.deck = slices.Delete(g.deck, i, i+1)
	g.suit = cardOf(g.top).Suit
	g.dealt = true
	g.turn = g.players[0].seat
	g.deadline = ctx.Tick() + g.ticks(ctx)
	ctx.Start()
	ctx.CloseSeats() // the next players quick-match to a table of their own; spectators still come
}

func (g *eights) ticks(ctx *game.Context) uint64 {
	return uint64(g.turnTime.Seconds() * float64(ctx.TickRate()))
}

func (g *eights) hand(seat uint32) *hand {
	for _, h := range g.players {
		if h.seat == seat {
			return h
		}
	}
	return nil
}

func (g *eights) inPlay() []*hand {
	var out []*hand
	for _, h := range g.players {
		if !h.gone {
			out = append(out, h)
		}
	}
	return out
}

func refuse(code cardsv1.ErrorCode, text string) error {
	return &game.InputError{Code: uint32(code), Text: text}
}

func (g *eights) Input(ctx *game.Context, seat uint32, data []byte) error {
	var m cardsv1.Move
	if err := m.UnmarshalVT(data); err != nil || m.Action == nil {
		return refuse(cardsv1.ErrorCode_ERROR_CODE_MALFORMED, "not a cards.v1.Move")
	}
	if ctx.Phase() != game.PhaseRunning || seat != g.turn {
		return refuse(cardsv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN, "it is not your turn")
	}
	h := g.hand(seat)
	if d := m.GetDraw(); d != nil {
		g.draw(ctx, h)
		return nil
	}
	p := m.GetPlay()
	i := slices.Index(h.cards, p.CardId)
	if i < 0 {
		return refuse(cardsv1.ErrorCode_ERROR_CODE_NOT_IN_HAND, "that card is not in your hand")
	}
	c := cardOf(p.CardId)
	switch {
	case c.Rank == 8:
		if p.Suit < cardsv1.Suit_SUIT_CLUBS || p.Suit > cardsv1.Suit_SUIT_SPADES {
			return refuse(cardsv1.ErrorCode_ERROR_CODE_NAME_A_SUIT, "an eight names the suit to follow")
		}
		g.suit = p.Suit
	case c.Suit == g.suit || c.Rank == cardOf(g.top).Rank:
		g.suit = c.Suit
	default:
		return refuse(cardsv1.ErrorCode_ERROR_CODE_DOES_NOT_FOLLOW, "play the suit to follow, the same rank, or an eight")
	}
	h.cards = slices.Delete(h.cards, i, i+1)
	g.top = p.CardId
	g.passes = 0
	if len(h.cards) == 0 {
		g.end(ctx, []uint32{seat}, "out")
		return nil
	}
	g.next(ctx)
	return nil
}

// draw gives h the deck's top card and ends the turn; with the deck empty
// it passes, and when every player passed in a row the fewest cards win.
func (g *eights) draw(ctx *game.Context, h *hand) {
	if len(g.deck) > 0 {
		h.cards = append(h.cards, g.deck[0])
		g.deck = g.deck[1:]
		slices.Sort(h.cards)
	} else if g.passes++; g.passes >= len(g.inPlay()) {
		g.end(ctx, g.fewest(), "blocked")
		return
	}
	g.next(ctx)
}

func (g *eights) fewest() []uint32 {
	best := 53
	var out []uint32
	for _, h := range g.inPlay() {
		switch n := len(h.cards); {
		case n < best:
			best, out = n, []uint32{h.seat}
		case n == best:
			out = append(out, h.seat)
		}
	}
	return out
}

// next passes the turn to the next player still at the table.
func (g *eights) next(ctx *game.Context) {
	i := slices.IndexFunc(g.players, func(h *hand) bool { return h.seat == g.turn })
	for range g.players {
		i = (i + 1) % len(g.players)
		if !g.players[i].gone {
			break
		}
	}
	g.turn = g.players[i].seat
	g.deadline = ctx.Tick() + g.ticks(ctx)
}

// Update runs the turn clock: a player who does not move in time draws.
func (g *eights) Update(ctx *game.Context, _ time.Duration) {
	if g.turn != 0 && ctx.Tick() >= g.deadline {
		ctx.Send(g.turn, game.Message{Text: "time is up: you drew a card"})
		g.draw(ctx, g.hand(g.turn))
	}
}

func (g *eights) end(ctx *game.Context, winners []uint32, reason string) {
	res := cardsv1.Result{CardsLeft: make([]uint32, 4)}
	for _, h := range g.players {
		res.CardsLeft[h.seat-1] = uint32(len(h.cards))
	}
	data, _ := res.MarshalVT()
	g.turn = 0
	ctx.End(game.MatchResult{WinnerSeats: winners, Reason: reason, Data: data})
}

// Encode writes the whole table, every hand included; nobody receives it
// as it is: View picks what each member may see.
func (g *eights) Encode(s *game.Snapshot) {
	for _, h := range g.players {
		s.Entity(seatBase+uint64(h.seat), &cardsv1.Seat{Seat: h.seat, Name: h.name, Cards: uint32(len(h.cards))})
		for _, c := range h.cards {
			s.Entity(uint64(c), cardOf(c))
		}
	}
	t := &cardsv1.Table{Suit: g.suit, Turn: g.turn, Deck: uint32(len(g.deck)), TurnDeadlineTick: g.deadline, Seats: uint32(g.seats)}
	if g.top != 0 {
		t.Top = cardOf(g.top)
	}
	s.Globals(t)
}

// View gives member p the seats, the table and its own hand: the cards of
// other hands never leave the server.
func (g *eights) View(_ *game.Context, p game.Player, v *game.Snapshot) {
	for _, h := range g.players {
		v.Share(seatBase + uint64(h.seat))
		if h.seat == p.Seat && !p.Spectator {
			for _, c := range h.cards {
				v.Share(uint64(c))
			}
		}
	}
}

var _ game.Viewer = (*eights)(nil)
