package game

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tickroom/tickroom/protocol/statesync"
	"google.golang.org/protobuf/encoding/protowire"
)

// wholeState is a snap's state as a map, for comparisons.
func wholeState(s *snap) map[uint64]string {
	out := map[uint64]string{}
	for _, e := range s.ents {
		out[e.id] = string(s.data(e))
	}
	return out
}

// entityBytes is an entity message: the id, a position that moves with
// tick (absent at 0, so a first move changes the field list), and for
// some ids a bytes field.
func entityBytes(id, tick uint64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, id)
	if tick != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, tick*37%1000)
	}
	if id%4 == 0 {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, bytes.Repeat([]byte{byte(id)}, 1+int(id%5)))
	}
	return b
}

// TestTrackKeepsOldStates drives a ring the way a room's tick does (next,
// encode, a state equal to the last undone) through states where a few
// entities change, appear and vanish among many that do not, and checks
// that every tick the ring still holds reads back whole and unchanged
// (at), that a tick it no longer holds reads as nil, and that older
// snaps keep only what differs. Pooled, the ring takes its whole parts
// from a pool it shares with another ring of other sizes, as a shard's
// rooms do, and settles each tick's end (the snap before the newest a back
// record at once), so older states are read from one whole snap.
func TestTrackKeepsOldStates(t *testing.T) {
	for _, ringLen := range []int{2, 3, 4, 16} {
		for seed := range uint64(8) {
			pooled := seed >= 4
			t.Run(fmt.Sprintf("ring%d/seed%d", ringLen, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				tr := newTrack(ringLen)
				var other *track // the pool's other ring
				if pooled {
					tr.pool = new(wholePool)
					other = newTrack(ringLen)
					other.pool = tr.pool
				}
				state := map[uint64][]byte{}
				for id := range uint64(30) {
					state[id*3] = entityBytes(id*3, 0)
				}
				kept := map[uint64]map[uint64]string{} // tick → whole state
				keptAcks := map[uint64][]ack{}
				keptGlobals := map[uint64]string{}
				// Seats 1–5 ack inputs: a seat's seq goes up, or starts over
				// lower (another player took the seat), or the seat has no
				// ack for a while.
				seqs := map[uint32]uint32{1: 1}
				var ticks []uint64
				var d delta
				for tick := uint64(1); tick <= 200; tick++ {
					switch rng.IntN(10) {
					case 0: // nothing changes: the tick is undone
					case 1: // one appears, one vanishes
						state[uint64(100+rng.IntN(20))] = []byte{byte(tick), 1}
						delete(state, uint64(rng.IntN(120)))
					case 2: // now and then all change: a record many times the others' size
						// (not in the last ticks, whose records are checked to
						// be small below)
						if rng.IntN(4) == 0 && tick < 150 {
							for id := range state {
								state[id] = entityBytes(id, tick)
							}
						}
					default: // a few move
						for range 1 + rng.IntN(4) {
							id := uint64(rng.IntN(10) * 3)
							state[id] = entityBytes(id, tick)
						}
					}
					cur := tr.next(tick)
					if p := tr.prev(); p != nil && p.back {
						t.Fatalf("tick %d: the snap before the new one is a back record", tick)
					}
					w := Snapshot{s: cur}
					for _, id := range slices.Collect(maps.Keys(state)) {
						w.EntityBytes(id, state[id])
					}
					switch tick / 10 % 4 { // globals that change: protobuf fields, none, bytes that are not protobuf
					case 0, 1:
						w.GlobalsBytes([]byte{0x08, byte(len(state)), 0x10, byte(tick / 7 % 100)}) // fields 1 and 2, varints
					case 2:
					case 3:
						w.GlobalsBytes([]byte{0xff, byte(tick / 3)})
					}
					cur.seal()
					for seat := range uint32(6) {
						switch rng.IntN(12) {
						case 0:
							delete(seqs, seat)
						case 1:
							seqs[seat] = 1 + uint32(rng.IntN(5))
							if rng.IntN(2) == 0 {
								seqs[seat] = math.MaxUint32 - uint32(rng.IntN(600)) // about to wrap
							}
						case 2, 3, 4:
							if seat != 0 && seqs[seat] != 0 {
								seqs[seat] += 1 + uint32(rng.IntN(300))
							}
						}
						if seq := seqs[seat]; seat != 0 && seq != 0 {
							cur.acks = append(cur.acks, ack{seat, seq})
						}
					}
					if prev := tr.prev(); prev != nil && prev.equal(cur) {
						tr.undo()
					} else {
						kept[tick] = wholeState(cur)
						keptAcks[tick] = slices.Clone(cur.acks)
						keptGlobals[tick] = string(cur.globals)
						ticks = append(ticks, tick)
						// As a tick does when its current members' base is the
						// snap before: the diff makes the next back record.
						if prev := tr.prev(); prev != nil && rng.IntN(2) == 0 {
							d.diff(prev, cur)
							tr.record(&d)
							// The record hands the delta its changes: the
							// patch is the one read afresh.
							if ringLen > 2 && !prev.back && !d.fwdOK {
								t.Fatalf("tick %d: the record left the delta without its changes", tick)
							}
							var p, fresh patcher
							got := slices.Clone(p.build(prev, cur, &d))
							d.fwdOK = false
							if want := fresh.build(prev, cur, &d); !bytes.Equal(got, want) {
								t.Fatalf("tick %d: patch % x, read afresh % x", tick, got, want)
							}
							// A second group with an older base in the same
							// tick diffs again: its patch must not take the
							// changes the record made for the first.
							if len(ticks) > 2 {
								if old := tr.at(ticks[len(ticks)-3]); old != nil {
									var d2 delta
									d2.diff(old, cur)
									want := slices.Clone(fresh.build(old, cur, &d2))
									d.diff(prev, cur)
									tr.record(&d)
									d.diff(old, cur)
									if got := p.build(old, cur, &d); !bytes.Equal(got, want) {
										t.Fatalf("tick %d: patch from %d % x, read afresh % x", tick, old.tick, got, want)
									}
								}
							}
						}
					}
					if pooled {
						tr.settle()
						if ringLen > 2 {
							if p := tr.prev(); p != nil && !p.back {
								t.Fatalf("tick %d: the snap before the newest is whole after settle", tick)
							}
						}
						// The other ring's tick: a state of another size,
						// now larger, now smaller.
						o := other.next(tick)
						ow := Snapshot{s: o}
						for id := range 10 + 40*(tick/7%2) {
							ow.EntityBytes(id, entityBytes(id, tick))
						}
						o.seal()
						other.settle()
						if got := other.at(tick); got == nil || len(got.ents) != int(10+40*(tick/7%2)) {
							t.Fatalf("tick %d: the other ring's newest state is wrong", tick)
						}
					}
					// Every kept tick the ring holds reads back whole, read
					// oldest first, newest first (as a tick serves its
					// bases, each rebuild going on from the last) or in
					// any order.
					held := 0
					order := slices.Clone(ticks)
					switch rng.IntN(3) {
					case 0:
						slices.Reverse(order)
					case 1:
						rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
					}
					for _, k := range order {
						s := tr.at(k)
						if tr.held(k) != 0 {
							held++
							if s == nil {
								t.Fatalf("tick %d: held(%d) but at is nil", tick, k)
							}
							if got := wholeState(s); !maps.Equal(got, kept[k]) {
								t.Fatalf("tick %d: state of %d is %v, want %v", tick, k, got, kept[k])
							}
							if s.tick != k || !slices.Equal(s.acks, keptAcks[k]) || string(s.globals) != keptGlobals[k] {
								t.Fatalf("tick %d: state of %d has tick %d acks %v globals %x", tick, k, s.tick, s.acks, s.globals)
							}
						} else if s != nil {
							t.Fatalf("tick %d: %d is not held but at returns a state", tick, k)
						}
					}
					if err := tr.checkLog(); err != nil {
						t.Fatalf("tick %d: %v", tick, err)
					}
					if want := min(len(ticks), ringLen); held < want-1 {
						t.Fatalf("tick %d: ring of %d holds %d of the last states", tick, ringLen, held)
					}
				}
				if ringLen > 2 {
					// The old snaps hold a few entities each, not 30.
					for i := range tr.ring {
						if s := &tr.ring[i]; s.back {
							if n := tr.recordEntities(i); n < 0 || n > 12 {
								t.Errorf("back record of tick %d holds %d entities", s.tick, n)
							}
						}
					}
				}
			})
		}
	}
}

// checkLog reports back records that do not lie in the log where their
// off says, or that share bytes.
func (t *track) checkLog() error {
	var spans [][2]int
	for i := range t.ring {
		s := &t.ring[i]
		if !s.back {
			continue
		}
		lo, hi := int(s.off), int(s.off)+int(s.n)
		if s.n == 0 || hi > len(t.log) {
			return fmt.Errorf("back record of tick %d is not at %d in the log of %d bytes", s.tick, s.off, len(t.log))
		}
		for _, o := range spans {
			if lo < o[1] && o[0] < hi {
				return fmt.Errorf("back record of tick %d at %d–%d overlaps another at %d–%d", s.tick, lo, hi, o[0], o[1])
			}
		}
		spans = append(spans, [2]int{lo, hi})
	}
	return nil
}

// recordEntities returns how many entities the back record ring[i]
// keeps, read against the state after it.
func (t *track) recordEntities(i int) int {
	ns := t.at(t.ring[(i+1)%len(t.ring)].tick)
	newer := wholeState(ns)
	r := recordReader{b: t.recBytes(&t.ring[i])}
	var head snap
	head.reset(0)
	var fs statesync.Scratch
	r.head(&head, ns, &fs)
	n := 0
	var id uint64
	for len(r.b) > 0 && !r.err {
		id += r.uvarint()
		var old []byte
		if d, ok := newer[id]; ok {
			old = []byte(d)
		}
		_, m, err := statesync.AppendApplied(nil, old, r.b, &fs)
		if err != nil {
			return -1
		}
		r.b = r.b[m:]
		n++
	}
	return n
}

// TestLogKeepsRecordsApart keeps records of random sizes in a ring's log
// the way next and compact do (the snap before the newest becomes a back
// record, then the oldest slot is reused) and checks that every record the
// ring holds keeps its own bytes as the log wraps and is repacked.
func TestLogKeepsRecordsApart(t *testing.T) {
	for _, ringLen := range []int{3, 5, 16} {
		for _, settled := range []bool{false, true} {
			logKeepsRecordsApart(t, ringLen, settled)
		}
	}
}

// logKeepsRecordsApart is TestLogKeepsRecordsApart for one ring, its
// records kept as next's compact keeps them (the oldest slot reused right
// after) or, settled, as settle's at a tick's end (the new newest in the
// oldest slot already, the snap before it kept while every older record
// still holds a state).
func logKeepsRecordsApart(t *testing.T, ringLen int, settled bool) {
	{
		rng := rand.New(rand.NewPCG(uint64(ringLen), 9))
		tr := newTrack(ringLen)
		n := len(tr.ring)
		// push keeps record i, size bytes of byte(i), as the snap before the
		// newest, and reuses the oldest slot.
		push := func(i, size int) {
			if settled {
				tr.head = (tr.head + 1) % n
				cur := &tr.ring[tr.head]
				cur.back, cur.valid = false, true
				s := &tr.ring[(tr.head+n-1)%n]
				tr.keep(s, bytes.Repeat([]byte{byte(i)}, size), 1)
				s.tick, s.valid, s.back = uint64(i), true, true
				return
			}
			s := &tr.ring[(tr.head+n-1)%n]
			tr.keep(s, bytes.Repeat([]byte{byte(i)}, size), 2)
			s.tick, s.valid, s.back = uint64(i), true, true
			tr.head = (tr.head + 1) % n
			old := &tr.ring[tr.head]
			old.back, old.valid = false, false
		}
		for i := range 20000 {
			size := 1 + rng.IntN(40)
			if rng.IntN(50) == 0 {
				size = 1 + rng.IntN(400)
			}
			push(i, size)
			if err := tr.checkLog(); err != nil {
				t.Fatalf("ring of %d (settled %v), record %d: %v", ringLen, settled, i, err)
			}
			for j := range tr.ring {
				if b := &tr.ring[j]; b.back && bytes.Count(tr.recBytes(b), []byte{byte(b.tick)}) != int(b.n) {
					t.Fatalf("ring of %d (settled %v), record %d: the record of %d was overwritten", ringLen, settled, i, b.tick)
				}
			}
		}
		// Once every record the ring holds is small again, after records
		// of 4,000 bytes, the log is made small again too.
		for i := range 2 * n {
			push(i, 4000)
		}
		for i := range 2 * n {
			push(i, 5)
		}
		if limit := 8*5*n + 1024; len(tr.log) > limit {
			t.Errorf("ring of %d (settled %v): log of %d bytes for records of 5, want at most %d", ringLen, settled, len(tr.log), limit)
		}
	}
}

// TestRingFillsOnTwoWholes drives a ring of 16 through its first ticks
// and on, an undone tick among them, and counts the whole parts its slots
// and compact's spare ever held: the newest two, which compact hands to the
// next slot in turn. A slot the ring had not filled yet used to get a whole
// part of its own, and its buffers, while compact's spare was dropped:
// sixteen made and fourteen thrown away for every new room, garbage that
// left the size classes of a room's long-lived buffers partly empty under
// load (BENCHMARKS.md, "A room's first ticks reuse their buffers"). No part
// is ever held twice at once.
func TestRingFillsOnTwoWholes(t *testing.T) {
	tr := newTrack(16)
	seen := map[*whole]bool{}
	for tick := uint64(1); tick <= 40; tick++ {
		cur := tr.next(tick)
		w := Snapshot{s: cur}
		for id := range uint64(36) {
			w.EntityBytes(id, entityBytes(id, tick*(id%3)))
		}
		cur.seal()
		if tick == 9 || tick == 25 { // a state equal to the last is undone
			tr.undo()
		}
		held := map[*whole]int{}
		for i := range tr.ring {
			if wh := tr.ring[i].whole; wh != nil {
				held[wh]++
			}
		}
		if tr.spare != nil {
			held[tr.spare]++
		}
		for wh, n := range held {
			if n > 1 {
				t.Fatalf("tick %d: a whole part is held %d times", tick, n)
			}
			seen[wh] = true
		}
		if tick > 1 && tick != 10 && tick != 26 && tr.at(tick-1) == nil {
			t.Fatalf("tick %d: the state before is gone", tick)
		}
	}
	if len(seen) != 2 {
		t.Errorf("the ring held %d whole parts over 40 ticks, want 2", len(seen))
	}
}

// TestPoolServesEachSize: a pool hands out a whole part that fits the
// state asked for, the one given last among those that do, or nil (the
// room makes one its size); it does not keep a part whose buffers outgrew
// the state they hold, and keeps poolWholes, letting the oldest go.
func TestPoolServesEachSize(t *testing.T) {
	part := func(ents, n int) *whole { // as next sizes one, holding its state
		return &whole{ents: make([]entRef, ents, ents+ents/8+2), buf: make([]byte, n, n+n/8+16)}
	}
	var p wholePool
	small, big, small2 := part(10, 100), part(200, 3000), part(10, 100)
	p.put(small)
	p.put(big)
	p.put(small2)
	p.put(nil)
	p.put(&whole{ents: make([]entRef, 10, 64), buf: make([]byte, 100, 116)}) // grown by append
	if len(p.free) != 3 {
		t.Fatalf("the pool keeps %d parts, want the 3 that fit their states", len(p.free))
	}
	if got := p.take(200, 3000); got != big {
		t.Fatalf("take for a big state: %p, want the big part %p", got, big)
	}
	if got := p.take(10, 100); got != small2 {
		t.Fatalf("take for a small state: %p, want the small part given last", got)
	}
	if got := p.take(500, 9000); got != nil {
		t.Fatalf("take for a state none fits: %p, want nil", got)
	}
	if got := p.take(10, 100); got != small {
		t.Fatalf("take: %p, want the other small part", got)
	}
	if got := p.take(0, 0); got != nil || len(p.free) != 0 {
		t.Fatalf("an empty pool gave %p and keeps %d", got, len(p.free))
	}
	var first *whole
	for i := range poolWholes + 1 {
		w := part(10, 100)
		if i == 0 {
			first = w
		}
		p.put(w)
	}
	if len(p.free) != poolWholes || slices.Contains(p.free, first) {
		t.Fatalf("a full pool keeps %d parts (the oldest kept: %v), want %d without it", len(p.free), slices.Contains(p.free, first), poolWholes)
	}
}

// TestPooledRingsKeepOneWhole: rooms of eleven sizes, ticking in turn on
// one pool as a shard's rooms do, some ticks undone, each keep one whole
// part between ticks, no part is held twice, and once warm a round of
// ticks allocates nothing: each size finds a part in the pool.
func TestPooledRingsKeepOneWhole(t *testing.T) {
	pool := new(wholePool)
	sizes := []int{8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987}
	var rings []*track
	for range sizes {
		tr := newTrack(16)
		tr.pool = pool
		rings = append(rings, tr)
	}
	var states [5][987][]byte // by tick%5 and id, made before the ticks
	for m := range states {
		for id := range states[m] {
			moved := uint64(m)
			if m == 0 { // every fifth tick nothing moves: undone
				moved = 4
			}
			states[m][id] = entityBytes(uint64(id), moved*uint64(id%2))
		}
	}
	tick := uint64(0)
	round := func() {
		tick++
		for k, tr := range rings {
			cur := tr.next(tick)
			w := Snapshot{s: cur}
			for id := range sizes[k] {
				w.EntityBytes(uint64(id), states[tick%5][id])
			}
			cur.seal()
			if prev := tr.prev(); prev != nil && prev.equal(cur) {
				tr.undo()
			}
			tr.settle()
		}
	}
	for range 40 {
		round()
		held := map[*whole]int{}
		for _, w := range pool.free {
			held[w]++
		}
		for k, tr := range rings {
			wholes := 0
			for i := range tr.ring {
				if w := tr.ring[i].whole; w != nil {
					held[w]++
					wholes++
				}
			}
			if wholes != 1 {
				t.Fatalf("tick %d: ring %d keeps %d whole parts between ticks, want 1", tick, k, wholes)
			}
			if got := tr.at(tr.cur().tick); got == nil || len(got.ents) != sizes[k] {
				t.Fatalf("tick %d: ring %d's newest state is wrong", tick, k)
			}
		}
		for w, n := range held {
			if n > 1 {
				t.Fatalf("tick %d: a whole part %p is held %d times", tick, w, n)
			}
		}
	}
	if allocs := testing.AllocsPerRun(20, round); allocs != 0 {
		t.Errorf("a warm round of ticks of eleven sizes allocates %v times, want 0", allocs)
	}
}

// TestShareInAnyOrder: a view shares the entities it names, with their
// bytes, whether it names them in ascending order (as a rule), in any
// other, or names ids the shared state lacks.
func TestShareInAnyOrder(t *testing.T) {
	shared := &snap{}
	shared.reset(1)
	w := Snapshot{s: shared}
	for id := uint64(2); id <= 200; id += 2 {
		w.EntityBytes(id, entityBytes(id, 1))
	}
	shared.seal()
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		ids := make([]uint64, 1+rng.IntN(60))
		for i := range ids {
			ids[i] = uint64(rng.IntN(205))
		}
		switch round % 3 {
		case 0:
			slices.Sort(ids)
		case 1:
			slices.Sort(ids)
			slices.Reverse(ids)
		}
		view := &snap{}
		view.reset(1)
		v := Snapshot{s: view, shared: shared}
		want := map[uint64]string{}
		for _, id := range ids {
			has := id != 0 && id%2 == 0 && id <= 200
			if got := v.Share(id); got != has {
				t.Fatalf("round %d: Share(%d) = %v, want %v", round, id, got, has)
			}
			if has {
				want[id] = string(entityBytes(id, 1))
			}
		}
		view.seal()
		if got := wholeState(view); !maps.Equal(got, want) {
			t.Fatalf("round %d (ids %v): view %v, want %v", round, ids, got, want)
		}
	}
}

// TestRecordOfManyAcks: a back record's acks are counted ahead of them in
// a varint, one byte up to 127 of them; a tick where more seats' acks
// changed (a room of hundreds of seats) keeps a record whose count takes
// two bytes, and every state reads back with its acks, whatever the count.
func TestRecordOfManyAcks(t *testing.T) {
	for _, seats := range []uint32{127, 128, 300, 20_000} {
		t.Run(fmt.Sprint(seats), func(t *testing.T) {
			tr := newTrack(4)
			keptAcks := map[uint64][]ack{}
			for tick := uint64(1); tick <= 6; tick++ {
				cur := tr.next(tick)
				w := Snapshot{s: cur}
				w.EntityBytes(1, entityBytes(1, tick))
				cur.seal()
				for seat := uint32(1); seat <= seats; seat++ {
					if tick%2 == 0 || seat%2 == 0 { // all of them change, or half
						cur.acks = append(cur.acks, ack{seat, uint32(tick)*7 + seat})
					}
				}
				keptAcks[tick] = slices.Clone(cur.acks)
				if prev := tr.prev(); prev != nil && tick%3 == 0 {
					var d delta
					d.diff(prev, cur)
					tr.record(&d)
				}
				for k := tick; k > 0 && k+3 > tick; k-- {
					s := tr.at(k)
					if s == nil || !slices.Equal(s.acks, keptAcks[k]) {
						t.Fatalf("tick %d: state of %d has other acks", tick, k)
					}
				}
				if err := tr.checkLog(); err != nil {
					t.Fatalf("tick %d: %v", tick, err)
				}
			}
		})
	}
}

// TestSealKeepsLastWrite: a game may write its entities in any order and
// an id more than once (Snapshot); the state holds each id once, in
// ascending order, with the bytes written last, whether the writes came
// in order (the usual case, which seal takes in one pass), in order with
// an id repeated, or out of order.
func TestSealKeepsLastWrite(t *testing.T) {
	type write struct {
		id   uint64
		data string
	}
	for _, tc := range []struct {
		name   string
		writes []write
		want   []write
	}{
		{"in order", []write{{1, "a"}, {2, "b"}, {7, "c"}}, []write{{1, "a"}, {2, "b"}, {7, "c"}}},
		{"in order, the last repeated", []write{{1, "a"}, {2, "b"}, {2, "B"}}, []write{{1, "a"}, {2, "B"}}},
		{"in order, the first repeated", []write{{1, "a"}, {1, "A"}, {2, "b"}}, []write{{1, "A"}, {2, "b"}}},
		{"out of order", []write{{3, "c"}, {1, "a"}, {2, "b"}}, []write{{1, "a"}, {2, "b"}, {3, "c"}}},
		{"out of order, repeated", []write{{3, "c"}, {1, "a"}, {3, "C"}, {2, "b"}, {1, "A"}}, []write{{1, "A"}, {2, "b"}, {3, "C"}}},
		{"one", []write{{4, "d"}}, []write{{4, "d"}}},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &snap{}
			s.reset(1)
			w := Snapshot{s: s}
			for _, e := range tc.writes {
				w.EntityBytes(e.id, []byte(e.data))
			}
			s.seal()
			var got []write
			for _, e := range s.ents {
				got = append(got, write{e.id, string(s.data(e))})
			}
			if !s.valid || !slices.Equal(got, tc.want) {
				t.Fatalf("sealed %v (valid %v), want %v", got, s.valid, tc.want)
			}
		})
	}
}
