package game

import (
	"bytes"
	"cmp"
	"errors"
	"slices"

	"github.com/tickroom/tickroom/protocol/statesync"
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
	tick  uint64
	valid bool
	// back marks a snap of a track's ring older than the newest two (than
	// the newest, between a pooled ring's ticks: track.settle): it
	// is a record of its globals, its acks, the ids of the next newer snap
	// it lacks and the entities that differ from that snap's or that it
	// lacks (keepRecord, see track.compact), the n bytes at off in the
	// track's log (track.recBytes), and it has no whole part.
	back bool
	off  uint32
	n    uint32
	// whole holds what only a whole snap has; a back record's is nil, so
	// a ring slot costs 32 bytes, not 128.
	*whole
}

// whole is the entity bytes, index, globals and acks of a whole snap.
type whole struct {
	buf     []byte   // entity bytes, back to back
	ents    []entRef // sorted by id, unique
	globals []byte
	acks    []ack // sorted by seat
}

// reset empties s as a whole snap of tick, giving it a whole part when it
// has none.
func (s *snap) reset(tick uint64) {
	s.tick = tick
	s.valid = false
	s.back = false
	if s.whole == nil {
		s.whole = new(whole)
	}
	s.buf = s.buf[:0]
	s.ents = s.ents[:0]
	s.globals = s.globals[:0]
	s.acks = s.acks[:0]
}

// add appends the entity id with a copy of b; ids must come in order.
func (s *snap) add(id uint64, b []byte) {
	s.ents = append(s.ents, entRef{id: id, off: uint32(len(s.buf)), n: uint32(len(b))})
	s.buf = append(s.buf, b...)
}

func (s *snap) data(e entRef) []byte { return s.buf[e.off : e.off+e.n] }

// find returns the entity with id, by binary search from index from
// (the caller knows no entity before it has id), and its index. A view
// shares ids in ascending order as a rule (Snapshot.Share): each search
// starts past the last one found, and the loop is written out rather than
// slices.BinarySearchFunc's, whose compare function is not inlined
// (BenchmarkArenaTick/32-aoi).
func (s *snap) find(id uint64, from int) (entRef, int, bool) {
	i, j := from, len(s.ents)
	for i < j {
		m := int(uint(i+j) >> 1)
		if s.ents[m].id < id {
			i = m + 1
		} else {
			j = m
		}
	}
	if i < len(s.ents) && s.ents[i].id == id {
		return s.ents[i], i, true
	}
	return entRef{}, i, false
}

// seal sorts the entities by id and keeps the last one written for an id
// that was written more than once.
//
// A game nearly always writes its entities in ascending id order, each
// once (the arena does): one pass finds that, and nothing is moved.
func (s *snap) seal() {
	ents := s.ents
	i := 1
	for i < len(ents) && ents[i-1].id < ents[i].id {
		i++
	}
	if i >= len(ents) {
		s.valid = true
		return
	}
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

// clone returns a whole copy of s, a whole snap, that shares nothing with
// it.
func (s *snap) clone() *snap {
	return &snap{tick: s.tick, valid: true, whole: &whole{
		buf: slices.Clone(s.buf), ents: slices.Clone(s.ents),
		globals: slices.Clone(s.globals), acks: slices.Clone(s.acks),
	}}
}

// wireSize bounds the bytes of a keyframe of s: every byte the game wrote
// for its entities (an id written twice counts twice) and its globals,
// and each entity's id and length.
func (s *snap) wireSize() int { return len(s.buf) + len(s.globals) + 15*len(s.ents) }

func cmpEnt(a, b entRef) int { return cmp.Compare(a.id, b.id) }

// track is a ring of recent snaps of one entity set (a room's shared state,
// or one member's view). The newest is ring[head].
//
// Only the newest two snaps are whole: they are what every tick reads (a
// state equal to the last is not kept; members that are current get the
// delta between them). A room's ring longer than two, whose whole parts
// come from its shard's pool, keeps only the newest whole between ticks
// (settle): the tick takes a second for its new state. Each older snap is
// kept as a back record of the snap after it: the entities that differ or
// that the newer one lacks, as field changes, with the snap's globals and
// acks as changes too (keepRecord), the records back to back in one log.
// In a room where a few players move among walls and pickups that do not,
// that is a few bytes for each of a few entities a tick instead of the
// whole table, and no index, so a ring of 16 costs less than two whole
// states do. Reading an old state (a laggard's or a resuming client's
// base, at) rebuilds it into a scratch snap.
type track struct {
	ring []snap
	head int
	// log holds the back records' bytes, each where its snap's off says,
	// oldest first from the oldest one's and wrapping at the end: records
	// come and go in ring order, so they are a queue in one buffer rather
	// than a buffer each, and the steady state allocates nothing (keep).
	log []byte
	// rec is the next back record, of the snap of tick recTick when
	// recOK, written by record or compact before compact copies it into
	// the log. spare is the whole part of the last snap compact turned into
	// a back record, for next to give the snap it reuses. So the steady
	// state allocates nothing.
	rec     []byte
	recTick uint64
	recOK   bool
	spare   *whole
	// pool, when set, is the shard's: compact gives it the whole parts
	// it lets go and next takes them from it, in place of spare, and the
	// tick's end (settle) compacts at once, so that a room keeps one whole
	// part between its ticks rather than two.
	pool *wholePool
	// tmp and gone are where a record's entities (then its head) and
	// gone ids are gathered before keepRecord writes it into rec; fs
	// is the field scratch of its changes and of apply's, the room's
	// shard's patcher's (a tick uses one of them at a time) or, when nil,
	// made on first use (fields).
	tmp  []byte
	gone []uint64
	fs   *statesync.Scratch
	// scratch is where at rebuilds an old state (scratch2 is its second
	// buffer, rebuild works from one into the other); both are let go at
	// the next tick when that tick did not use them (scratchUsed).
	scratch, scratch2 *snap
	scratchUsed       bool
	// memo is the ring index whose state scratch holds, when memoOK: a
	// rebuild of an older state on the same run of back records goes on
	// from it rather than from the whole snap, so a tick that serves
	// several old bases, newest first, applies each record once.
	memo   int
	memoOK bool
}

func newTrack(n int) *track { return &track{ring: make([]snap, n)} }

// fields returns the field scratch.
func (t *track) fields() *statesync.Scratch {
	if t.fs == nil {
		t.fs = new(statesync.Scratch)
	}
	return t.fs
}

// next reuses the oldest slot of the ring for tick and returns its snap.
// In a ring longer than two without a pool it first turns the snap before
// the newest into a back record (compact), which lets go of that snap's
// whole part as the spare; the reused slot takes it when it has none of
// its own (a back record, or a slot the filling ring has not used yet),
// so such a ring holds two whole parts however long it is and however
// new. A pooled ring's tick ended with that compact already (settle), and
// the slot takes a whole part from the pool, sized to the newest state
// when one is. The buffers are sized after the newest snap's, with an
// eighth to spare, when they are too small for it or more than half as
// large again (plus a few entries' or bytes' slack), rather than grown by
// append: most ticks hold what the last one did, so in steady state
// nothing is allocated. The half also sizes down a room's first snap,
// which append grew, once it is reused; an entity count that swings by a
// quarter or more from tick to tick costs an allocation.
func (t *track) next(tick uint64) *snap {
	t.memoOK = false
	n := len(t.ring)
	prev := &t.ring[t.head]
	if n > 2 {
		t.compact(&t.ring[t.slot(1)], prev, 2)
	}
	if !t.scratchUsed {
		t.scratch, t.scratch2 = nil, nil
	}
	t.scratchUsed = false
	t.head = t.slot(-1)
	s := &t.ring[t.head]
	if s.whole == nil {
		// A back record (whose bytes in the log are free from here), or a
		// slot the ring has not filled yet: it takes the whole part compact
		// let go (the spare), so that a room's first ticks do not drop one
		// a tick, or a pooled ring's one from the pool.
		switch {
		case t.pool == nil:
			s.whole, t.spare = t.spare, nil
		case prev.valid && prev.whole != nil:
			s.whole = t.pool.take(len(prev.ents), len(prev.buf))
		default:
			s.whole = t.pool.take(0, 0)
		}
	}
	s.reset(tick)
	if prev != s && prev.valid {
		if n := len(prev.ents); !fits(cap(s.ents), n, 8) {
			s.ents = make([]entRef, 0, n+n/8+2)
		}
		if n := len(prev.buf); !fits(cap(s.buf), n, 64) {
			s.buf = make([]byte, 0, n+n/8+16)
		}
	}
	return s
}

// fits reports whether a buffer of capacity c suits n items: it holds
// them, and is not more than half as large again (and slack more), which
// the newest state's sizes (next) and a pooled whole part (wholePool.take)
// are held to.
func fits(c, n, slack int) bool { return c >= n && c <= n+n/2+slack }

// settle ends a tick of a track whose whole parts go to a pool: the snap
// before the newest becomes a back record now rather than at the next
// tick's next, and its whole part goes to the pool for the shard's next
// room. Between its ticks a room then keeps one whole part, the newest
// state's; its next tick takes another from the pool. Called on the tick
// worker at the end of each tick; it does nothing without a pool or in a
// ring of two (a view game's, or ResumeTicks 2), whose snaps stay whole.
func (t *track) settle() {
	n := len(t.ring)
	if t.pool == nil || n <= 2 {
		return
	}
	t.memoOK = false
	t.compact(&t.ring[t.slot(1)], &t.ring[t.head], 1)
}

// give hands a whole part compact let go to the pool, or keeps it as the
// spare.
func (t *track) give(w *whole) {
	if t.pool != nil {
		t.pool.put(w)
		return
	}
	t.spare = w
}

// wholePool holds the whole parts a shard's rooms let go between their
// ticks (track.pool). The shard ticks its rooms one after another, and a
// room's tick takes one and gives one back, so a pool holds one part for
// each size of state its rooms have: a room takes one that fits its state
// (take) or, when none does, makes one, and the one it gives back then
// serves the next room of its size. Rooms whose states differ in size
// (other games, other options) so resize nothing in steady state, up to
// about poolWholes sizes on a shard (one part each). The pool lets go of
// its oldest part only once it holds poolWholes, so a part no state fits
// any more (its rooms ended) stays until then: at most poolWholes parts a
// shard. A part whose buffers grew past its own state's size is not kept.
// Used on the shard's worker only (or by Advance and Shutdown, under
// Runtime.advMu).
type wholePool struct {
	free []*whole // oldest given first
}

// poolWholes is how many whole parts a pool keeps: the sizes of state a
// shard's rooms may have without a room's tick allocating (a part fits
// states from ~3/4 of the one it was made for to ~9/8 of it).
const poolWholes = 64

// take returns a kept whole part whose buffers fit ents entities in n
// bytes, the one given last among those that do, or nil when none does.
func (p *wholePool) take(ents, n int) *whole {
	for i := len(p.free) - 1; i >= 0; i-- {
		if w := p.free[i]; fits(cap(w.ents), ents, 8) && fits(cap(w.buf), n, 64) {
			if i == len(p.free)-1 {
				// The one given last, as a room whose state did not
				// change (undo) or the room before it of its size
				// gave it: no copy.
				p.free[i] = nil
				p.free = p.free[:i]
			} else {
				p.free = slices.Delete(p.free, i, i+1)
			}
			return w
		}
	}
	return nil
}

// put keeps w, letting go of the oldest one kept when the pool holds
// poolWholes already. A nil w, or one whose buffers do not fit the state
// they hold (grown by append past it), is not kept.
func (p *wholePool) put(w *whole) {
	if w == nil || !fits(cap(w.ents), len(w.ents), 8) || !fits(cap(w.buf), len(w.buf), 64) {
		return
	}
	if len(p.free) == poolWholes {
		p.free = slices.Delete(p.free, 0, 1)
	}
	p.free = append(p.free, w)
}

// compact turns s, the snap just before newer in the ring, into a back
// record of newer: the entities of s that newer lacks or holds with other
// bytes, and in gone the ids of newer that s lacks. The record is written
// into rec (unless record already did from the tick's diff) and kept in
// the log (keep, with first); s's whole part goes to the spare or the
// pool (give). It does nothing when s is a back record already (a tick
// whose state was undone, or settle, compacted it) or not valid.
func (t *track) compact(s, newer *snap, first int) {
	if !s.valid || s.back || !newer.valid || s == newer || newer.back {
		t.recOK = false
		return
	}
	if !t.recOK || t.recTick != s.tick {
		t.compare(s, newer)
	}
	t.recOK = false
	t.give(s.whole)
	s.whole = nil
	t.keep(s, t.rec, first)
	s.back = true
	if cap(t.rec) > 8*len(t.rec)+1024 {
		t.rec = nil // after a tick where everything changed
	}
}

// recBytes returns the bytes of s's back record in the log.
func (t *track) recBytes(s *snap) []byte { return t.log[s.off : s.off+s.n : s.off+s.n] }

func (t *track) cur() *snap { return &t.ring[t.head] }

// slot returns the index in the ring of the snap k places before the
// newest (-len(ring) < k < len(ring); a negative k counts forward, from
// the oldest), without the division of a modulo: the ring's length is not
// a constant, and a tick walks it several times (find for each member,
// keep over every slot).
func (t *track) slot(k int) int {
	i := t.head - k
	if i < 0 {
		i += len(t.ring)
	} else if i >= len(t.ring) {
		i -= len(t.ring)
	}
	return i
}

// prev returns the snap before the newest, if valid. Right after next it
// is whole; between a pooled ring's ticks, and after undo, it is a back
// record (settle, undo).
func (t *track) prev() *snap {
	s := &t.ring[t.slot(1)]
	if !s.valid {
		return nil
	}
	return s
}

// undo drops the newest snap, making the one before it the newest again.
// The one before that stays a back record: only the newest two are read
// whole, and next makes a new newest. A pooled ring gives the dropped
// snap's whole part back to the pool, for the next tick to take.
func (t *track) undo() {
	t.memoOK = false
	s := &t.ring[t.head]
	s.valid = false
	if t.pool != nil && s.whole != nil && len(t.ring) > 2 {
		t.pool.put(s.whole) // the pool's again until the next tick takes one
		s.whole = nil
	}
	t.head = t.slot(1)
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

// find returns the index of the valid snap of tick in the ring, or -1.
// It looks newest first: the base a member has is nearly always the
// newest state or the one before.
func (t *track) find(tick uint64) int {
	if tick == 0 {
		return -1
	}
	n := len(t.ring)
	for k := range n {
		i := t.slot(k)
		if s := &t.ring[i]; s.valid && s.tick == tick {
			return i
		}
	}
	return -1
}

// held returns tick when the ring holds a valid snap of it, else 0.
func (t *track) held(tick uint64) uint64 {
	if t.find(tick) < 0 {
		return 0
	}
	return tick
}

// at returns the state of tick, if the ring still holds it. A back record
// is rebuilt into the track's scratch snap, valid until the next call of
// at or next.
func (t *track) at(tick uint64) *snap {
	i := t.find(tick)
	switch {
	case i < 0:
		return nil
	case t.ring[i].back:
		return t.rebuild(i)
	}
	return &t.ring[i]
}

// rebuild returns the whole state of the back record ring[i] in scratch:
// from the first whole snap after it, each record back to i applied in
// turn (apply); or from the state the last rebuild left in scratch, when
// that one lies between them.
func (t *track) rebuild(i int) *snap {
	n := len(t.ring)
	f := i
	for t.ring[f].back {
		f = (f + 1) % n
	}
	if t.scratch == nil {
		t.scratch = new(snap)
	}
	if t.scratch2 == nil {
		t.scratch2 = new(snap)
	}
	t.scratchUsed = true
	from, k := &t.ring[f], f
	if t.memoOK && (f-t.memo+n)%n <= (f-i+n)%n {
		from, k = t.scratch, t.memo
	}
	for k != i {
		k = (k + n - 1) % n
		out := t.scratch2
		out.apply(from, t.ring[k].tick, t.recBytes(&t.ring[k]), t.fields())
		t.scratch2 = t.scratch
		t.scratch = out
		from = out
	}
	t.memo, t.memoOK = i, true
	return from
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

	// fwd holds the change of each entry of changed, back to back, the
	// i-th ending at fwdEnd[i] (a removed entity's is empty), when fwdOK:
	// track.record writes them while it reads the same two states for
	// the back record, and patcher.build then copies them rather than
	// reading both again. diff and keyframe clear fwdOK.
	fwd    []byte
	fwdEnd []uint32
	fwdOK  bool
}

// pair is a base entity index and its new index, -1 when it was removed.
type pair struct{ base, cur int32 }

// ack is one seat's last processed input sequence number.
type ack struct{ seat, seq uint32 }

// diff fills d with what changed from base to cur and reports whether
// anything did, acks included.
func (d *delta) diff(base, cur *snap) bool {
	d.fwdOK = false
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
	d.fwdOK = false
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
	next   int   // for views: where Share's next search may start
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
	from := 0
	if w.next < len(w.shared.ents) && w.shared.ents[w.next].id <= id {
		from = w.next // ids ascending since the last share: none before
	}
	e, i, ok := w.shared.find(id, from)
	w.next = i
	if ok {
		w.EntityBytes(id, w.shared.data(e))
	}
	return ok
}

// Len returns the number of entities written so far.
func (w *Snapshot) Len() int { return len(w.s.ents) }
