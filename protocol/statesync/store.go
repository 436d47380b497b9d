package statesync

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Errors of Store.Apply besides ErrMalformed.
var (
	// ErrNoKeyframe: a delta arrived before any keyframe.
	ErrNoKeyframe = errors.New("statesync: delta before a keyframe")
	// ErrBaseMismatch: a delta's base is not the store's tick.
	ErrBaseMismatch = errors.New("statesync: delta base is not the store's tick")
)

// Entity is one entity of a Store.
type Entity struct {
	ID   uint64
	Data []byte
}

// Ack is one seat's last applied input sequence number.
type Ack struct {
	Seat, Seq uint32
}

// Store is a room's state as a client holds it, built by applying
// keyframes and deltas in order. A refused or malformed State leaves it
// unchanged. Its methods are not safe for concurrent use.
type Store struct {
	tick    uint64
	has     bool
	ents    []Entity // sorted by id
	globals []byte
	acks    []Ack // sorted by seat
	fields  []Field
}

// Tick returns the tick of the state held; 0 before the first keyframe.
func (s *Store) Tick() uint64 { return s.tick }

// HasState reports whether a keyframe has been applied.
func (s *Store) HasState() bool { return s.has }

// Entities returns the entities, sorted by id. The slice and the bytes are
// the store's: valid until the next Apply, not to be modified.
func (s *Store) Entities() []Entity { return s.ents }

// Get returns one entity's bytes.
func (s *Store) Get(id uint64) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(s.ents, id, func(e Entity, id uint64) int { return cmp.Compare(e.ID, id) })
	if !ok {
		return nil, false
	}
	return s.ents[i].Data, true
}

// Globals returns the room globals (empty when the game has none).
func (s *Store) Globals() []byte { return s.globals }

// Acks returns the acks, sorted by seat.
func (s *Store) Acks() []Ack { return s.acks }

// AckFor returns a seat's ack.
func (s *Store) AckFor(seat uint32) (uint32, bool) {
	for _, a := range s.acks {
		if a.Seat == seat {
			return a.Seq, true
		}
	}
	return 0, false
}

// Result is what one Apply changed.
type Result struct {
	// Upserted lists the ids of entities that appeared or changed, in
	// order; Removed those that left (for a keyframe, those it did not
	// list).
	Upserted, Removed []uint64
	// GlobalsChanged is true when the globals were set.
	GlobalsChanged bool
	// Acks lists the acks that changed (Seq 0: the seat has none any more).
	Acks []Ack
}

// Clone returns a copy of the store that shares nothing with it.
func (s *Store) Clone() *Store {
	c := &Store{tick: s.tick, has: s.has, globals: slices.Clone(s.globals), acks: slices.Clone(s.acks)}
	c.ents = make([]Entity, len(s.ents))
	for i, e := range s.ents {
		c.ents[i] = Entity{ID: e.ID, Data: slices.Clone(e.Data)}
	}
	return c
}

// Reset forgets everything.
func (s *Store) Reset() { *s = Store{fields: s.fields} }

// Apply applies one State: a keyframe replaces everything; a delta applies
// only onto the tick it was computed from.
func (s *Store) Apply(keyframe bool, tick, base uint64, patch []byte) (Result, error) {
	var res Result
	if !keyframe {
		if !s.has {
			return res, ErrNoKeyframe
		}
		if base != s.tick {
			return res, fmt.Errorf("%w: base %d, store %d", ErrBaseMismatch, base, s.tick)
		}
	}
	var old []Entity
	var oldAcks []Ack
	globals := s.globals
	if !keyframe {
		old, oldAcks = s.ents, s.acks
	} else {
		globals = nil
	}
	r := reader{p: patch}
	flags := r.varint()
	if flags&^flagsKnown != 0 || (keyframe && flags&FlagChanged != 0) {
		return res, ErrMalformed
	}
	if flags&FlagGlobals != 0 {
		globals = append([]byte(nil), r.bytes()...)
		res.GlobalsChanged = true
	}
	acks := slices.Clone(oldAcks)
	if flags&FlagAcks != 0 {
		setAck := func(seat uint32, v uint64) {
			j, found := slices.BinarySearchFunc(acks, seat, func(a Ack, s uint32) int { return cmp.Compare(a.Seat, s) })
			var b uint32
			if found {
				b = acks[j].Seq
			}
			seq := ApplyAck(b, v)
			res.Acks = append(res.Acks, Ack{Seat: seat, Seq: seq})
			switch {
			case seq == 0 && found:
				acks = slices.Delete(acks, j, j+1)
			case seq == 0:
			case found:
				acks[j].Seq = seq
			default:
				acks = slices.Insert(acks, j, Ack{Seat: seat, Seq: seq})
			}
		}
		up := r.bytes()
		for i, by := range up {
			for ; by != 0; by &= by - 1 {
				setAck(uint32(i*8+bits.TrailingZeros8(by))+1, AckValue(0, 1))
			}
		}
		n := r.varint()
		if n > uint64(len(r.p)) {
			return res, ErrMalformed
		}
		var seat uint64
		for range n {
			gap := r.varint()
			v := r.varint()
			seat += gap
			if gap == 0 || seat > 1<<32-1 || r.bad || (seat-1)/8 < uint64(len(up)) && up[(seat-1)/8]&(1<<((seat-1)%8)) != 0 {
				return res, ErrMalformed // a seat listed twice
			}
			setAck(uint32(seat), v)
		}
	}
	ents := make([]Entity, 0, len(old))
	if flags&FlagChanged != 0 {
		set := r.bytes()
		if len(set) > (len(old)+7)/8 {
			return res, ErrMalformed
		}
		next := 0
		for i, by := range set {
			for ; by != 0; by &= by - 1 {
				k := i*8 + bits.TrailingZeros8(by)
				if k >= len(old) {
					return res, ErrMalformed
				}
				ents = append(ents, old[next:k]...)
				next = k + 1
				h := r.varint()
				if h == HeadRemoved {
					res.Removed = append(res.Removed, old[k].ID)
				} else {
					res.Upserted = append(res.Upserted, old[k].ID)
				}
				switch h {
				case HeadRemoved:
				case HeadWhole:
					ents = append(ents, Entity{ID: old[k].ID, Data: append([]byte(nil), r.bytes()...)})
				default:
					d, err := s.applyFields(old[k].Data, h-1, &r)
					if err != nil {
						return res, err
					}
					ents = append(ents, Entity{ID: old[k].ID, Data: d})
				}
				if r.bad {
					return res, ErrMalformed
				}
			}
		}
		ents = append(ents, old[next:]...)
	} else {
		ents = append(ents, old...)
	}
	if flags&FlagAdded != 0 {
		n := r.varint()
		if n > uint64(len(r.p)) {
			return res, ErrMalformed
		}
		var id uint64
		for i := range n {
			gap := r.varint()
			if (i > 0 && gap == 0) || id+gap < id {
				return res, ErrMalformed
			}
			id += gap
			data := r.bytes()
			if r.bad {
				return res, ErrMalformed
			}
			j, found := slices.BinarySearchFunc(ents, id, func(e Entity, id uint64) int { return cmp.Compare(e.ID, id) })
			if found {
				return res, ErrMalformed
			}
			ents = slices.Insert(ents, j, Entity{ID: id, Data: append([]byte(nil), data...)})
			res.Upserted = append(res.Upserted, id)
		}
	}
	if r.bad || len(r.p) != 0 {
		return res, ErrMalformed
	}
	if keyframe {
		for _, e := range s.ents {
			if _, found := slices.BinarySearchFunc(ents, e.ID, func(e Entity, id uint64) int { return cmp.Compare(e.ID, id) }); !found {
				res.Removed = append(res.Removed, e.ID)
			}
		}
	}
	s.ents, s.acks, s.globals = ents, acks, globals
	if s.globals == nil {
		s.globals = []byte{}
	}
	s.tick, s.has = tick, true
	return res, nil
}

// applyFields rebuilds an entity from its old bytes and the changed field
// values in r, per mask.
func (s *Store) applyFields(old []byte, mask uint64, r *reader) ([]byte, error) {
	var ok bool
	s.fields, ok = ParseFields(s.fields[:0], old)
	if !ok || (len(s.fields) < 64 && mask>>len(s.fields) != 0) {
		return nil, ErrMalformed
	}
	out := appendFields(make([]byte, 0, len(old)+8), old, s.fields, mask, r)
	if r.bad {
		return nil, ErrMalformed
	}
	return out, nil
}

// appendFields appends to dst old's fields with those in mask replaced by
// the values in r (see AppendChange). A failed read leaves r.bad set.
func appendFields(dst, old []byte, fields []Field, mask uint64, r *reader) []byte {
	for i, f := range fields {
		dst = append(dst, old[f.Tag:f.Val]...)
		if mask&(1<<i) == 0 {
			dst = append(dst, old[f.Val:f.End]...)
			continue
		}
		switch f.Type {
		case protowire.VarintType:
			d := protowire.DecodeZigZag(r.varint())
			dst = protowire.AppendVarint(dst, f.Varint+uint64(d))
		case protowire.Fixed32Type:
			dst = append(dst, r.fixed(4)...)
		case protowire.Fixed64Type:
			dst = append(dst, r.fixed(8)...)
		default:
			dst = protowire.AppendBytes(dst, r.bytes())
		}
		if r.bad {
			return dst
		}
	}
	return dst
}
