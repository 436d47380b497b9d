package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
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
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := rc.br.ReadByte(); err == nil {
		t.Fatalf("byte %#x after the close frames", b)
	} else if !errors.Is(err, io.EOF) {
		t.Fatalf("after both close frames the server kept the TCP connection open: read %v, want EOF", err)
	}
}
