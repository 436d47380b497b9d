package game

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Field numbers of tickroom.v1.ServerMessage that the runtime encodes into.
const (
	fieldServerState        = 2
	fieldServerRoomEvent    = 3
	fieldServerGameMessage  = 4
	fieldServerInputDropped = 27
)

// Field numbers of tickroom.v1.State.
const (
	fieldStateRoomID   = 1
	fieldStateTick     = 2
	fieldStateBaseTick = 3
	fieldStateKeyframe = 4
	fieldStateRoomRef  = 10
	fieldStatePatch    = 11
)

// patcher builds State.patch (protocol/statesync) on the tick worker; its
// buffers are reused from tick to tick.
type patcher struct {
	buf []byte
	set statesync.Bitset
	fs  statesync.Scratch
}

// build returns the patch that takes a client from base (nil for a
// keyframe) to cur, as described by d. It aliases p's buffer.
func (p *patcher) build(base, cur *snap, d *delta) []byte {
	var flags uint64
	if d.globalsChanged {
		flags |= statesync.FlagGlobals
	}
	if len(d.acks) > 0 {
		flags |= statesync.FlagAcks
	}
	if len(d.changed) > 0 {
		flags |= statesync.FlagChanged
	}
	if len(d.added) > 0 {
		flags |= statesync.FlagAdded
	}
	b := protowire.AppendVarint(p.buf[:0], flags)
	if d.globalsChanged {
		b = protowire.AppendBytes(b, cur.globals)
	}
	if len(d.acks) > 0 {
		// Most acks rise by one (the player's next input): a bit each.
		p.set.Reset()
		others := 0
		for i, a := range d.acks {
			if a.seq == d.baseAcks[i]+1 {
				p.set.Set(int(a.seat) - 1)
			} else {
				others++
			}
		}
		b = p.set.Append(b)
		b = protowire.AppendVarint(b, uint64(others))
		var prev uint32
		for i, a := range d.acks {
			if a.seq != d.baseAcks[i]+1 {
				b = protowire.AppendVarint(b, uint64(a.seat-prev))
				b = protowire.AppendVarint(b, statesync.AckValue(d.baseAcks[i], a.seq))
				prev = a.seat
			}
		}
	}
	if len(d.changed) > 0 {
		p.set.Reset()
		for _, c := range d.changed {
			p.set.Set(int(c.base))
		}
		b = p.set.Append(b)
		var from uint32
		for i, c := range d.changed {
			switch {
			case c.cur < 0:
				b = protowire.AppendVarint(b, statesync.HeadRemoved)
			case d.fwdOK:
				b = append(b, d.fwd[from:d.fwdEnd[i]]...)
				from = d.fwdEnd[i] // a removed entity's span is empty
			default:
				b = statesync.AppendChange(b, base.data(base.ents[c.base]), cur.data(cur.ents[c.cur]), &p.fs)
			}
		}
	}
	if len(d.added) > 0 {
		b = protowire.AppendVarint(b, uint64(len(d.added)))
		var prev uint64
		for _, j := range d.added {
			e := cur.ents[j]
			b = protowire.AppendVarint(b, e.id-prev)
			prev = e.id
			b = protowire.AppendBytes(b, cur.data(e))
		}
	}
	// d's changes were for this pair of states: another build from d
	// reads its entities afresh unless record fills them again.
	d.fwdOK = false
	p.buf = b
	return b
}

// encodeState encodes a ServerMessage holding the State that takes a client
// from base (nil for a keyframe) to cur, as described by d, into a new frame
// with one reference. The room id goes only into keyframes; every State
// names its room by ref.
func encodeState(roomID string, ref uint32, base, cur *snap, d *delta, p *patcher) *frame.Frame {
	patch := p.build(base, cur, d)
	body := 1 + protowire.SizeVarint(cur.tick)
	if base == nil {
		body += 1 + protowire.SizeBytes(len(roomID)) + 2
	} else {
		body += 1 + protowire.SizeVarint(base.tick)
	}
	if ref != 0 {
		body += 1 + protowire.SizeVarint(uint64(ref))
	}
	body += 1 + protowire.SizeBytes(len(patch))

	f := frame.New(1 + protowire.SizeBytes(body))
	b := f.Buffer()
	b = protowire.AppendTag(b, fieldServerState, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(body))
	if base == nil {
		b = protowire.AppendTag(b, fieldStateRoomID, protowire.BytesType)
		b = protowire.AppendString(b, roomID)
	}
	b = protowire.AppendTag(b, fieldStateTick, protowire.VarintType)
	b = protowire.AppendVarint(b, cur.tick)
	if base != nil {
		b = protowire.AppendTag(b, fieldStateBaseTick, protowire.VarintType)
		b = protowire.AppendVarint(b, base.tick)
	} else {
		b = protowire.AppendTag(b, fieldStateKeyframe, protowire.VarintType)
		b = append(b, 1)
	}
	if ref != 0 {
		b = protowire.AppendTag(b, fieldStateRoomRef, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(ref))
	}
	b = protowire.AppendTag(b, fieldStatePatch, protowire.BytesType)
	b = protowire.AppendBytes(b, patch)
	f.SetBuffer(b)
	return f
}

// sizedMessage is a generated message that knows its size.
type sizedMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
}

// encodeEnvelope encodes m as ServerMessage field into a new frame.
func encodeEnvelope(field protowire.Number, m sizedMessage) (*frame.Frame, error) {
	n := m.SizeVT()
	f := frame.New(1 + protowire.SizeBytes(n))
	b := f.Buffer()
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	off := len(b)
	b = append(b, make([]byte, n)...)
	if _, err := m.MarshalToSizedBufferVT(b[off:]); err != nil {
		f.Release()
		return nil, err
	}
	f.SetBuffer(b)
	return f, nil
}

// compile-time checks that the generated types fit.
var (
	_ sizedMessage = (*tickroomv1.RoomEvent)(nil)
	_ sizedMessage = (*tickroomv1.GameMessage)(nil)
	_ sizedMessage = (*tickroomv1.InputDropped)(nil)
)
