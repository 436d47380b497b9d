// Package frame provides Frame, a pooled, reference-counted outbound message
// that is encoded once and written to many connections.
//
// A Frame holds a payload with Headroom bytes free in front of it, so the
// transport can put its own header (a WebSocket frame header is at most 10
// bytes from a server) directly before the payload and write header and
// payload as one contiguous slice, with no copy.
//
// Ownership: New returns a Frame with one reference, held by the caller.
// Every holder that keeps the frame beyond a call takes its own reference
// with Retain and gives it back with Release; the last Release returns the
// buffer to the pool. A Frame must not be written to after it is shared.
package frame

import (
	"sync"
	"sync/atomic"
	"time"
)

// Headroom is the number of bytes kept free in front of every payload.
const Headroom = 14

// maxPooled is the largest buffer capacity the pool keeps; larger buffers
// are left to the garbage collector so one huge message does not pin memory.
const maxPooled = 64 << 10

// Frame is an encoded outbound message. See the package documentation for
// the ownership rules. Its methods that change it (all but Retain,
// Release and the readers: Payload, Wire, Refs, Made) must be called by
// the frame's single writer before it is shared.
type Frame struct {
	buf   []byte // buf[:Headroom] is headroom; buf[start:] is what goes on the wire
	start int    // index of the first wire byte; Headroom until a header is set
	made  int64  // when what it carries was made, a Stamp (SetMade); 0: not said
	refs  atomic.Int32
}

var pool = sync.Pool{New: func() any { return &Frame{buf: make([]byte, Headroom, 512)} }}

// New returns an empty frame with one reference and room for at least
// sizeHint payload bytes.
func New(sizeHint int) *Frame {
	f := pool.Get().(*Frame)
	if cap(f.buf) < Headroom+sizeHint {
		f.buf = make([]byte, Headroom, Headroom+sizeHint)
	}
	f.buf = f.buf[:Headroom]
	f.start = Headroom
	f.made = 0
	f.refs.Store(1)
	return f
}

// SetMade records when what the frame carries was made, as a Stamp (a
// room's frames: when the tick that made them began), so the transport can
// tell how long the frame waited to be written.
func (f *Frame) SetMade(stamp int64) { f.made = stamp }

// Made returns what SetMade recorded, or 0. Safe on a shared frame: the
// stamp is set before the frame is shared.
func (f *Frame) Made() int64 { return f.made }

// epoch is the origin of Stamp's clock.
var epoch = time.Now()

// Stamp returns t in nanoseconds since the package started, plus one, so
// that no stamp is 0 (SetMade's "not said"). When t carries a monotonic
// clock reading, as time.Now's do, so does the stamp: two such stamps
// subtract to the time between them whatever the wall clock did
// meanwhile. A t without one is read on the wall clock.
func Stamp(t time.Time) int64 { return int64(t.Sub(epoch)) + 1 }

// Payload returns the payload written so far. It aliases the frame's buffer.
func (f *Frame) Payload() []byte { return f.buf[Headroom:] }

// Append appends p to the payload.
func (f *Frame) Append(p ...byte) { f.buf = append(f.buf, p...) }

// AppendFunc lets an encoder append to the payload in place: fn receives the
// buffer (headroom included) and returns it extended.
func (f *Frame) AppendFunc(fn func(b []byte) []byte) { f.buf = fn(f.buf) }

// Buffer returns the whole buffer, headroom included, for encoders that
// append; SetBuffer stores the extended slice back.
func (f *Frame) Buffer() []byte { return f.buf }

// SetBuffer replaces the buffer with b, which must keep the Headroom prefix
// of the slice returned by Buffer.
func (f *Frame) SetBuffer(b []byte) { f.buf = b }

// SetHeader puts hdr in the headroom directly before the payload, so Wire
// returns header and payload together. hdr must be at most Headroom bytes.
// Setting it again replaces the previous header.
func (f *Frame) SetHeader(hdr []byte) {
	if len(hdr) > Headroom {
		panic("frame: header longer than headroom")
	}
	f.start = Headroom - len(hdr)
	copy(f.buf[f.start:Headroom], hdr)
}

// HeaderRoom returns the headroom slice of length n that ends where the
// payload starts, for a transport that encodes its header in place, and
// marks it as the frame's header.
func (f *Frame) HeaderRoom(n int) []byte {
	if n > Headroom {
		panic("frame: header longer than headroom")
	}
	f.start = Headroom - n
	return f.buf[f.start:Headroom]
}

// Wire returns the header (if set) and payload as one slice.
func (f *Frame) Wire() []byte { return f.buf[f.start:] }

// Retain adds a reference. Safe from any goroutine.
func (f *Frame) Retain() { f.refs.Add(1) }

// Release drops a reference; the last one returns the frame to the pool.
// Safe from any goroutine. The frame must not be used after its holder
// released it.
func (f *Frame) Release() {
	switch n := f.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("frame: Release of a frame with no references")
	}
	if cap(f.buf) > maxPooled {
		f.buf = make([]byte, Headroom, 512)
	}
	pool.Put(f)
}

// Refs reports the current number of references, for tests and assertions.
func (f *Frame) Refs() int32 { return f.refs.Load() }
