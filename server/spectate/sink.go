package spectate

import (
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// maxPendingEvents caps the room events (joins, leaves, phase changes) a
// stream holds between two writes; more are dropped and counted
// (Feeds.Dropped, tickroom_spectator_room_events_dropped_total). State
// is latest-wins and never queues, and a resume base is never dropped.
const maxPendingEvents = 32

// stateTag is the first byte of a frame whose tickroom.v1.ServerMessage
// holds a State, as the room encodes one: the tag of its state field.
var stateTag = byte(protowire.EncodeTag(
	(*tickroomv1.ServerMessage)(nil).ProtoReflect().Descriptor().Fields().ByName("state").Number(),
	protowire.BytesType))

// isState reports whether the frame payload p holds a State.
func isState(p []byte) bool { return len(p) > 0 && p[0] == stateTag }

// sink is one stream's seat in its room: the room's tick worker hands it
// frames (TakeFrame) and the stream's goroutine takes them (take). It
// never blocks the tick: while a state frame waits to be written, Congested
// reports true, so the runtime skips the stream and later sends one delta
// from the last state it took, which is the latest-wins catch-up every slow
// WebSocket client gets too.
type sink struct {
	ready chan struct{}  // signalled when there is something to take
	drops *atomic.Uint64 // the feeds' count of dropped room events

	mu    sync.Mutex
	state *frame.Frame
	// base is a State in a reliable frame: the only one a room sends an
	// observer is the resume base of a JSON stream
	// (game.ObserveRequest.ResumeBase), which the stream needs to decode
	// every delta after it. It is kept apart from the room events, never
	// dropped with their excess; a newer one replaces it.
	base     *frame.Frame
	events   []*frame.Frame
	dropped  int  // events dropped since the last take
	overrun  bool // a state frame came while one was pending
	removed  bool
	reason   game.RemoveReason
	finished bool // the stream is over; frames are refused
}

var _ hub.FrameSink = (*sink)(nil)

func newSink(drops *atomic.Uint64) *sink {
	return &sink{ready: make(chan struct{}, 1), drops: drops}
}

// Congested implements game.Client: true while a state frame waits.
func (s *sink) Congested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != nil || s.finished
}

// TakeFrame implements hub.FrameSink. Tick worker; never blocks.
func (s *sink) TakeFrame(f *frame.Frame, reliable bool) {
	s.mu.Lock()
	switch {
	case s.finished:
	case !reliable && s.state != nil:
		// Cannot happen while the runtime honours Congested; if it does,
		// the stream ends and the client resumes from its last event.
		s.overrun = true
	case !reliable:
		f.Retain()
		s.state = f
	case isState(f.Payload()):
		f.Retain()
		releaseFrame(&s.base)
		s.base = f
	case len(s.events) < maxPendingEvents:
		f.Retain()
		s.events = append(s.events, f)
	default:
		s.dropped++
		s.drops.Add(1)
	}
	s.mu.Unlock()
	s.signal()
}

// Removed implements hub.FrameSink: the seat is gone.
func (s *sink) Removed(reason game.RemoveReason) {
	s.mu.Lock()
	s.removed, s.reason = true, reason
	s.mu.Unlock()
	s.signal()
}

func (s *sink) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// batch is what a stream writes in one go.
type batch struct {
	base    *frame.Frame   // a resume base, first (sink.base)
	events  []*frame.Frame // then room events, in order
	state   *frame.Frame
	dropped int
	overrun bool
	removed bool
	reason  game.RemoveReason
}

// take moves everything pending into b; the caller releases the frames.
func (s *sink) take(b *batch) {
	s.mu.Lock()
	b.events = append(b.events[:0], s.events...)
	clear(s.events)
	s.events = s.events[:0]
	b.base, s.base = s.base, nil
	b.state, s.state = s.state, nil
	b.dropped, s.dropped = s.dropped, 0
	b.overrun, b.removed, b.reason = s.overrun, s.removed, s.reason
	s.mu.Unlock()
}

// finish refuses further frames and releases what is pending.
func (s *sink) finish() {
	s.mu.Lock()
	s.finished = true
	releaseFrame(&s.state)
	releaseFrame(&s.base)
	for _, f := range s.events {
		f.Release()
	}
	s.events = nil
	s.mu.Unlock()
}

// release gives back b's frames.
func (b *batch) release() {
	for i, f := range b.events {
		f.Release()
		b.events[i] = nil
	}
	b.events = b.events[:0]
	releaseFrame(&b.state)
	releaseFrame(&b.base)
}

// releaseFrame releases *f, if any, and clears it.
func releaseFrame(f **frame.Frame) {
	if *f != nil {
		(*f).Release()
		*f = nil
	}
}
