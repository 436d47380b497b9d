package server

import (
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestReadsGoOnWhileWritesFillTheLoop keeps more connections dirty than a
// round flushes (flushBatch), from a goroutine that queues a frame on each
// of them over and over without waiting, as rooms do for a loop past its
// core's limit. Meanwhile a client on the same loop echoes: its messages
// must be read and answered while the writer still runs, and a client that
// connects then must get its 101. A loop that flushed everything dirty
// before polling again hardly left its task loop: the late client's echo
// did not come within 10 s.
func TestReadsGoOnWhileWritesFillTheLoop(t *testing.T) {
	const readers = flushBatch + flushBatch/2
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 4*readers {
		t.Skipf("needs %d open files (both ends of each connection), the limit is %d", 4*readers, lim.Cur)
	}
	held := &holder{}
	s := startServer(t, Config{Loops: 1, MaxConns: 4 * readers, MaxConnsPerIP: 4 * readers, MaxHandshakesPerIP: 4 * readers},
		func(ts *testServer) { ts.Handle("/hold", held) })
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for range readers {
		rc := dialWS(t, s, "/hold")
		_ = rc.nc.SetDeadline(time.Time{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, rc.nc) // until the test closes it
		}()
	}
	conns := held.all()
	if len(conns) != readers {
		t.Fatalf("%d connections held, want %d", len(conns), readers)
	}
	echo := dialWS(t, s, "/echo")

	stop := make(chan struct{})
	stopped := make(chan struct{})
	payload := make([]byte, 32)
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range conns {
				_ = c.Send(ws.OpBinary, payload)
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-stopped
	}()
	// The writer has the loop busy once several rounds' worth went out.
	start := s.Stats().FramesOut
	waitFor(t, func() bool { return s.Stats().FramesOut > start+4*readers })

	for i := range 20 {
		msg := []byte{byte(i), 'x'}
		_ = echo.nc.SetDeadline(time.Now().Add(20 * time.Second))
		echo.write(maskedFrame(0x82, msg))
		h, p, err := echo.readData()
		if err != nil || h.OpCode != ws.OpBinary || string(p) != string(msg) {
			t.Fatalf("echo %d while the writer runs: op %v, %q, %v", i, h.OpCode, p, err)
		}
	}
	late := dialWS(t, s, "/echo") // checks the 101 within dialRaw's deadline
	late.write(maskedFrame(0x81, []byte("late")))
	if _, p, err := late.readData(); err != nil || string(p) != "late" {
		t.Fatalf("late client's echo: %q, %v", p, err)
	}
	if got := s.Stats().Carried; got == 0 {
		t.Fatalf("Stats.Carried = 0: no flush left connections for the next round")
	}
}

// holder is a Handler that keeps every connection it accepts.
type holder struct {
	BaseHandler
	mu    sync.Mutex
	conns []*Conn
}

func (h *holder) Accept(c *Conn, _ *Request) error {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	return nil
}

func (h *holder) all() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Conn(nil), h.conns...)
}
