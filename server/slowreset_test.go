package server

import (
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestSlowClientGetsItsCloseFrame checks that a connection closed for not
// reading gets its typed close frame behind what was already handed to
// gnet, once it reads again, and that the close is counted once with its
// reason.
func TestSlowClientGetsItsCloseFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		why  CloseReason
	}{
		{"over the budget past the deadline", Config{ReliableBudget: 64 << 10, HardCap: 1 << 30, SlowDeadline: 50 * time.Millisecond, SweepInterval: 20 * time.Millisecond}, ReasonSlowDeadline},
		{"over the hard cap", Config{ReliableBudget: 64 << 10, MaxFrameSize: 16 << 10, MaxMessageSize: 16 << 10, SlowDeadline: time.Hour}, ReasonSlowBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.SlowCloseCode, tc.cfg.CloseTimeout = 4008, 20*time.Second
			s := startServer(t, tc.cfg)
			rc := dialWS(t, s, "/rec")
			c := s.rec.waitOpened(t)
			payload := make([]byte, 16<<10)
			sent := 0
			for i := 0; i < 100000; i++ {
				if err := c.Send(ws.OpBinary, payload); errors.Is(err, ErrConnClosed) {
					break
				}
				sent++
				if i%64 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			// The server has decided; the client reads again.
			_ = rc.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
			frames := 0
			for {
				h, p, err := rc.readFrame()
				if err != nil {
					t.Fatalf("after %d of %d frames: %v, want a close frame", frames, sent, err)
				}
				if h.OpCode == ws.OpClose {
					if code := ws.StatusCode(uint16(p[0])<<8 | uint16(p[1])); code != 4008 {
						t.Fatalf("close frame code %d, want 4008", code)
					}
					break
				}
				frames++
			}
			rc.nc.Close()
			if e := s.rec.waitClose(t); e.code != 4008 {
				t.Fatalf("closed with %d, want 4008", e.code)
			}
			st := waitStats(t, s.Server, func(st Stats) bool { return st.Open == 0 })
			if st.ClosedFor[tc.why] != 1 || st.Closed[4008] != 1 {
				t.Fatalf("closes by reason %v by code %v, want one %s with 4008", st.ClosedFor, st.Closed, tc.why)
			}
		})
	}
}
