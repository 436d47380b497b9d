package server

import (
	"errors"
	"testing"

	"github.com/gobwas/ws"

	"github.com/tickroom/tickroom/internal/frame"
)

// Congested is what a room runtime asks before it sends a connection a
// state delta: it keeps the connection's base when the frame would be
// skipped, and a connection that was told "not congested" and then had
// its delta skipped holds a state that no later delta applies to until
// it reconnects. So Congested must be true whenever a Droppable frame
// would be skipped, when the process as a whole is over
// MaxOutboundBytes too, not only when the connection is over HighWater.
func TestCongestedWhenTheProcessIsOverItsBudget(t *testing.T) {
	const budget = 4 << 20
	s := startServer(t, Config{MaxOutboundBytes: budget, HardCap: budget})
	dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)

	send := func() error {
		f := frame.New(16)
		f.Append([]byte("state delta")...)
		PrepareFrame(f, ws.OpBinary)
		defer f.Release()
		return c.SendFrame(f, Droppable)
	}
	if c.Congested() {
		t.Fatal("an idle connection is congested")
	}
	if err := send(); err != nil {
		t.Fatalf("a droppable frame to an idle connection: %v", err)
	}

	// Other connections hold the process's whole budget (readers that are
	// behind, each under HighWater, so none is evicted); this one holds
	// nothing.
	s.held.Add(budget + 1)
	defer s.held.Add(-budget - 1)
	congested := c.Congested()
	err := send()
	if errors.Is(err, ErrDropped) && !congested {
		t.Fatal("a droppable frame was skipped while Congested reported false")
	}
	if !congested {
		t.Fatal("Congested is false while the process is over its outbound budget")
	}
}
