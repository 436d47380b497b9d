// Package statesync is the byte layout of State.patch (tickroom.v1), the
// compact form in which a room's entities, globals and input acks travel:
// the pieces the server encodes with and a Store that applies keyframes and
// deltas as a client does. docs/state-sync.md describes the layout.
//
// A patch is schema-agnostic. An entity is an id and the game's encoded
// message; when an entity changed, its bytes are read as protobuf fields
// (tag, wire type, value) without a schema, and a delta sends only the
// fields whose values changed: a varint as the zigzag varint of the
// difference, other fields whole. An entity whose field list changed, or
// whose bytes are not protobuf, is sent whole. Nothing here allocates on a
// length read from the wire before checking it against the bytes at hand.
//
// It imports nothing else of tickroom's.
package statesync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Flags of a patch: which sections follow, in this order.
const (
	FlagGlobals = 1 << 0 // globals: varint length, bytes
	FlagAcks    = 1 << 1 // acks: bitset of seats whose ack rose by one, then a count and (seat gap, value) for the other changes
	FlagChanged = 1 << 2 // changes to base entities: index bitset, one change per set bit
	FlagAdded   = 1 << 3 // entities not in the base: count, then id gap, length, bytes each
	flagsKnown  = FlagGlobals | FlagAcks | FlagChanged | FlagAdded
)

// Change heads: the varint that opens the change of one base entity.
const (
	// HeadRemoved: the entity is gone.
	HeadRemoved = 0
	// HeadWhole: the entity's new bytes follow (varint length, bytes).
	HeadWhole = 1
	// Any larger head h is the mask h-1 over the base entity's fields.
)

// MaxFields is the largest number of protobuf fields an entity may have
// to be sent field by field; a larger one is sent whole.
const MaxFields = 63

// ErrMalformed is returned for a patch that does not follow the layout.
var ErrMalformed = errors.New("statesync: malformed patch")

// Field is one protobuf field of an entity: its tag and value as offsets
// into the entity's bytes, and for a varint its value.
type Field struct {
	Num    protowire.Number
	Type   protowire.Type
	Tag    uint32 // offset of the tag
	Val    uint32 // offset of the value
	End    uint32 // offset just past the value
	Varint uint64
}

// ParseFields appends the top-level protobuf fields of b to dst. ok is
// false when b is not protobuf (groups count as not), or has more than
// MaxFields fields; dst's contents are then unspecified.
//
// A game's entity is mostly one-byte tags, small varints and short
// lengths, which it reads here in line; anything longer goes through
// protowire, whose checks the one-byte cases already meet. It is the hot
// loop of a change applied (AppendApplied: a client's Store, a rebuilt
// old state; BenchmarkParseFields), and FuzzParseFields holds it to
// protowire's reading. A tick's changes read their two entities side by
// side instead (changed).
func ParseFields(dst []Field, b []byte) (fields []Field, ok bool) {
	off := 0
	for off < len(b) {
		if len(dst) == MaxFields {
			return dst, false
		}
		tag := off
		var num protowire.Number
		var typ protowire.Type
		if c := b[off]; c < 0x80 {
			num, typ = protowire.Number(c>>3), protowire.Type(c&7)
			if num < protowire.MinValidNumber {
				return dst, false
			}
			off++
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(b[off:])
			if n < 0 {
				return dst, false
			}
			off += n
		}
		f := Field{Num: num, Type: typ, Tag: uint32(tag), Val: uint32(off)}
		switch typ {
		case protowire.VarintType:
			if off < len(b) && b[off] < 0x80 {
				f.Varint = uint64(b[off])
				off++
				break
			}
			v, m := protowire.ConsumeVarint(b[off:])
			if m < 0 {
				return dst, false
			}
			f.Varint = v
			off += m
		case protowire.Fixed32Type:
			if len(b)-off < 4 {
				return dst, false
			}
			off += 4
		case protowire.Fixed64Type:
			if len(b)-off < 8 {
				return dst, false
			}
			off += 8
		case protowire.BytesType:
			if off < len(b) && b[off] < 0x80 {
				if int(b[off]) >= len(b)-off {
					return dst, false
				}
				off += 1 + int(b[off])
				break
			}
			_, m := protowire.ConsumeBytes(b[off:])
			if m < 0 {
				return dst, false
			}
			off += m
		default:
			return dst, false
		}
		f.End = uint32(off)
		dst = append(dst, f)
	}
	return dst, true
}

// readField reads the field at b[off:] (off < len(b)) as ParseFields
// does, whose loop is written out rather than calling this (a call a
// field cost it a third more: BenchmarkParseFields); ok is false when it
// is not a protobuf field (a group counts as not). FuzzChanges holds it,
// through changed, to protowire's reading.
func readField(b []byte, off int) (f Field, ok bool) {
	f.Tag = uint32(off)
	if c := b[off]; c < 0x80 {
		f.Num, f.Type = protowire.Number(c>>3), protowire.Type(c&7)
		if f.Num < protowire.MinValidNumber {
			return f, false
		}
		off++
	} else {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return f, false
		}
		f.Num, f.Type = num, typ
		off += n
	}
	f.Val = uint32(off)
	switch f.Type {
	case protowire.VarintType:
		if off < len(b) && b[off] < 0x80 {
			f.Varint = uint64(b[off])
			off++
			break
		}
		v, m := protowire.ConsumeVarint(b[off:])
		if m < 0 {
			return f, false
		}
		f.Varint = v
		off += m
	case protowire.Fixed32Type:
		if len(b)-off < 4 {
			return f, false
		}
		off += 4
	case protowire.Fixed64Type:
		if len(b)-off < 8 {
			return f, false
		}
		off += 8
	case protowire.BytesType:
		if off < len(b) && b[off] < 0x80 {
			if int(b[off]) >= len(b)-off {
				return f, false
			}
			off += 1 + int(b[off])
			break
		}
		_, m := protowire.ConsumeBytes(b[off:])
		if m < 0 {
			return f, false
		}
		off += m
	default:
		return f, false
	}
	f.End = uint32(off)
	return f, true
}

// SameFields reports whether a and b are equal bytes, or protobuf with the
// same top-level fields and values however their varints and lengths are
// encoded: what a delta rebuilt with minimal varints is to the game's own
// encoding. It allocates; it is meant for tests and tools.
func SameFields(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	fa, okA := ParseFields(nil, a)
	fb, okB := ParseFields(nil, b)
	if !okA || !okB || len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		x, y := fa[i], fb[i]
		if x.Num != y.Num || x.Type != y.Type {
			return false
		}
		switch x.Type {
		case protowire.VarintType:
			if x.Varint != y.Varint {
				return false
			}
		case protowire.BytesType:
			vx, _ := protowire.ConsumeBytes(a[x.Val:x.End])
			vy, _ := protowire.ConsumeBytes(b[y.Val:y.End])
			if !bytes.Equal(vx, vy) {
				return false
			}
		default:
			if !bytes.Equal(a[x.Val:x.End], b[y.Val:y.End]) {
				return false
			}
		}
	}
	return true
}

// Scratch holds the field lists an encoder reuses between entities.
type Scratch struct {
	old, cur []Field
}

// AppendChange appends the change from an entity's old bytes to its cur
// bytes: a field mask and the changed values when both parse into the same
// field list (numbers and wire types, in order), else HeadWhole and cur.
// The caller knows the two differ.
func AppendChange(b []byte, old, cur []byte, s *Scratch) []byte {
	mask, ok := s.changed(old, cur)
	if !ok {
		return appendWhole(b, cur)
	}
	return appendMasked(b, old, cur, s.old, s.cur, mask)
}

// AppendChanges appends to fwd the change from old to cur and to back the
// change from cur to old, reading each once: what AppendChange(fwd, old,
// cur, s) and AppendChange(back, cur, old, s) append (FuzzAppendChanges).
// A tick's delta and the back record it keeps of the state before are
// these two of every entity that moved.
//
// It reads the two side by side as changed does, and writes each changed
// value straight into both, after a head byte kept for each: the mask,
// known at the end, is one byte unless a field past the sixth changed,
// and the values move up for a longer one. The field lists and the second
// pass over them that AppendChange takes cost a moved player's pair of
// changes half again as much (BenchmarkAppendChanges: 1,214 instructions
// against 821).
func AppendChanges(fwd, back []byte, old, cur []byte, s *Scratch) ([]byte, []byte) {
	f0, b0 := len(fwd), len(back)
	out := changeBufs{append(fwd, 0), append(back, 0)}
	mask, ok := out.appendChangedValues(old, cur)
	if !ok {
		return appendWhole(out.fwd[:f0], cur), appendWhole(out.back[:b0], old)
	}
	return putHead(out.fwd, f0, mask+1), putHead(out.back, b0, mask+1)
}

// changeBufs are the change buffers appendChangedValues writes to, held
// in memory rather than registers: its loop reads two entities side by
// side and keeps its place in both, and the buffers, written a few times
// an entity, would crowd that out.
type changeBufs struct{ fwd, back []byte }

// appendChangedValues is changed writing the values it finds changed as
// it goes: to fwd cur's (a varint as the zigzag of cur's value less
// old's), to back old's, as appendMasked would from the field lists.
func (out *changeBufs) appendChangedValues(old, cur []byte) (mask uint64, ok bool) {
	i, j := 0, 0
	for n := 0; ; n++ {
		// Written so that the compiler knows old[i] and cur[j] are there.
		if uint(i) >= uint(len(old)) || uint(j) >= uint(len(cur)) {
			if i == len(old) && j == len(cur) {
				break
			}
			return 0, false
		}
		if n == MaxFields {
			return 0, false
		}
		if c := old[i]; c == cur[j] && c < 0x80 && c>>3 >= byte(protowire.MinValidNumber) {
			switch protowire.Type(c & 7) {
			case protowire.VarintType:
				vo, no := shortVarint(old, i+1)
				vc, nc := shortVarint(cur, j+1)
				if no == 0 || nc == 0 {
					break
				}
				if vo != vc {
					mask |= 1 << n
					out.fwd = appendVarint(out.fwd, protowire.EncodeZigZag(int64(vc-vo)))
					out.back = appendVarint(out.back, protowire.EncodeZigZag(int64(vo-vc)))
				}
				i, j = i+1+no, j+1+nc
				continue
			case protowire.BytesType:
				if i+1 == len(old) || j+1 == len(cur) {
					break
				}
				lo, lc := int(old[i+1]), int(cur[j+1])
				if lo >= 0x80 || lc >= 0x80 || lo >= len(old)-i-1 || lc >= len(cur)-j-1 {
					break
				}
				eo, ec := i+2+lo, j+2+lc
				if string(old[i+1:eo]) != string(cur[j+1:ec]) {
					mask |= 1 << n
					out.fwd = append(out.fwd, cur[j+1:ec]...)
					out.back = append(out.back, old[i+1:eo]...)
				}
				i, j = eo, ec
				continue
			}
		}
		o, okO := readField(old, i)
		c, okC := readField(cur, j)
		if !okO || !okC || o.Num != c.Num || o.Type != c.Type {
			return 0, false
		}
		i, j = int(o.End), int(c.End)
		if c.Type == protowire.VarintType {
			if o.Varint == c.Varint {
				continue
			}
			out.fwd = appendVarint(out.fwd, protowire.EncodeZigZag(int64(c.Varint-o.Varint)))
			out.back = appendVarint(out.back, protowire.EncodeZigZag(int64(o.Varint-c.Varint)))
		} else {
			if string(old[o.Val:o.End]) == string(cur[c.Val:c.End]) {
				continue
			}
			out.fwd = append(out.fwd, cur[c.Val:c.End]...)
			out.back = append(out.back, old[o.Val:o.End]...)
		}
		mask |= 1 << n
	}
	return mask, mask != 0
}

// putHead writes the varint head into the byte kept for it at b[at],
// moving what follows up when it takes more than that byte.
func putHead(b []byte, at int, head uint64) []byte {
	if head < 0x80 {
		b[at] = byte(head)
		return b
	}
	var h [binary.MaxVarintLen64]byte
	n := len(protowire.AppendVarint(h[:0], head))
	b = slices.Insert(b, at+1, h[1:n]...)
	b[at] = h[0]
	return b
}

// appendVarint is protowire.AppendVarint with a value under 128 appended
// in line, as nearly every mask and step of a moved entity is.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// changed reads old and cur side by side, field by field, and returns
// the mask of the fields whose values differ, with s.old and s.cur holding
// those fields of each, in order; ok is false when the change is to be
// sent whole: either is not protobuf, their field lists differ (numbers
// and wire types, in order, or more than MaxFields fields), or no value
// does (a non-minimal varint; whole rather than nothing, so that both
// sides hold equal bytes). The mask is the same either way round.
//
// It reads each field once and keeps only the changed ones, and a varint
// of one or two bytes or a length of one byte under a one-byte tag in both
// (most of a game's entity) it reads in line, rather than parsing each
// whole and comparing the lists (BenchmarkAppendChanges, before
// AppendChanges read them as appendChangedValues does). FuzzChanges holds
// it to that way.
func (s *Scratch) changed(old, cur []byte) (mask uint64, ok bool) {
	s.old, s.cur = s.old[:0], s.cur[:0]
	i, j := 0, 0
	for n := 0; i < len(old) || j < len(cur); n++ {
		if i == len(old) || j == len(cur) || n == MaxFields {
			return 0, false
		}
		if c := old[i]; c == cur[j] && c < 0x80 && c>>3 >= byte(protowire.MinValidNumber) {
			switch protowire.Type(c & 7) {
			case protowire.VarintType:
				vo, no := shortVarint(old, i+1)
				vc, nc := shortVarint(cur, j+1)
				if no == 0 || nc == 0 {
					break
				}
				if vo != vc {
					mask |= 1 << n
					num := protowire.Number(c >> 3)
					s.old = append(s.old, Field{Num: num, Type: protowire.VarintType, Tag: uint32(i), Val: uint32(i + 1), End: uint32(i + 1 + no), Varint: vo})
					s.cur = append(s.cur, Field{Num: num, Type: protowire.VarintType, Tag: uint32(j), Val: uint32(j + 1), End: uint32(j + 1 + nc), Varint: vc})
				}
				i, j = i+1+no, j+1+nc
				continue
			case protowire.BytesType:
				// A one-byte length within the bytes at hand, in both: a
				// name, most often the same.
				if i+1 == len(old) || j+1 == len(cur) {
					break
				}
				lo, lc := int(old[i+1]), int(cur[j+1])
				if lo >= 0x80 || lc >= 0x80 || lo >= len(old)-i-1 || lc >= len(cur)-j-1 {
					break
				}
				eo, ec := i+2+lo, j+2+lc
				if string(old[i+1:eo]) != string(cur[j+1:ec]) {
					mask |= 1 << n
					num := protowire.Number(c >> 3)
					s.old = append(s.old, Field{Num: num, Type: protowire.BytesType, Tag: uint32(i), Val: uint32(i + 1), End: uint32(eo)})
					s.cur = append(s.cur, Field{Num: num, Type: protowire.BytesType, Tag: uint32(j), Val: uint32(j + 1), End: uint32(ec)})
				}
				i, j = eo, ec
				continue
			}
		}
		o, okO := readField(old, i)
		c, okC := readField(cur, j)
		if !okO || !okC || o.Num != c.Num || o.Type != c.Type {
			return 0, false
		}
		i, j = int(o.End), int(c.End)
		if c.Type == protowire.VarintType {
			if o.Varint == c.Varint {
				continue
			}
		} else if string(old[o.Val:o.End]) == string(cur[c.Val:c.End]) {
			continue
		}
		mask |= 1 << n
		s.old = append(s.old, o)
		s.cur = append(s.cur, c)
	}
	return mask, mask != 0
}

// shortVarint reads a varint of one or two bytes at b[off:]; n is 0 when
// there is none (a longer one, or the end of b).
func shortVarint(b []byte, off int) (v uint64, n int) {
	if off < len(b) {
		if c := b[off]; c < 0x80 {
			return uint64(c), 1
		}
		if off+1 < len(b) && b[off+1] < 0x80 {
			return uint64(b[off]&0x7f) | uint64(b[off+1])<<7, 2
		}
	}
	return 0, 0
}

// appendMasked appends the change from from to to over the fields in mask,
// fromF and toF the fields of each in it, in order (changed).
func appendMasked(b, from, to []byte, fromF, toF []Field, mask uint64) []byte {
	b = protowire.AppendVarint(b, mask+1)
	for k := range toF {
		f, t := &fromF[k], &toF[k]
		if t.Type == protowire.VarintType {
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(t.Varint-f.Varint)))
		} else {
			b = append(b, to[t.Val:t.End]...)
		}
	}
	return b
}

// AppendWhole appends a change that gives an entity's bytes whole:
// HeadWhole, cur's length and cur.
func AppendWhole(b, cur []byte) []byte { return appendWhole(b, cur) }

// AppendApplied appends to dst the bytes of an entity after the change
// at the start of change (as AppendChange or AppendWhole write it) is
// applied to its old bytes, and returns them with the length of the
// change read; bytes after the change are not looked at. A change that
// is cut short, that does not fit old (a field mask beyond old's fields,
// or old not protobuf), or HeadRemoved is ErrMalformed, and dst is then
// returned as it came. What it appends is at most len(old), the change's
// length and 9 bytes a field of old (a varint that grew to 10 bytes), so
// no length read from change makes it allocate more than change holds.
// It allocates only to grow dst or s.
func AppendApplied(dst, old, change []byte, s *Scratch) ([]byte, int, error) {
	r := reader{p: change}
	n := len(dst)
	switch head := r.varint(); {
	case r.bad || head == HeadRemoved:
		return dst, 0, ErrMalformed
	case head == HeadWhole:
		b := r.bytes()
		if r.bad {
			return dst, 0, ErrMalformed
		}
		dst = append(dst, b...)
	default:
		mask := head - 1
		var ok bool
		s.old, ok = ParseFields(s.old[:0], old)
		if !ok || mask>>len(s.old) != 0 {
			return dst, 0, ErrMalformed
		}
		dst = appendFields(dst, old, s.old, mask, &r)
		if r.bad {
			return dst[:n], 0, ErrMalformed
		}
	}
	return dst, len(change) - len(r.p), nil
}

func appendWhole(b, cur []byte) []byte {
	b = protowire.AppendVarint(b, HeadWhole)
	return protowire.AppendBytes(b, cur)
}

// Bitset builds a bitset section: a varint byte count, then the bytes,
// bit i in byte i/8 at position i%8. Its buffer is reused.
type Bitset struct{ b []byte }

// Reset empties the set.
func (s *Bitset) Reset() { s.b = s.b[:0] }

// Set sets bit i.
func (s *Bitset) Set(i int) {
	for len(s.b) <= i/8 {
		s.b = append(s.b, 0)
	}
	s.b[i/8] |= 1 << (i % 8)
}

// Empty reports whether no bit is set.
func (s *Bitset) Empty() bool { return len(s.b) == 0 }

// Append appends the section.
func (s *Bitset) Append(b []byte) []byte {
	b = protowire.AppendVarint(b, uint64(len(s.b)))
	return append(b, s.b...)
}

// AckValue is the varint an ack section carries for a seat whose ack went
// from base (0: none) to seq (0: none any more).
func AckValue(base, seq uint32) uint64 {
	if seq == 0 {
		return 0
	}
	return protowire.EncodeZigZag(int64(seq)-int64(base)) + 1
}

// reader reads a patch; its first error sticks.
type reader struct {
	p   []byte
	bad bool
}

func (r *reader) varint() uint64 {
	if r.bad {
		return 0
	}
	v, n := protowire.ConsumeVarint(r.p)
	if n < 0 {
		r.bad = true
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *reader) bytes() []byte {
	if r.bad {
		return nil
	}
	v, n := protowire.ConsumeBytes(r.p)
	if n < 0 {
		r.bad = true
		return nil
	}
	r.p = r.p[n:]
	return v
}

func (r *reader) fixed(n int) []byte {
	if r.bad || len(r.p) < n {
		r.bad = true
		return nil
	}
	v := r.p[:n]
	r.p = r.p[n:]
	return v
}

// ScanGlobals returns the globals a patch carries (they travel whole) without
// applying anything: present is false when the patch leaves them unchanged.
// globals aliases patch.
func ScanGlobals(patch []byte) (globals []byte, present bool, err error) {
	r := reader{p: patch}
	flags := r.varint()
	if flags&^flagsKnown != 0 {
		return nil, false, ErrMalformed
	}
	if r.bad {
		return nil, false, ErrMalformed
	}
	if flags&FlagGlobals == 0 {
		return nil, false, nil
	}
	g := r.bytes()
	if r.bad {
		return nil, false, ErrMalformed
	}
	return g, true, nil
}

// ScanAck reads the ack section of a patch for one seat without applying
// anything: present is true when the patch changes that seat's ack, and
// value is then what it holds for it in AckValue's terms (ApplyAck turns it
// into the new sequence number).
func ScanAck(patch []byte, seat uint32) (value uint64, present bool, err error) {
	r := reader{p: patch}
	flags := r.varint()
	if flags&^flagsKnown != 0 {
		return 0, false, ErrMalformed
	}
	if flags&FlagGlobals != 0 {
		r.bytes()
	}
	if flags&FlagAcks == 0 || r.bad {
		if r.bad {
			return 0, false, ErrMalformed
		}
		return 0, false, nil
	}
	if set := r.bytes(); seat > 0 && int(seat-1)/8 < len(set) && set[(seat-1)/8]&(1<<((seat-1)%8)) != 0 {
		value, present = AckValue(0, 1), true // one up: zigzag(+1)+1
	}
	n := r.varint()
	if n > uint64(len(r.p)) {
		return 0, false, ErrMalformed
	}
	var s uint64
	for range n {
		s += r.varint()
		v := r.varint()
		if s == uint64(seat) {
			value, present = v, true
		}
	}
	if r.bad {
		return 0, false, ErrMalformed
	}
	return value, present, nil
}

// ApplyAck returns the sequence number an ack value gives on top of base;
// 0 means the seat has no ack any more.
func ApplyAck(base uint32, value uint64) uint32 {
	if value == 0 {
		return 0
	}
	return uint32(int64(base) + protowire.DecodeZigZag(value-1))
}
