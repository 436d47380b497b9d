package bots

import (
	"encoding/binary"

	"github.com/gobwas/ws"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/protocol/statesync"
)

// Field numbers of tickroom.v1 messages the bots encode and scan by hand,
// so the per-tick paths neither allocate nor decode entities.
const (
	fieldClientRequestID = 1
	fieldClientInput     = 2

	fieldInputRoomID = 1
	fieldInputSeq    = 2
	fieldInputData   = 3

	fieldServerRequestID = 1
	fieldServerState     = 2

	fieldStateTick     = 2
	fieldStateBaseTick = 3
	fieldStateKeyframe = 4
	fieldStatePatch    = 11
)

// appendInput appends a ClientMessage{request_id, input{room_id, seq, data}}.
func appendInput(b []byte, requestID uint32, room string, seq uint32, data []byte) []byte {
	body := 1 + protowire.SizeBytes(len(room)) + 1 + protowire.SizeVarint(uint64(seq))
	if len(data) > 0 {
		body += 1 + protowire.SizeBytes(len(data))
	}
	if requestID != 0 {
		b = protowire.AppendTag(b, fieldClientRequestID, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(requestID))
	}
	b = protowire.AppendTag(b, fieldClientInput, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(body))
	b = protowire.AppendTag(b, fieldInputRoomID, protowire.BytesType)
	b = protowire.AppendString(b, room)
	b = protowire.AppendTag(b, fieldInputSeq, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(seq))
	if len(data) > 0 {
		b = protowire.AppendTag(b, fieldInputData, protowire.BytesType)
		b = protowire.AppendBytes(b, data)
	}
	return b
}

// appendArenaInput appends an arenav1.Input{dx, dy} (sint32 fields 1, 2).
func appendArenaInput(b []byte, dx, dy int32) []byte {
	if dx != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(dx)))
	}
	if dy != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(dy)))
	}
	return b
}

// appendGomokuMove appends a gomokuv1.Move{x, y} (uint32 fields 1, 2).
func appendGomokuMove(b []byte, x, y uint32) []byte {
	if x != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(x))
	}
	if y != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(y))
	}
	return b
}

// stateInfo is what the bots read from a State: enough to measure, not to
// rebuild the world.
type stateInfo struct {
	tick, baseTick uint64
	keyframe       bool
	ack            uint64 // the change to the bot's seat's ack, when hasAck (statesync.AckValue)
	hasAck         bool
	globals        []byte // the room's globals, when the patch carries them (aliases the frame)
	hasGlobals     bool
}

// gomokuTurn reads turn_seat (field 1) from gomoku's Globals; ok is false
// when g is not valid protobuf.
func gomokuTurn(g []byte) (turn uint32, ok bool) {
	for len(g) > 0 {
		num, typ, n := protowire.ConsumeTag(g)
		if n < 0 {
			return 0, false
		}
		g = g[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(g)
			if m < 0 {
				return 0, false
			}
			turn, n = uint32(v), m
		} else if n = protowire.ConsumeFieldValue(num, typ, g); n < 0 {
			return 0, false
		}
		g = g[n:]
	}
	return turn, true
}

// scanServer reads a ServerMessage's request id and, when its body is a
// State, the State's bytes. ok is false when p is not valid protobuf.
func scanServer(p []byte) (requestID uint32, state []byte, isState, ok bool) {
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return 0, nil, false, false
		}
		p = p[n:]
		switch {
		case num == fieldServerRequestID && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(p)
			if m < 0 {
				return 0, nil, false, false
			}
			requestID, n = uint32(v), m
		case num == fieldServerState && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(p)
			if m < 0 {
				return 0, nil, false, false
			}
			state, isState, n = v, true, m
		default:
			n = protowire.ConsumeFieldValue(num, typ, p)
			if n < 0 {
				return 0, nil, false, false
			}
		}
		p = p[n:]
	}
	return requestID, state, isState, true
}

// scanState reads the tick fields of a State and the change to seat's ack
// in its patch.
func scanState(p []byte, seat uint32) (si stateInfo, ok bool) {
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return si, false
		}
		p = p[n:]
		switch {
		case typ == protowire.VarintType && (num == fieldStateTick || num == fieldStateBaseTick || num == fieldStateKeyframe):
			v, m := protowire.ConsumeVarint(p)
			if m < 0 {
				return si, false
			}
			switch num {
			case fieldStateTick:
				si.tick = v
			case fieldStateBaseTick:
				si.baseTick = v
			default:
				si.keyframe = v != 0
			}
			n = m
		case num == fieldStatePatch && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(p)
			if m < 0 {
				return si, false
			}
			var err error
			if si.ack, si.hasAck, err = statesync.ScanAck(v, seat); err != nil {
				return si, false
			}
			if si.globals, si.hasGlobals, err = statesync.ScanGlobals(v); err != nil {
				return si, false
			}
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, p)
			if n < 0 {
				return si, false
			}
		}
		p = p[n:]
	}
	return si, true
}

// appendFrame appends one masked client frame (RFC 6455 §5.2, §5.3) of
// opcode op carrying payload, masked with mask.
func appendFrame(b []byte, op ws.OpCode, payload []byte, mask uint32) []byte {
	n := len(payload)
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], mask)
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], key, 0)
	return b
}

// frameHeader is a parsed server frame header.
type frameHeader struct {
	fin    bool
	op     ws.OpCode
	length int64
	size   int // header bytes
}

// parseFrameHeader parses the header at the start of p. ok is false when
// more bytes are needed; err reports a header no server may send (masked,
// reserved bits, oversized control frame).
func parseFrameHeader(p []byte) (h frameHeader, ok bool, err error) {
	if len(p) < 2 {
		return h, false, nil
	}
	h.fin = p[0]&0x80 != 0
	h.op = ws.OpCode(p[0] & 0x0f)
	if p[0]&0x70 != 0 || p[1]&0x80 != 0 {
		return h, false, ErrProtocol
	}
	l := int64(p[1] & 0x7f)
	h.size = 2
	switch l {
	case 126:
		if len(p) < 4 {
			return h, false, nil
		}
		l, h.size = int64(binary.BigEndian.Uint16(p[2:])), 4
	case 127:
		if len(p) < 10 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(p[2:])
		if u > 1<<62 {
			return h, false, ErrProtocol
		}
		l, h.size = int64(u), 10
	}
	if h.op.IsControl() && (l > 125 || !h.fin) {
		return h, false, ErrProtocol
	}
	h.length = l
	return h, true, nil
}
