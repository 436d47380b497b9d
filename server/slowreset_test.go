package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestSlowClientLearnsOfTheClose checks that a connection dropped for not
// reading is reset: once the client reads again it gets an error promptly,
// not megabytes of backlog behind a closed window.
func TestSlowClientLearnsOfTheClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"over the budget past the deadline", Config{ReliableBudget: 64 << 10, HardCap: 1 << 30, SlowDeadline: 50 * time.Millisecond, SweepInterval: 20 * time.Millisecond, SlowCloseCode: 4008}},
		{"over the hard cap", Config{ReliableBudget: 64 << 10, HardCap: 64 << 10, SlowDeadline: time.Hour, SlowCloseCode: 4008}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.cfg)
			rc := dialWS(t, s, "/rec")
			_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
			c := s.rec.waitOpened(t)
			payload := make([]byte, 16<<10)
			for i := 0; i < 100000; i++ {
				if err := c.Send(ws.OpBinary, payload); errors.Is(err, ErrConnClosed) {
					break
				}
				if i%64 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if e := s.rec.waitClose(t); e.code != 4008 {
				t.Fatalf("closed with %d, want 4008", e.code)
			}
			_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 64<<10)
			n := 0
			for {
				m, err := rc.br.Read(buf)
				n += m
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("still connected after reading %d bytes", n)
					}
					break
				}
			}
		})
	}
}
