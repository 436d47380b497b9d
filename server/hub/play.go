package hub

import (
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers of the messages parseInput reads by hand; a test checks
// them against the generated descriptors.
const (
	fieldRequestID = 1 // ClientMessage.request_id
	fieldInput     = 2 // ClientMessage.input
	fieldRoomID    = 1 // Input.room_id
	fieldSeq       = 2 // Input.seq
	fieldData      = 3 // Input.data
)

// The limits Input declares (protocol/limits.md), read from its
// descriptor: an Input over one leaves the fast path, so that the full
// decoder's protocol.ValidateClientMessage refuses it as any message.
var maxInputRoomID, maxInputData = inputLimit("room_id"), inputLimit("data")

func inputLimit(name protoreflect.Name) int {
	f := (&tickroomv1.Input{}).ProtoReflect().Descriptor().Fields().ByName(name)
	lim, _ := proto.GetExtension(f.Options(), tickroomv1.E_Limit).(*tickroomv1.FieldLimit)
	if lim == nil || lim.MaxBytes == 0 {
		panic("hub: Input." + string(name) + " declares no limit")
	}
	return int(lim.MaxBytes)
}

// inputMsg is an Input whose byte fields alias the read buffer.
type inputMsg struct {
	requestID uint32
	roomID    []byte
	seq       uint32
	data      []byte
}

// parseInput decodes a ClientMessage whose body is an Input without
// allocating: inputs are most of what clients send. It reports false for
// any other message, and for one it cannot read, which the full decoder then
// serves or refuses.
func parseInput(p []byte) (in inputMsg, ok bool) {
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return in, false
		}
		p = p[n:]
		switch {
		case num == fieldRequestID && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(p)
			if m < 0 {
				return in, false
			}
			in.requestID, n = uint32(v), m
		case num == fieldInput && typ == protowire.BytesType && !ok:
			b, m := protowire.ConsumeBytes(p)
			if m < 0 || !parseInputBody(b, &in) {
				return in, false
			}
			ok, n = true, m
		default:
			// Another body, a repeated input (which protobuf would merge)
			// or an unknown field: leave it to the full decoder.
			return in, false
		}
		p = p[n:]
	}
	return in, ok
}

func parseInputBody(b []byte, in *inputMsg) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == fieldRoomID && typ == protowire.BytesType:
			in.roomID, n = protowire.ConsumeBytes(b)
		case num == fieldSeq && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			in.seq = uint32(v)
		case num == fieldData && typ == protowire.BytesType:
			in.data, n = protowire.ConsumeBytes(b)
		case num == fieldRoomID || num == fieldSeq || num == fieldData:
			return false // a known field with another wire type: refused by the full decoder
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// input hands one input to its room's inbox. It runs on the loop. A seat
// a LeaveRoom left, waiting for its Joined, takes none, as a pending join.
func (s *Session) input(in inputMsg) error {
	s.mu.Lock()
	var room *game.Room
	var seat uint32
	var spectator, leaving bool
	if m := s.find(in.roomID); m != nil {
		room, seat, spectator, leaving = m.room, m.seat, m.spectator, m.leaving
	}
	s.mu.Unlock()
	switch {
	case room == nil || seat == 0 || leaving:
		return protocol.NewError(protocol.ErrorNotInRoom, "no seat in that room")
	case spectator:
		return protocol.NewError(protocol.ErrorNotAPlayer, "spectators send no input")
	}
	if err := room.InputFrom(s, seat, in.seq, in.data); err != nil {
		s.h.stats.InputsRefused.Add(1)
		return err
	}
	s.h.stats.Inputs.Add(1)
	return nil
}
