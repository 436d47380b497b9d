package game

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
)

// entRef locates one entity's encoded bytes in a snap's buffer.
type entRef struct {
	id  uint64
	off uint32
	n   uint32
}

// snap is one tick's encoded entity set. Its buffers are reused from tick
// to tick, so building one allocates nothing in steady state.
type snap struct {
	tick    uint64
	valid   bool
	buf     []byte   // entity bytes, back to back
	ents    []entRef // sorted by id, unique
	globals []byte
	acks    []ack // sorted by seat
}

func (s *snap) reset(tick uint64) {
	s.tick = tick
	s.valid = false
	s.buf = s.buf[:0]
	s.ents = s.ents[:0]
	s.globals = s.globals[:0]
	s.acks = s.acks[:0]
}

func (s *snap) data(e entRef) []byte { return s.buf[e.off : e.off+e.n] }

// find returns the entity with id, by binary search.
func (s *snap) find(id uint64) (entRef, bool) {
	i, ok := slices.BinarySearchFunc(s.ents, id, func(e entRef, id uint64) int { return cmp.Compare(e.id, id) })
	if !ok {
		return entRef{}, false
	}
	return s.ents[i], true
}

// seal sorts the entities by id and keeps the last one written for an id
// that was written more than once.
func (s *snap) seal() {
	if !slices.IsSortedFunc(s.ents, cmpEnt) {
		slices.SortStableFunc(s.ents, cmpEnt)
	}
	if n := len(s.ents); n > 1 {
		w := 0
		for i := 0; i < n; i++ {
			if i+1 < n && s.ents[i+1].id == s.ents[i].id {
				continue // a later write of the same id wins
			}
			s.ents[w] = s.ents[i]
			w++
		}
		s.ents = s.ents[:w]
	}
	s.valid = true
}

func cmpEnt(a, b entRef) int { return cmp.Compare(a.id, b.id) }

// track is a ring of recent snaps of one entity set (a room's shared state,
// or one member's view). The newest is ring[head].
type track struct {
	ring []snap
	head int
}

func newTrack(n int) *track { return &track{ring: make([]snap, n)} }

// next reuses the oldest snap for tick and returns it. Its buffers are
// sized after the newest snap's, with an eighth to spare, when they are
// too small for it or more than twice its size, rather than grown by
// append's doubling: most ticks hold what the last one did, so in steady
// state nothing is allocated, and a room keeps ResumeTicks snaps, whose
// doubling slack (up to half of each buffer) was a third of a small
// room's memory.
func (t *track) next(tick uint64) *snap {
	prev := &t.ring[t.head]
	t.head = (t.head + 1) % len(t.ring)
	s := &t.ring[t.head]
	s.reset(tick)
	if prev != s && prev.valid {
		if n := len(prev.ents); cap(s.ents) < n || cap(s.ents) > 2*n+16 {
			s.ents = make([]entRef, 0, n+n/8+2)
		}
		if n := len(prev.buf); cap(s.buf) < n || cap(s.buf) > 2*n+64 {
			s.buf = make([]byte, 0, n+n/8+16)
		}
	}
	return s
}

func (t *track) cur() *snap { return &t.ring[t.head] }

// prev returns the snap before the newest, if valid.
func (t *track) prev() *snap {
	s := &t.ring[(t.head+len(t.ring)-1)%len(t.ring)]
	if !s.valid {
		return nil
	}
	return s
}

// undo drops the newest snap, making the one before it the newest again.
func (t *track) undo() {
	t.ring[t.head].valid = false
	t.head = (t.head + len(t.ring) - 1) % len(t.ring)
}

// equal reports whether s and o hold the same entities, globals and acks.
func (s *snap) equal(o *snap) bool {
	if len(s.ents) != len(o.ents) || !bytes.Equal(s.globals, o.globals) || !slices.Equal(s.acks, o.acks) {
		return false
	}
	for i, e := range s.ents {
		f := o.ents[i]
		if e.id != f.id || !bytes.Equal(s.data(e), o.data(f)) {
			return false
		}
	}
	return true
}

// at returns the valid snap of tick, if the ring still holds it.
func (t *track) at(tick uint64) *snap {
	if tick == 0 {
		return nil
	}
	for i := range t.ring {
		if s := &t.ring[i]; s.valid && s.tick == tick {
			return s
		}
	}
	return nil
}

// delta is the difference between a base snap and a newer one: pairs of
// base and new entity indexes that changed (new index -1: removed), new
// indexes of entities the base lacks, and the acks that changed. Its slices
// are reused.
type delta struct {
	changed        []pair
	added          []int32
	acks           []ack // seq 0: the seat has no ack any more
	baseAcks       []uint32
	globalsChanged bool
}

// pair is a base entity index and its new index, -1 when it was removed.
type pair struct{ base, cur int32 }

// ack is one seat's last processed input sequence number.
type ack struct{ seat, seq uint32 }

// diff fills d with what changed from base to cur and reports whether
// anything did, acks included.
func (d *delta) diff(base, cur *snap) bool {
	d.changed = d.changed[:0]
	d.added = d.added[:0]
	i, j := 0, 0
	for i < len(base.ents) || j < len(cur.ents) {
		switch {
		case j == len(cur.ents) || (i < len(base.ents) && base.ents[i].id < cur.ents[j].id):
			d.changed = append(d.changed, pair{int32(i), -1})
			i++
		case i == len(base.ents) || cur.ents[j].id < base.ents[i].id:
			d.added = append(d.added, int32(j))
			j++
		default:
			if !bytes.Equal(base.data(base.ents[i]), cur.data(cur.ents[j])) {
				d.changed = append(d.changed, pair{int32(i), int32(j)})
			}
			i++
			j++
		}
	}
	d.globalsChanged = !bytes.Equal(base.globals, cur.globals)
	d.diffAcks(base.acks, cur.acks)
	return len(d.changed) > 0 || len(d.added) > 0 || d.globalsChanged || len(d.acks) > 0
}

// diffAcks fills d.acks and d.baseAcks with the seats whose ack differs
// between base and cur (both sorted by seat).
func (d *delta) diffAcks(base, cur []ack) {
	d.acks, d.baseAcks = d.acks[:0], d.baseAcks[:0]
	i, j := 0, 0
	for i < len(base) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(base) && base[i].seat < cur[j].seat):
			d.acks = append(d.acks, ack{base[i].seat, 0})
			d.baseAcks = append(d.baseAcks, base[i].seq)
			i++
		case i == len(base) || cur[j].seat < base[i].seat:
			d.acks = append(d.acks, cur[j])
			d.baseAcks = append(d.baseAcks, 0)
			j++
		default:
			if base[i].seq != cur[j].seq {
				d.acks = append(d.acks, cur[j])
				d.baseAcks = append(d.baseAcks, base[i].seq)
			}
			i++
			j++
		}
	}
}

// keyframe fills d with every entity and ack of cur.
func (d *delta) keyframe(cur *snap) {
	d.changed = d.changed[:0]
	d.added = d.added[:0]
	for j := range cur.ents {
		d.added = append(d.added, int32(j))
	}
	d.globalsChanged = true
	d.diffAcks(nil, cur.acks)
}

// Snapshot is where a game writes its state in Game.Encode, and a member's
// view in Viewer.View. Entities may be written in any order; writing an id
// twice keeps the last. Valid only during the call.
type Snapshot struct {
	s      *snap
	shared *snap // for views: the room's shared snap of this tick
	err    error
}

// errMarshal marks an entity the game failed to encode.
var errMarshal = errors.New("game: entity marshal failed")

// Entity writes the entity id encoded from m.
func (w *Snapshot) Entity(id uint64, m Marshaler) {
	n := m.SizeVT()
	off := len(w.s.buf)
	w.s.buf = slices.Grow(w.s.buf, n)[:off+n]
	if _, err := m.MarshalToSizedBufferVT(w.s.buf[off:]); err != nil {
		w.s.buf = w.s.buf[:off]
		w.err = errors.Join(errMarshal, err)
		return
	}
	w.s.ents = append(w.s.ents, entRef{id: id, off: uint32(off), n: uint32(n)})
}

// EntityBytes writes the entity id with already encoded bytes, which are
// copied.
func (w *Snapshot) EntityBytes(id uint64, b []byte) {
	off := len(w.s.buf)
	w.s.buf = append(w.s.buf, b...)
	w.s.ents = append(w.s.ents, entRef{id: id, off: uint32(off), n: uint32(len(b))})
}

// Globals sets the room globals encoded from m.
func (w *Snapshot) Globals(m Marshaler) {
	n := m.SizeVT()
	w.s.globals = slices.Grow(w.s.globals[:0], n)[:n]
	if _, err := m.MarshalToSizedBufferVT(w.s.globals); err != nil {
		w.s.globals = w.s.globals[:0]
		w.err = errors.Join(errMarshal, err)
	}
}

// GlobalsBytes sets the room globals to a copy of b.
func (w *Snapshot) GlobalsBytes(b []byte) { w.s.globals = append(w.s.globals[:0], b...) }

// Share copies the entity id from the room's shared snapshot of this tick
// into a view, and reports whether it exists. In Game.Encode it does
// nothing and reports false.
func (w *Snapshot) Share(id uint64) bool {
	if w.shared == nil {
		return false
	}
	e, ok := w.shared.find(id)
	if ok {
		w.EntityBytes(id, w.shared.data(e))
	}
	return ok
}

// Len returns the number of entities written so far.
func (w *Snapshot) Len() int { return len(w.s.ents) }
