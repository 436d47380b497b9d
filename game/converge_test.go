package game_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// bulk is a test game: n entities of two varint fields, inputs that
// move, add and remove entities and change the globals.
type bulk struct {
	mu      sync.Mutex
	ents    map[uint64][]byte
	globals []byte
	rng     *rand.Rand
	version uint64
}

var bulkGames sync.Map

func newBulk(s game.Setup) (game.Game, error) {
	n, _ := strconv.Atoi(s.Options["n"])
	g := &bulk{ents: map[uint64][]byte{}, rng: rand.New(rand.NewPCG(s.Seed, 1))}
	for i := range n {
		g.ents[uint64(i)] = []byte{0x08, byte(i % 100), 0x10, 0}
	}
	g.globals = []byte{0x08, 1}
	bulkGames.Store(s.RoomID, g)
	return g, nil
}

func (g *bulk) Accept(*game.Context, game.Player) error            { return nil }
func (g *bulk) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *bulk) Update(*game.Context, time.Duration)                {}
func (g *bulk) StateVersion() uint64                               { g.mu.Lock(); defer g.mu.Unlock(); return g.version }
func (g *bulk) Input(ctx *game.Context, seat uint32, b []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.version++
	switch string(b) {
	case "m":
		for range 1 + g.rng.IntN(5) {
			if len(g.ents) == 0 {
				break
			}
			id := uint64(g.rng.IntN(len(g.ents) + 10))
			if e, ok := g.ents[id]; ok && len(e) == 4 {
				e = append([]byte(nil), e...)
				e[3] = byte(g.rng.IntN(120))
				g.ents[id] = e
			}
		}
	case "a":
		id := uint64(1000 + g.rng.IntN(50))
		g.ents[id] = []byte{0x08, byte(g.rng.IntN(100))}
	case "r":
		delete(g.ents, uint64(g.rng.IntN(60)))
		delete(g.ents, uint64(1000+g.rng.IntN(50)))
	case "w": // a field list change: sent whole
		id := uint64(g.rng.IntN(20))
		if _, ok := g.ents[id]; ok {
			g.ents[id] = []byte{0x18, byte(g.rng.IntN(100))}
		}
	case "g":
		g.globals = []byte{0x08, byte(g.rng.IntN(120))}
	}
	return nil
}

func (g *bulk) Encode(s *game.Snapshot) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, b := range g.ents {
		s.EntityBytes(id, b)
	}
	s.GlobalsBytes(g.globals)
}

func (g *bulk) truth() map[uint64]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[uint64]string{}
	for id, b := range g.ents {
		out[id] = string(b)
	}
	return out
}

type bulkPlain struct{ bulk *bulk } // not Versioned

func (g bulkPlain) Accept(c *game.Context, p game.Player) error { return g.bulk.Accept(c, p) }
func (g bulkPlain) Notice(c *game.Context, k game.NoticeKind, p game.Player) {
	g.bulk.Notice(c, k, p)
}
func (g bulkPlain) Update(c *game.Context, d time.Duration)         { g.bulk.Update(c, d) }
func (g bulkPlain) Input(c *game.Context, s uint32, b []byte) error { return g.bulk.Input(c, s, b) }
func (g bulkPlain) Encode(s *game.Snapshot)                         { g.bulk.Encode(s) }

// TestShardRoomsConverge: rooms of different sizes on one shard (one
// pool), clients congested for a few or many ticks and resuming from old
// ticks, some ticks idle: every client that is not congested holds the
// room's state after every tick.
func TestShardRoomsConverge(t *testing.T) {
	for _, ring := range []int{3, 4, 16} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("ring%d/seed%d", ring, seed), func(t *testing.T) {
				defs := []game.Definition{
					{Name: "bulkv", TickRate: 20, MaxPlayers: 4, New: newBulk},
					{Name: "bulk", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
						g, err := newBulk(s)
						return bulkPlain{bulk: g.(*bulk)}, err
					}},
				}
				e := gametest.NewEnv(t, defs, func(c *game.Config) { c.ResumeTicks = ring; c.Shards = 1 })
				rng := rand.New(rand.NewPCG(seed, 99))
				type cl struct {
					c    *gametest.Client
					seat uint32
					user string
					seq  uint32
					cong bool
				}
				type rm struct {
					r  *game.Room
					g  *bulk
					cs []*cl
				}
				var rooms []*rm
				for i, n := range []int{3, 40, 40, 200, 7, 1000} {
					name := "bulk"
					if i%2 == 0 {
						name = "bulkv"
					}
					r, err := e.RT.CreateRoom(game.RoomOptions{Game: name, Options: map[string]string{"n": strconv.Itoa(n)}, Seed: seed*100 + uint64(i) + 1})
					if err != nil {
						t.Fatal(err)
					}
					g, _ := bulkGames.Load(r.ID())
					x := &rm{r: r, g: g.(*bulk)}
					for j := range 3 {
						c := &cl{c: gametest.NewClient(fmt.Sprintf("r%d-c%d", i, j)), user: fmt.Sprintf("u%d", j)}
						res := e.Join(t, r, game.JoinRequest{UserID: c.user, Client: c.c})
						if res.Err != nil {
							t.Fatal(res.Err)
						}
						c.seat = res.Seat
						x.cs = append(x.cs, c)
					}
					rooms = append(rooms, x)
				}
				inputs := []string{"m", "m", "m", "a", "r", "w", "g"}
				for step := range 400 {
					for _, x := range rooms {
						if rng.IntN(4) == 0 {
							continue // an idle tick: equal state, undone or unmoved
						}
						for _, c := range x.cs {
							switch k := rng.IntN(30); {
							case k == 0:
								c.cong = !c.cong
								c.c.SetCongested(c.cong)
							case k == 1 && step%3 == 0:
								_, tick := c.c.Entities()
								if err := x.r.Drop(c.seat, c.c); err == nil {
									e.Advance(t, 50*time.Millisecond)
									res := e.Join(t, x.r, game.JoinRequest{UserID: c.user, Client: c.c, ResumeTick: tick})
									if res.Err != nil || !res.Resumed {
										t.Fatalf("resume: %+v", res)
									}
								}
							case k < 12:
								c.seq++
								_ = x.r.Input(c.seat, c.seq, []byte(inputs[rng.IntN(len(inputs))]))
							}
						}
					}
					e.Advance(t, 50*time.Millisecond)
					for i, x := range rooms {
						truth := x.g.truth()
						for _, c := range x.cs {
							if err := c.c.Err(); err != nil {
								t.Fatalf("step %d room %d: %v", step, i, err)
							}
							if c.cong {
								continue
							}
							got, tick := c.c.Entities()
							if !maps.Equal(got, truth) {
								t.Fatalf("step %d room %d (%s) client %s at tick %d: %d entities, room %d; differ", step, i, x.r.ID(), c.user, tick, len(got), len(truth))
							}
						}
					}
				}
			})
		}
	}
}
