package game

import (
	"context"
	"slices"
)

// maxStateRequests caps the State calls waiting on one room; more are
// refused with ErrControlFull until the room's next tick answers them.
const maxStateRequests = 8

// RoomState is a copy of a room's state as its game encodes it: what a
// keyframe carries, for operators' tools. It owns its bytes.
type RoomState struct {
	// Tick is the tick whose state this is.
	Tick uint64
	// Globals is the game's globals, nil when it writes none.
	Globals []byte
	// Entities are the game's entities in ascending id order.
	Entities []EntityState
}

// EntityState is one entity of a RoomState.
type EntityState struct {
	ID   uint64
	Data []byte
}

// State returns a copy of the room's whole state at its next tick: the
// game's Encode, never a member's View, so hidden information shows too.
// It waits for that tick or for ctx to end. It returns ErrFinished for a
// room that is disposed, or is disposed before its next tick, and
// ErrControlFull while maxStateRequests calls already wait. The tick
// worker encodes once for all the calls waiting on a tick, into buffers of
// its own; the room's players see no difference. Safe from any goroutine.
func (r *Room) State(ctx context.Context) (RoomState, error) {
	ch := make(chan RoomState, 1)
	r.mu.Lock()
	if r.Phase() == PhaseDisposed {
		r.mu.Unlock()
		return RoomState{}, ErrFinished
	}
	if len(r.stateReqs) >= maxStateRequests {
		r.mu.Unlock()
		return RoomState{}, ErrControlFull
	}
	r.stateReqs = append(r.stateReqs, ch)
	r.rouse()
	r.mu.Unlock()
	select {
	case s, ok := <-ch:
		if !ok {
			return RoomState{}, ErrFinished
		}
		return s, nil
	case <-ctx.Done():
		return RoomState{}, ctx.Err()
	}
}

// answerState encodes the room's state once and sends a copy to each of
// reqs. Tick worker.
func (r *Room) answerState(reqs []chan RoomState) {
	w := &r.w
	s := &snap{}
	s.reset(w.tickNo)
	sw := &Snapshot{s: s}
	w.game.Encode(sw)
	if sw.err != nil {
		r.log.Error("encode state for an operator", "err", sw.err)
	}
	s.seal()
	for _, ch := range reqs {
		st := RoomState{Tick: s.tick, Globals: slices.Clone(s.globals), Entities: make([]EntityState, len(s.ents))}
		for i, e := range s.ents {
			st.Entities[i] = EntityState{ID: e.id, Data: slices.Clone(s.data(e))}
		}
		ch <- st // buffered, and each channel gets one value
	}
}

// refuseState tells each of reqs that the room is gone.
func refuseState(reqs []chan RoomState) {
	for _, ch := range reqs {
		close(ch)
	}
}
