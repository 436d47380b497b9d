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

// maxPendingStates is how many state frames a stream holds: the one the
// room sent while it was not congested, and the state of the tick that
// ended the match, which the room sends to a congested member too, before
// the result. A third ends the stream (overrun).
const maxPendingStates = 2

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
// WebSocket client gets too. States and room events are written in the
// order they came: the state of the tick that ended the match before the
// result.
type sink struct {
	ready chan struct{}  // signalled when there is something to take
	drops *atomic.Uint64 // the feeds' count of dropped room events

	mu sync.Mutex
	// frames are the room events and states to write, in the order they
	// came; events and states count them.
	frames []*frame.Frame
	events int
	states int
	// base is a State in a reliable frame: the only one a room sends an
	// observer is the resume base of a JSON stream
	// (game.ObserveRequest.ResumeBase), which the stream needs to decode
	// every delta after it. It is kept apart from the room events, never
	// dropped with their excess; a newer one replaces it.
	base     *frame.Frame
	dropped  int  // events dropped since the last take
	overrun  bool // a state frame came while maxPendingStates were pending
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
	return s.states > 0 || s.finished
}

// TakeFrame implements hub.FrameSink. Tick worker; never blocks.
func (s *sink) TakeFrame(f *frame.Frame, reliable bool) {
	s.mu.Lock()
	switch {
	case s.finished:
	case !reliable && s.states >= maxPendingStates:
		// Cannot happen while the runtime honours Congested (but for the
		// state of the tick that ended the match); if it does, the
		// stream ends and the client resumes from its last event.
		s.overrun = true
	case !reliable:
		f.Retain()
		s.frames = append(s.frames, f)
		s.states++
	case isState(f.Payload()):
		f.Retain()
		releaseFrame(&s.base)
		s.base = f
	case s.events < maxPendingEvents:
		f.Retain()
		s.frames = append(s.frames, f)
		s.events++
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
	frames  []*frame.Frame // then room events and states, in order
	dropped int
	overrun bool
	removed bool
	reason  game.RemoveReason
}

// take moves everything pending into b; the caller releases the frames.
func (s *sink) take(b *batch) {
	s.mu.Lock()
	b.frames = append(b.frames[:0], s.frames...)
	clear(s.frames)
	s.frames = s.frames[:0]
	s.events, s.states = 0, 0
	b.base, s.base = s.base, nil
	b.dropped, s.dropped = s.dropped, 0
	b.overrun, b.removed, b.reason = s.overrun, s.removed, s.reason
	s.mu.Unlock()
}

// finish refuses further frames and releases what is pending.
func (s *sink) finish() {
	s.mu.Lock()
	s.finished = true
	releaseFrame(&s.base)
	for _, f := range s.frames {
		f.Release()
	}
	s.frames = nil
	s.events, s.states = 0, 0
	s.mu.Unlock()
}

// release gives back b's frames.
func (b *batch) release() {
	for i, f := range b.frames {
		f.Release()
		b.frames[i] = nil
	}
	b.frames = b.frames[:0]
	releaseFrame(&b.base)
}

// releaseFrame releases *f, if any, and clears it.
func releaseFrame(f **frame.Frame) {
	if *f != nil {
		(*f).Release()
		*f = nil
	}
}
