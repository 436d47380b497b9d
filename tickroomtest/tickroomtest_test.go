package tickroomtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/tickroomtest"
)

// A match still running when a test ends is closed by Start's cleanup, and
// its result (Reason "closed") is queued for the store as the server shuts
// down: the cleanup gives Shutdown the time to write it, as a SIGTERM's
// does, where it shut down with the test's context, already cancelled
// when cleanups run, and closed the store with the result unwritten.
func TestCleanupWritesTheResultOfAMatchStillRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := tickroom.Options{Games: []game.Definition{gomoku.Definition()}, DataDir: dir}
	var ann string
	t.Run("play", func(t *testing.T) {
		srv := tickroomtest.Start(t, opts)
		a, b := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
		a.QuickMatch("gomoku", nil)
		b.QuickMatch("gomoku", nil)
		a.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
		})
		ann = a.UserID
	})
	srv := tickroomtest.Start(t, opts) // the same data directory
	hist, err := srv.Store().History(context.Background(), ann, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Outcome != "closed" || len(hist[0].Players) != 2 {
		t.Fatalf("ann's history after the test's cleanup: %+v, want the match closed by the shutdown", hist)
	}
}

// tally counts each player's inputs; its state is one entity a seat, the
// count as one byte.
type tally struct{ n map[uint32]byte }

func (g *tally) Accept(*game.Context, game.Player) error            { return nil }
func (g *tally) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *tally) Update(*game.Context, time.Duration)                {}
func (g *tally) Input(_ *game.Context, seat uint32, _ []byte) error { g.n[seat]++; return nil }
func (g *tally) Encode(s *game.Snapshot) {
	for seat, n := range g.n {
		s.EntityBytes(uint64(seat), []byte{n})
	}
}

// press is tally's input, count its entity, as generated code would
// encode and decode them.
type press struct{}

func (press) SizeVT() int                                  { return 0 }
func (press) MarshalToSizedBufferVT(b []byte) (int, error) { return 0, nil }

type count struct{ n byte }

func (c *count) UnmarshalVT(b []byte) error {
	if len(b) != 1 {
		return fmt.Errorf("count of %d bytes", len(b))
	}
	c.n = b[0]
	return nil
}

// A player that sends faster than its game's InputRate has the inputs
// past it dropped before the game sees them, and is told which: every
// input it sent is either counted by the game or in an InputDropped its
// Drops returns, over the rate, with the dropped seqs among those it sent
// after its one second's burst.
func TestPlayerSeesTheInputsDroppedOverItsRate(t *testing.T) {
	t.Parallel()
	def := game.Definition{Name: "tally", TickRate: 10, InputRate: 1, New: func(game.Setup) (game.Game, error) {
		return &tally{n: map[uint32]byte{}}, nil
	}}
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{def}})
	ann := tickroomtest.Join(t, srv, "ann")
	ann.QuickMatch("tally", nil)
	const sent = 20
	var last uint32
	for range sent {
		last = ann.Send(press{})
	}
	if last != sent {
		t.Fatalf("the last of %d inputs went with seq %d", sent, last)
	}
	dropped := func() (n uint32) {
		for _, d := range ann.Drops() {
			n += d.GetCount()
		}
		return n
	}
	var c count
	ann.WaitFor("every input counted or told dropped", func() bool {
		return ann.Entity(uint64(ann.Seat), &c) && uint32(c.n)+dropped() == sent
	})
	if dropped() == 0 {
		t.Fatalf("%d inputs at a rate of 1 a second: the game counted %d, none dropped", sent, c.n)
	}
	seen := map[uint32]bool{}
	for _, d := range ann.Drops() {
		if d.GetReason() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || d.GetRoomId() != ann.Room || len(d.GetRuns())%2 != 0 {
			t.Fatalf("notice %v", d)
		}
		for i := 0; i < len(d.GetRuns()); i += 2 {
			for seq := d.GetRuns()[i]; seq <= d.GetRuns()[i+1]; seq++ {
				// The first input spends the burst: it is never dropped.
				if seq < 2 || seq > sent || seen[seq] {
					t.Fatalf("seq %d told dropped (notices %v)", seq, ann.Drops())
				}
				seen[seq] = true
			}
		}
	}
	if len(seen) == 0 || uint32(len(seen)) > dropped() {
		t.Fatalf("%d seqs listed for %d dropped", len(seen), dropped())
	}
}
