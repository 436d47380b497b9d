package game

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Field numbers of tickroom.v1.ServerMessage that the runtime encodes into.
const (
	fieldServerState       = 2
	fieldServerRoomEvent   = 3
	fieldServerGameMessage = 4
)

// Field numbers of tickroom.v1.State, tickroom.v1.Entity and
// tickroom.v1.InputAck.
const (
	fieldStateRoomID     = 1
	fieldStateTick       = 2
	fieldStateBaseTick   = 3
	fieldStateKeyframe   = 4
	fieldStateUpserts    = 5
	fieldStateRemoved    = 6
	fieldStateGlobals    = 7
	fieldStateAcks       = 8
	fieldStateGlobalsSet = 9

	fieldEntityID   = 1
	fieldEntityData = 2

	fieldAckSeat = 1
	fieldAckSeq  = 2
)

func entitySize(id uint64, n int) int {
	s := 0
	if id != 0 {
		s += 1 + protowire.SizeVarint(id)
	}
	if n != 0 {
		s += 1 + protowire.SizeBytes(n)
	}
	return s
}

// appendAck appends one State.acks entry.
func appendAck(b []byte, seat, seq uint32) []byte {
	n := 1 + protowire.SizeVarint(uint64(seat))
	if seq != 0 {
		n += 1 + protowire.SizeVarint(uint64(seq))
	}
	b = protowire.AppendTag(b, fieldStateAcks, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, fieldAckSeat, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(seat))
	if seq != 0 {
		b = protowire.AppendTag(b, fieldAckSeq, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(seq))
	}
	return b
}

// encodeState encodes a ServerMessage holding the State that takes a client
// from base (nil for a keyframe) to cur, as described by d, into a new frame
// with one reference.
func encodeState(roomID string, base, cur *snap, d *delta) *frame.Frame {
	body := 0
	if roomID != "" {
		body += 1 + protowire.SizeBytes(len(roomID))
	}
	if cur.tick != 0 {
		body += 1 + protowire.SizeVarint(cur.tick)
	}
	if base != nil && base.tick != 0 {
		body += 1 + protowire.SizeVarint(base.tick)
	}
	if base == nil {
		body += 2
	}
	for _, j := range d.upserts {
		e := cur.ents[j]
		body += 1 + protowire.SizeBytes(entitySize(e.id, int(e.n)))
	}
	packed := 0
	for _, id := range d.removed {
		packed += protowire.SizeVarint(id)
	}
	if packed > 0 {
		body += 1 + protowire.SizeBytes(packed)
	}
	if d.globalsChanged {
		if len(cur.globals) > 0 {
			body += 1 + protowire.SizeBytes(len(cur.globals))
		}
		body += 2
	}
	body += len(cur.acks)

	f := frame.New(1 + protowire.SizeBytes(body))
	b := f.Buffer()
	b = protowire.AppendTag(b, fieldServerState, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(body))
	if roomID != "" {
		b = protowire.AppendTag(b, fieldStateRoomID, protowire.BytesType)
		b = protowire.AppendString(b, roomID)
	}
	if cur.tick != 0 {
		b = protowire.AppendTag(b, fieldStateTick, protowire.VarintType)
		b = protowire.AppendVarint(b, cur.tick)
	}
	if base != nil && base.tick != 0 {
		b = protowire.AppendTag(b, fieldStateBaseTick, protowire.VarintType)
		b = protowire.AppendVarint(b, base.tick)
	}
	if base == nil {
		b = protowire.AppendTag(b, fieldStateKeyframe, protowire.VarintType)
		b = append(b, 1)
	}
	for _, j := range d.upserts {
		e := cur.ents[j]
		b = protowire.AppendTag(b, fieldStateUpserts, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(entitySize(e.id, int(e.n))))
		if e.id != 0 {
			b = protowire.AppendTag(b, fieldEntityID, protowire.VarintType)
			b = protowire.AppendVarint(b, e.id)
		}
		if e.n != 0 {
			b = protowire.AppendTag(b, fieldEntityData, protowire.BytesType)
			b = protowire.AppendBytes(b, cur.data(e))
		}
	}
	if packed > 0 {
		b = protowire.AppendTag(b, fieldStateRemoved, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(packed))
		for _, id := range d.removed {
			b = protowire.AppendVarint(b, id)
		}
	}
	if d.globalsChanged {
		if len(cur.globals) > 0 {
			b = protowire.AppendTag(b, fieldStateGlobals, protowire.BytesType)
			b = protowire.AppendBytes(b, cur.globals)
		}
	}
	b = append(b, cur.acks...)
	if d.globalsChanged {
		b = protowire.AppendTag(b, fieldStateGlobalsSet, protowire.VarintType)
		b = append(b, 1)
	}
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
)
