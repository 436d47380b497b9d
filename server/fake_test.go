package server

import (
	"context"
	"sync"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
)

// fakeGnetConn stands in for a gnet connection in tests that drive the
// parser and write path without sockets. Only the methods the transport
// calls outside OnOpen are implemented; the rest panic through the nil
// embedded interface.
type fakeGnetConn struct {
	gnet.Conn
	out      []byte
	keep     bool // keep written bytes in out
	writes   int
	buffered int // what OutboundBuffered reports: gnet holding bytes the kernel refused
}

func (f *fakeGnetConn) Write(b []byte) (int, error) {
	f.writes++
	if f.keep {
		f.out = append(f.out, b...)
	}
	return len(b), nil
}

func (f *fakeGnetConn) Writev(bs [][]byte) (int, error) {
	f.writes++
	n := 0
	for _, b := range bs {
		n += len(b)
		if f.keep {
			f.out = append(f.out, b...)
		}
	}
	return n, nil
}

func (f *fakeGnetConn) OutboundBuffered() int { return f.buffered }
func (f *fakeGnetConn) Fd() int               { return -1 }

// fakeLoop stands in for a gnet event loop: Execute queues tasks that the
// test runs with runTasks, as the loop would on its next turn.
type fakeLoop struct {
	gnet.EventLoop
	mu     sync.Mutex // Execute may come from a carry timer (carryDue)
	tasks  []gnet.Runnable
	closed int
}

func (l *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error {
	l.mu.Lock()
	l.tasks = append(l.tasks, r)
	l.mu.Unlock()
	return nil
}

func (l *fakeLoop) Close(gnet.Conn) error { l.closed++; return nil }

func (l *fakeLoop) runTasks() {
	for i := 0; ; i++ {
		l.mu.Lock()
		if i >= len(l.tasks) {
			l.tasks = l.tasks[:0]
			l.mu.Unlock()
			return
		}
		r := l.tasks[i]
		l.tasks[i] = nil
		l.mu.Unlock()
		_ = r.Run(context.Background())
	}
}

// newFakeConn returns an upgraded connection on a fake loop, served by h.
func newFakeConn(s *Server, fl *fakeLoop, l *loop, h Handler) (*Conn, *fakeGnetConn) {
	gc := &fakeGnetConn{}
	c := &Conn{id: s.nextID.Add(1), srv: s, loop: l, gc: gc, handler: h, state: stateOpen, accepted: true, listIndex: -1}
	l.add(c)
	return c, gc
}

// newFakeServer returns a server that is never started, and a fake loop.
func newFakeServer(cfg Config) (*Server, *fakeLoop, *loop) {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	fl := &fakeLoop{}
	return s, fl, newLoop(s, fl)
}

// msgLog is a Handler that records messages for the fuzz test.
type msgLog struct {
	BaseHandler
	msgs []loggedMsg
}

type loggedMsg struct {
	op   ws.OpCode
	data string
}

func (m *msgLog) OnMessage(_ *Conn, op ws.OpCode, p []byte) {
	m.msgs = append(m.msgs, loggedMsg{op, string(p)})
}
