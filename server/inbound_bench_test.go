package server

import (
	"bytes"
	"fmt"
	"testing"
)

// inboundConn is a fakeGnetConn with gnet's read-side buffering: each read
// hands OnTraffic the new bytes, what OnTraffic leaves undiscarded is kept
// in the connection's inbound buffer, and Peek of more than the new bytes
// copies the inbound buffer and the new bytes into one fresh slice, as
// gnet v2's conn.Peek does.
type inboundConn struct {
	fakeGnetConn
	ctx    any
	in     []byte // gnet's inbound buffer: bytes left from earlier reads
	fresh  []byte // this read's bytes (gnet's loop buffer)
	copied int    // bytes Peek copied
}

func (f *inboundConn) Context() any          { return f.ctx }
func (f *inboundConn) InboundBuffered() int  { return len(f.in) + len(f.fresh) }
func (f *inboundConn) SetContext(ctx any)    { f.ctx = ctx }
func (f *inboundConn) OutboundBuffered() int { return 0 }

func (f *inboundConn) Peek(n int) ([]byte, error) {
	if len(f.in) == 0 {
		return f.fresh, nil
	}
	b := make([]byte, 0, len(f.in)+len(f.fresh))
	b = append(append(b, f.in...), f.fresh...)
	f.copied += len(b)
	return b, nil
}

func (f *inboundConn) Discard(n int) (int, error) {
	if k := min(n, len(f.in)); k > 0 {
		f.in = f.in[k:]
		n -= k
	}
	f.fresh = f.fresh[min(n, len(f.fresh)):]
	return n, nil
}

// read delivers p as one read: OnTraffic, then gnet keeps what is left.
func (f *inboundConn) read(e *engine, p []byte) {
	f.fresh = p
	e.OnTraffic(f)
	f.in = append(f.in, f.fresh...)
	f.fresh = nil
	if len(f.in) == 0 {
		f.in = f.in[:0:0] // gnet's buffer is reset once emptied
	}
}

// BenchmarkReceiveLargeMessage measures receiving one binary message of
// the maximum size that arrives in many small reads, the way a large
// message reaches the loop from a slow or distant client. Each read goes
// through OnTraffic and gnet's buffering (inboundConn); "copied" is how
// many bytes gnet's Peek copied per message.
func BenchmarkReceiveLargeMessage(b *testing.B) {
	for _, tc := range []struct{ size, read int }{
		{64 << 10, 1 << 10},
		{1 << 20, 4 << 10},
		{4 << 20, 16 << 10},
	} {
		b.Run(fmt.Sprintf("size=%dKiB/read=%dKiB", tc.size>>10, tc.read>>10), func(b *testing.B) {
			s, _, l := newFakeServer(Config{MaxFrameSize: tc.size, MaxMessageSize: tc.size, MessageRate: 1 << 20})
			e := &engine{s: s}
			c, _ := newFakeConn(s, nil, l, BaseHandler{})
			gc := &inboundConn{}
			c.gc, gc.ctx = gc, c
			msg := maskedFrame(0x82, bytes.Repeat([]byte{0xab}, tc.size))
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				for i := 0; i < len(msg); i += tc.read {
					gc.read(e, msg[i:min(i+tc.read, len(msg))])
				}
				if c.state != stateOpen || len(gc.in) != 0 {
					b.Fatalf("state %v, %d bytes left", c.state, len(gc.in))
				}
			}
			b.ReportMetric(float64(gc.copied)/float64(b.N), "copied-B/msg")
		})
	}
}
