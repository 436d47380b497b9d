package game

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/tickroom/tickroom/protocol/statesync"
)

// This file holds a track's back records (see track): how one is written
// against the snap after it, kept in the track's log, and read back.

// keep copies rec, the back record of s, into the log after the newest
// record there, and points s at it. When the space between the newest
// record and the oldest (at the log's end or, wrapping, at its start) is
// too small, or the log is more than eight times its records and a KiB
// (records may swing from tick to tick, a small ring's most of all,
// without remaking the log each time), the records move to a new log
// sized to them with a quarter to spare. Once the log has grown to a
// room's records, the steady state allocates nothing.
//
// The records live from ring[head+first] on, oldest first: called from
// next (first 2), the oldest slot, ring[head+1], is the one next reuses
// once compact returns, and its record's bytes count as free already;
// called from settle at a tick's end (first 1), it still holds a live
// back record.
func (t *track) keep(s *snap, rec []byte, first int) {
	n := len(rec)
	var oldest, last *snap
	live := n
	for k := first; k < len(t.ring); k++ { // oldest first
		if b := &t.ring[t.slot(-k)]; b.back {
			if oldest == nil {
				oldest = b
			}
			last = b
			live += int(b.n)
		}
	}
	size := len(t.log)
	off, ok := 0, n <= size
	if oldest != nil {
		start, end := int(oldest.off), int(last.off+last.n)
		switch {
		case start < end && end+n <= size:
			off, ok = end, true
		case start < end: // wrap to the start
			off, ok = 0, n <= start
		default: // wrapped already: between the newest and the oldest
			off, ok = end, end+n <= start
		}
	}
	if !ok || size > 8*live+1024 {
		off = t.repack(live, first)
	}
	copy(t.log[off:], rec)
	s.off, s.n = uint32(off), uint32(n)
}

// repack moves the live back records (from ring[head+first] on, see keep),
// oldest first, to the start of a new log of live bytes and a quarter
// more, and returns where the records end.
func (t *track) repack(live, first int) int {
	log := slices.Grow([]byte(nil), live+live/4+64) // its size class's capacity
	log = log[:cap(log)]
	off := 0
	for k := first; k < len(t.ring); k++ {
		if b := &t.ring[t.slot(-k)]; b.back {
			m := copy(log[off:], t.recBytes(b))
			b.off = uint32(off)
			off += m
		}
	}
	t.log = log
	return off
}

// A back record's bytes (track.recBytes) hold, in varints, each part as
// a change from the newer snap:
//   - the globals: 0 when they are the newer snap's, else 1 and the change
//     that makes them from the newer snap's (as an entity's, below);
//   - the acks: the number of seats whose ack differs from the newer
//     snap's, and for each, in seat order, the seat's step from the last
//     one and a code: for a seat the newer snap acks, 0 when this snap
//     has no ack for it, else the newer seq minus this one, zigzag
//     encoded; for a seat the newer snap does not ack, this snap's seq
//     (never 0). Half the seats send an input in a tick at 10 Hz inputs
//     and 20 Hz ticks, so this is ~2 bytes for each of those rather than
//     3 for every seat;
//   - the number of ids of the newer snap that this one lacks and each as
//     its step from the last;
//   - then, to the end, each entity the record keeps, by id in ascending
//     order, as the id's step from the last one and the change that makes
//     its bytes from the newer snap's (statesync.AppendChange: a mask and
//     the fields that differ; statesync.AppendWhole when the newer snap
//     lacks it).
//
// A moving player is then its position's few bytes, not its whole message
// and an index entry of 16 bytes: a whole snap needs the index to be read
// on every tick, a record is read only to rebuild an old state.

// appendRecordEntity appends entity id with data to a record whose last
// entity was last (0 for the first), as a change from newer, its bytes in
// the newer snap (nil when that lacks it).
func (t *track) appendRecordEntity(b []byte, last, id uint64, newer, data []byte) []byte {
	b = binary.AppendUvarint(b, id-last)
	if newer == nil {
		return statesync.AppendWhole(b, data)
	}
	return statesync.AppendChange(b, newer, data, t.fields())
}

// keepRecord writes the back record of s against newer into rec from the
// entities built in t.tmp and the ids in t.gone. The head (globals, acks
// and gone ids) is built after the entities in t.tmp.
func (t *track) keepRecord(s, newer *snap) {
	ents := len(t.tmp)
	b := t.tmp
	if bytes.Equal(s.globals, newer.globals) {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		if len(newer.globals) == 0 {
			b = statesync.AppendWhole(b, s.globals)
		} else {
			b = statesync.AppendChange(b, newer.globals, s.globals, t.fields())
		}
	}
	// The acks' count goes before them: one byte is kept for it, and the
	// acks are walked once (the count is under 128 but in a room of more
	// seats, where the acks move up to make room for a longer one).
	at := len(b)
	b = append(b, 0)
	n, last := uint64(0), uint64(0)
	for d := (ackDiff{acks: s.acks, newer: newer.acks}); ; n++ {
		seat, code, ok := d.next()
		if !ok {
			break
		}
		b = binary.AppendUvarint(b, uint64(seat)-last)
		b = binary.AppendUvarint(b, code)
		last = uint64(seat)
	}
	if n < 0x80 {
		b[at] = byte(n)
	} else {
		var cnt [binary.MaxVarintLen64]byte
		k := binary.PutUvarint(cnt[:], n)
		b = append(b, cnt[:k-1]...)
		copy(b[at+k:], b[at+1:len(b)-(k-1)])
		copy(b[at:], cnt[:k])
	}
	b = binary.AppendUvarint(b, uint64(len(t.gone)))
	last = 0
	for _, id := range t.gone {
		b = binary.AppendUvarint(b, id-last)
		last = id
	}
	t.tmp = b
	t.rec = append(append(t.rec[:0], b[ents:]...), b[:ents]...)
	t.recTick, t.recOK = s.tick, true
	// Scratch far larger than records need (after a tick where
	// everything changed) is let go.
	if cap(t.tmp) > 8*len(t.tmp)+1024 {
		t.tmp = nil
	}
	if cap(t.gone) > 8*len(t.gone)+64 {
		t.gone = nil
	}
}

// ackDiff walks the seats whose ack differs between acks, an older snap's,
// and newer, both sorted by seat, giving each seat's code (see keepRecord).
type ackDiff struct {
	acks, newer []ack
	i, j        int
}

func (d *ackDiff) next() (seat uint32, code uint64, ok bool) {
	for d.i < len(d.acks) || d.j < len(d.newer) {
		switch {
		case d.j == len(d.newer) || (d.i < len(d.acks) && d.acks[d.i].seat < d.newer[d.j].seat):
			a := d.acks[d.i] // the newer snap does not ack the seat
			d.i++
			return a.seat, uint64(a.seq), true
		case d.i == len(d.acks) || d.newer[d.j].seat < d.acks[d.i].seat:
			a := d.newer[d.j] // the older snap does not
			d.j++
			return a.seat, 0, true
		default:
			a, na := d.acks[d.i], d.newer[d.j]
			d.i++
			d.j++
			if a.seq != na.seq {
				return a.seat, zigzag(int64(na.seq) - int64(a.seq)), true
			}
		}
	}
	return 0, 0, false
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// recordReader reads a back record's bytes (see keepRecord).
type recordReader struct {
	b   []byte
	err bool
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// head reads the globals and acks into out, from newer's (the snap after
// the record's), and returns the reader of the gone ids; r is left at the
// entities. fs is the field scratch.
func (r *recordReader) head(out, newer *snap, fs *statesync.Scratch) (gone recordReader, n uint64) {
	switch r.uvarint() {
	case 0:
		out.globals = append(out.globals[:0], newer.globals...)
	case 1:
		g, m, err := statesync.AppendApplied(out.globals[:0], newer.globals, r.b, fs)
		if err != nil {
			r.err, r.b = true, nil
			return *r, 0
		}
		out.globals, r.b = g, r.b[m:]
	default:
		r.err, r.b = true, nil
		return *r, 0
	}
	out.acks = out.acks[:0]
	j, seat := 0, uint64(0)
	for k := r.uvarint(); k > 0 && !r.err; k-- {
		seat += r.uvarint()
		code := r.uvarint()
		for j < len(newer.acks) && uint64(newer.acks[j].seat) < seat {
			out.acks = append(out.acks, newer.acks[j])
			j++
		}
		switch {
		case j < len(newer.acks) && uint64(newer.acks[j].seat) == seat:
			if code != 0 {
				out.acks = append(out.acks, ack{uint32(seat), uint32(int64(newer.acks[j].seq) - unzigzag(code))})
			}
			j++
		default:
			out.acks = append(out.acks, ack{uint32(seat), uint32(code)})
		}
	}
	out.acks = append(out.acks, newer.acks[j:]...)
	n = r.uvarint()
	gone = *r
	for range n {
		r.uvarint()
	}
	if r.err {
		return gone, 0
	}
	return gone, n
}

// compare writes the back record of s against newer into rec.
func (t *track) compare(s, newer *snap) {
	t.tmp, t.gone = t.tmp[:0], t.gone[:0]
	var last uint64
	i, j := 0, 0
	for i < len(s.ents) || j < len(newer.ents) {
		switch {
		case j == len(newer.ents) || (i < len(s.ents) && s.ents[i].id < newer.ents[j].id):
			t.tmp = t.appendRecordEntity(t.tmp, last, s.ents[i].id, nil, s.data(s.ents[i]))
			last = s.ents[i].id
			i++
		case i == len(s.ents) || newer.ents[j].id < s.ents[i].id:
			t.gone = append(t.gone, newer.ents[j].id)
			j++
		default:
			if d, nd := s.data(s.ents[i]), newer.data(newer.ents[j]); !bytes.Equal(d, nd) {
				t.tmp = t.appendRecordEntity(t.tmp, last, s.ents[i].id, nd, d)
				last = s.ents[i].id
			}
			i++
			j++
		}
	}
	t.keepRecord(s, newer)
}

// record writes the back record of the snap before the newest into the
// rec from d, the diff from that snap to the newest, so that
// the next compact need not compare the two again: the entities d found
// changed or removed, and as gone the ones it found added. From the same
// reading of each changed entity it fills d.fwd and d.fwdEnd with the
// delta's changes and sets d.fwdOK: they hold for patcher.build of that
// snap (t.prev()) and the newest (t.cur()) only, which is why Room.syncState
// calls record only when its base is t.prev().
func (t *track) record(d *delta) {
	s, newer := t.prev(), t.cur()
	if len(t.ring) <= 2 || s == nil || s.back || !newer.valid {
		return
	}
	t.tmp, t.gone = t.tmp[:0], t.gone[:0]
	d.fwd, d.fwdEnd = d.fwd[:0], d.fwdEnd[:0]
	var last uint64
	for _, p := range d.changed {
		e := s.ents[p.base]
		t.tmp = binary.AppendUvarint(t.tmp, e.id-last)
		if p.cur < 0 {
			t.tmp = statesync.AppendWhole(t.tmp, s.data(e))
		} else {
			// The delta's change of the entity comes out of the same
			// reading: the patch built from d next takes it (d.fwd).
			d.fwd, t.tmp = statesync.AppendChanges(d.fwd, t.tmp, s.data(e), newer.data(newer.ents[p.cur]), t.fields())
		}
		d.fwdEnd = append(d.fwdEnd, uint32(len(d.fwd)))
		last = e.id
	}
	d.fwdOK = true
	for _, j := range d.added {
		t.gone = append(t.gone, newer.ents[j].id)
	}
	t.keepRecord(s, newer)
}

// apply makes s the state of tick from rec, the bytes of that state's
// back record, and the state after it, newer: rec's entities (changes
// from newer's bytes, or whole), and newer's that rec neither holds nor
// lists as gone. fs is the field scratch.
func (s *snap) apply(newer *snap, tick uint64, rec []byte, fs *statesync.Scratch) {
	s.reset(tick)
	r := recordReader{b: rec}
	gr, gn := r.head(s, newer, fs)
	gone, goneOK := uint64(0), false
	nextGone := func() {
		goneOK = gn > 0 && !gr.err
		if goneOK {
			gone += gr.uvarint()
			gn--
		}
	}
	nextGone()
	next := func() (uint64, bool) {
		if len(r.b) == 0 || r.err {
			return 0, false
		}
		step := r.uvarint()
		return step, !r.err
	}
	var id uint64
	step, ok := next()
	id += step
	for j := 0; j < len(newer.ents) || ok; {
		if ok && (j == len(newer.ents) || id <= newer.ents[j].id) {
			var old []byte
			if j < len(newer.ents) && id == newer.ents[j].id {
				old = newer.data(newer.ents[j])
				j++
			}
			off := len(s.buf)
			var n int
			var err error
			s.buf, n, err = statesync.AppendApplied(s.buf, old, r.b, fs)
			if err != nil {
				// Records are written here and never malformed; stop
				// rather than read past one.
				s.buf = s.buf[:off]
				r.b, ok = nil, false
				continue
			}
			r.b = r.b[n:]
			s.ents = append(s.ents, entRef{id: id, off: uint32(off), n: uint32(len(s.buf) - off)})
			step, ok = next()
			id += step
			continue
		}
		e := newer.ents[j]
		j++
		for goneOK && gone < e.id {
			nextGone()
		}
		if goneOK && gone == e.id {
			continue
		}
		s.add(e.id, newer.data(e))
	}
	s.valid = true
}
