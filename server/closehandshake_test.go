package server

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
)

// closeOnMessage closes its connection with 4000 on every message.
type closeOnMessage struct{ BaseHandler }

func (closeOnMessage) OnMessage(c *Conn, _ ws.OpCode, _ []byte) {
	c.Close(4000, "closed by the handler")
}

// A peer's close frame read while the handler's own close was still queued
// crosses it: the handler's close frame answers the peer's, and the
// closing handshake is then complete on both sides, so the server closes
// the TCP connection (RFC 6455 §7.1.1) rather than wait CloseTimeout for
// a close frame that was already read.
func TestCloseCrossingTheHandlersClose(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute}, func(ts *testServer) { ts.Handle("/closer", closeOnMessage{}) })
	rc := dialWS(t, s, "/closer")
	// One write: the message and the close frame arrive in one read, so
	// the close frame is read before the handler's close goes out.
	rc.write(append(maskedFrame(0x81, []byte("close me")), maskedFrame(0x88, closePayload(1000, ""))...))
	h, p, err := rc.readData()
	if err != nil || h.OpCode != ws.OpClose || !bytes.Equal(p, closePayload(4000, "closed by the handler")) {
		t.Fatalf("read %v %q %v, want the handler's close frame", h.OpCode, p, err)
	}
	rc.expectEOF("after both close frames")
}

// A peer that closes while gnet still holds frames for it, a reader slower
// than the server writes, gets them whole and then the echo of its close:
// closing the socket at once left gnet's bytes unsent, the TCP connection
// ending mid-frame without an answer to the close (1006 in a browser).
func TestCloseBehindFramesGnetHolds(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	t.Run("close alone", func(t *testing.T) { closeBehindFramesGnetHolds(t, s, nil) })
	// What follows the close frame is not read: an unmasked frame there
	// would otherwise fail the connection, which then lingered until
	// CloseTimeout.
	t.Run("close and bytes after it", func(t *testing.T) {
		closeBehindFramesGnetHolds(t, s, frameWithLen(0x81, []byte("after"), 5, false))
	})
}

func closeBehindFramesGnetHolds(t *testing.T, s *testServer, after []byte) {
	rc := dialWS(t, s, "/echo")
	// 16 echoes of 60 KB: more than the kernel buffers of a reader that
	// has not read yet take, well within ReliableBudget (1 MiB).
	const n = 16
	msg := bytes.Repeat([]byte("e"), 60_000)
	var send []byte
	for range n {
		send = append(send, maskedFrame(0x82, msg)...)
	}
	in := s.Stats().FramesIn
	rc.write(send)
	// The close frame comes in a read of its own, once every message was
	// read and its echo queued.
	waitStats(t, s.Server, func(st Stats) bool { return st.FramesIn >= in+n })
	rc.write(append(maskedFrame(0x88, closePayload(1000, "")), after...))
	for i := range n {
		h, p, err := rc.readData()
		if err != nil || h.OpCode != ws.OpBinary || len(p) != len(msg) {
			t.Fatalf("echo %d of %d: %v, %d bytes, %v", i+1, n, h.OpCode, len(p), err)
		}
	}
	if code := rc.readClose(); code != 1000 {
		t.Fatalf("close code %d, want the echo of 1000", code)
	}
	rc.expectEOF("after the echo of the close")
}

// A peer the server fails (here for an unmasked frame) while gnet still
// holds frames for it, a reader slower than the server writes, gets the
// close frame behind them and then the server's FIN once gnet has written
// them (RFC 6455 §7.1.1: the server closes the TCP connection first), not
// at CloseTimeout: a client that waits for the server's FIN before it
// closes its side waited the whole CloseTimeout, then got a reset.
func TestFailBehindFramesGnetHolds(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	rc := dialWS(t, s, "/echo")
	// A reader with a small receive buffer that has not read yet: the
	// kernel takes a part of the echoes, gnet holds the rest of what it
	// was handed.
	_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	const n = 16
	msg := bytes.Repeat([]byte("e"), 60_000)
	var send []byte
	for range n {
		send = append(send, maskedFrame(0x82, msg)...)
	}
	in := s.Stats().FramesIn
	rc.write(send)
	waitStats(t, s.Server, func(st Stats) bool { return st.FramesIn >= in+n })
	rc.write(frameWithLen(0x81, []byte("unmasked"), 8, false))
	if code := rc.readClose(); code != ws.StatusProtocolError {
		t.Fatalf("close code %d, want 1002", code)
	}
	rc.expectEOF("after the close frame that failed the connection")
}

// A peer that is sending a large message when the server closes finishes
// it before it reads the close frame and answers; the rest of that
// message, up to MaxMessageSize, is read for it on top of maxDrain, so
// its close is read and the TCP connection ends cleanly. Past maxDrain,
// the server reset the connection under a peer still within its message.
func TestCloseWhileThePeerSendsALargeMessage(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute}) // MaxMessageSize 1 MiB, MaxFrameSize 64 KiB
	rc := dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	const fragments, size = 16, 60 << 10
	fragment := func(i int) []byte { return messageFragment(i, fragments, size) }
	sendFirstQuarter(t, rc, fragments, size)
	c.Close(4000, "closing")
	// The peer sends the rest of its message (720 KiB), then reads the
	// close frame and answers it.
	var rest []byte
	for i := fragments / 4; i < fragments; i++ {
		rest = append(rest, fragment(i)...)
	}
	sendRestAndClose(t, s, rc, rest)
}

// messageFragment is fragment i of a binary message of n fragments of size
// bytes each, masked.
func messageFragment(i, n, size int) []byte {
	b0 := byte(ws.OpContinuation)
	if i == 0 {
		b0 = byte(ws.OpBinary)
	}
	if i == n-1 {
		b0 |= 0x80
	}
	return maskedFrame(b0, bytes.Repeat([]byte{byte(i)}, size))
}

// sendRestAndClose sends rest, what is left of the peer's message, and
// then the peer's answer to the server's close 4000: the peer reads the
// close frame, the TCP connection ends cleanly, and the handler's OnClose
// has 4000.
func sendRestAndClose(t testing.TB, s *testServer, rc *rawClient, rest []byte) {
	t.Helper()
	if _, err := rc.nc.Write(append(rest, maskedFrame(0x88, closePayload(4000, ""))...)); err != nil {
		t.Fatalf("sending the rest of the message and the close: %v", err)
	}
	if code := rc.readClose(); code != 4000 {
		t.Fatalf("close code %d, want 4000", code)
	}
	rc.expectEOF("after the closing handshake")
	if e := s.rec.waitClose(t); e.code != 4000 {
		t.Fatalf("OnClose %+v, want 4000", e)
	}
}

// sendFirstQuarter sends the first quarter of a message of n fragments of
// size bytes each, then a ping, and waits for its pong: the server has then
// read the fragments before it.
func sendFirstQuarter(t testing.TB, rc *rawClient, n, size int) {
	t.Helper()
	var first []byte
	for i := range n / 4 {
		first = append(first, messageFragment(i, n, size)...)
	}
	rc.write(append(first, maskedFrame(0x89, []byte("p"))...))
	for {
		h, _, err := rc.readFrame()
		if err != nil {
			t.Fatalf("waiting for the pong: %v", err)
		}
		if h.OpCode == ws.OpPong {
			return
		}
	}
}

// The same when the server closes while the first fragment of the
// message is still arriving: that frame has no FIN, so the rest of the
// message follows it, and is read as when a whole fragment had come.
// Before, only that frame was, and the server reset the connection under
// the later fragments.
func TestCloseWhileThePeerSendsTheFirstFragment(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute}) // MaxMessageSize 1 MiB, MaxFrameSize 64 KiB
	rc := dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	const fragments, size, sent = 16, 60 << 10, 30 << 10
	first := messageFragment(0, fragments, size)
	rc.write(first[:sent])
	// The server has read the first fragment's header and waits for the
	// rest of it.
	waitFor(t, func() bool { return onLoop(t, c, func() bool { return c.inNeed > 0 }) })
	c.Close(4000, "closing")
	rest := first[sent:]
	for i := 1; i < fragments; i++ {
		rest = append(rest, messageFragment(i, fragments, size)...)
	}
	sendRestAndClose(t, s, rc, rest)
}

// onLoop runs f on c's event loop, where its loop-only state may be read,
// and returns what it returned.
func onLoop(t testing.TB, c *Conn, f func() bool) bool {
	t.Helper()
	done := make(chan bool, 1)
	run := gnet.RunnableFunc(func(context.Context) error { done <- f(); return nil })
	if err := c.loop.el.Execute(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// A peer that breaks the closing handshake (a frame that fails the
// connection after our close frame) while it was sending a large message
// loses what was left for that message: past maxDrain more bytes, the
// server resets the connection, as it would any peer that keeps sending
// after a failure. And the socket goes at the close deadline our close
// frame started, not a fresh one from the failure.
func TestBreakingTheClosingHandshake(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute}) // MaxMessageSize 1 MiB, MaxFrameSize 64 KiB
	const fragments, size = 16, 60 << 10
	// closing opens a connection, sends the first quarter of a message,
	// and has the server close it: the peer has our close frame.
	closing := func() (*rawClient, *Conn) {
		rc := dialWS(t, s, "/rec")
		c := s.rec.waitOpened(t)
		sendFirstQuarter(t, rc, fragments, size)
		c.Close(4000, "closing")
		if code := rc.readClose(); code != 4000 {
			t.Fatalf("close code %d, want 4000", code)
		}
		return rc, c
	}
	unmasked := frameWithLen(0x82, []byte("unmasked"), 8, false)
	t.Run("what follows is bounded by maxDrain", func(t *testing.T) {
		rc, _ := closing()
		// 600 KiB after the failure: less than what was left of the
		// message (768 KiB), more than maxDrain.
		_, _ = rc.nc.Write(append(unmasked, make([]byte, 600<<10)...))
		if e := s.rec.waitClose(t); e.code != 4000 {
			t.Fatalf("OnClose %+v, want 4000", e)
		}
	})
	t.Run("the close deadline stands", func(t *testing.T) {
		rc, c := closing()
		deadline := func() (d int64) {
			onLoop(t, c, func() bool { d = c.deadline; return true })
			return d
		}
		before := deadline()
		rc.write(unmasked)
		waitFor(t, func() bool { return onLoop(t, c, func() bool { return c.state == stateRefused }) })
		if after := deadline(); after != before {
			t.Fatalf("the failure moved the close deadline %v later", time.Duration(after-before))
		}
	})
}
