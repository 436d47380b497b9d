package server

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

// frameError is a peer's violation of RFC 6455, answered with close code.
type frameError struct {
	code   ws.StatusCode
	reason string
}

func (e *frameError) Error() string { return "server: " + e.reason }

// Frame-level refusals, one per RFC rule. Reasons go in the close frame.
var (
	errRsv           = &frameError{ws.StatusProtocolError, "reserved bits set"}              // §5.2, no extensions negotiated
	errReservedOp    = &frameError{ws.StatusProtocolError, "reserved opcode"}                // §5.2
	errUnmasked      = &frameError{ws.StatusProtocolError, "client frame not masked"}        // §5.1
	errControlLong   = &frameError{ws.StatusProtocolError, "control frame over 125 bytes"}   // §5.5
	errControlFrag   = &frameError{ws.StatusProtocolError, "fragmented control frame"}       // §5.5
	errLength63      = &frameError{ws.StatusProtocolError, "payload length has the top bit"} // §5.2
	errContExpected  = &frameError{ws.StatusProtocolError, "data frame inside a fragmented message"}
	errContUnexpect  = &frameError{ws.StatusProtocolError, "continuation without a message"}
	errFrameTooBig   = &frameError{ws.StatusMessageTooBig, "frame too big"}   // §7.4.1
	errMessageTooBig = &frameError{ws.StatusMessageTooBig, "message too big"} // §7.4.1
	errBadUTF8       = &frameError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"}
	errCloseBody     = &frameError{ws.StatusProtocolError, "close payload of one byte"} // §5.5.1
	errCloseCode     = &frameError{ws.StatusProtocolError, "invalid close code"}        // §7.4
	errCloseReason   = &frameError{ws.StatusProtocolError, "invalid UTF-8 in close reason"}
)

// maxControlPayload is the largest control frame payload (RFC 6455 §5.5).
const maxControlPayload = 125

// maxHeaderLen is the longest header of a frame the server sends
// (unmasked, 64-bit length; RFC 6455 §5.2).
const maxHeaderLen = 10

// parseHeader decodes the frame header at the start of b without copying.
// n is the header length, or 0 when b does not yet hold a whole header. It
// checks only what the header alone decides: RSV bits, opcode, mask,
// control frame rules and the 63-bit length; the caller checks sizes and
// continuation order, which depend on connection state.
func parseHeader(b []byte) (h ws.Header, n int, err *frameError) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, errLength63
		}
		h.Length = int64(u)
		n = 10
	default:
		h.Length = int64(l)
	}
	// Rule checks come before the mask key is awaited, so a bad frame is
	// refused as early as its first bytes allow.
	switch {
	case h.Rsv != 0:
		return h, 0, errRsv
	case h.OpCode.IsReserved():
		return h, 0, errReservedOp
	case !h.Masked:
		return h, 0, errUnmasked
	case h.OpCode.IsControl() && h.Length > maxControlPayload:
		return h, 0, errControlLong
	case h.OpCode.IsControl() && !h.Fin:
		return h, 0, errControlFrag
	}
	if len(b) < n+4 {
		return h, 0, nil
	}
	copy(h.Mask[:], b[n:n+4])
	return h, n + 4, nil
}

// headerLen is the length of an unmasked server frame header for a payload
// of n bytes.
func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// putHeader writes an unmasked, final frame header for op and an n-byte
// payload into b, which must be headerLen(n) long.
func putHeader(b []byte, op ws.OpCode, n int) {
	b[0] = 0x80 | byte(op)
	switch len(b) {
	case 2:
		b[1] = byte(n)
	case 4:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
}

// PrepareFrame writes the WebSocket header for a final frame of opcode op
// into f's headroom, so f.Wire() is the whole frame. Call it once, after
// the payload is complete and before the frame is shared with SendFrame or
// Broadcast. It does not allocate.
func PrepareFrame(f *frame.Frame, op ws.OpCode) {
	n := len(f.Payload())
	putHeader(f.HeaderRoom(headerLen(n)), op, n)
}

// prepared reports whether PrepareFrame has been called on f.
func prepared(f *frame.Frame) bool { return len(f.Wire()) > len(f.Payload()) }

// appendControl appends an unmasked control frame to b.
func appendControl(b []byte, op ws.OpCode, payload []byte) []byte {
	b = append(b, 0x80|byte(op), byte(len(payload)))
	return append(b, payload...)
}

// appendClose appends a close frame with code and reason (cut to fit 125
// bytes) to b. Code 0 gives an empty close frame.
func appendClose(b []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return append(b, 0x80|byte(ws.OpClose), 0)
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	b = append(b, 0x80|byte(ws.OpClose), byte(2+len(reason)), byte(code>>8), byte(code))
	return append(b, reason...)
}

// parseClose checks a close frame payload (RFC 6455 §5.5.1, §7.4) and
// returns its code (1005 when empty) and reason.
func parseClose(p []byte) (ws.StatusCode, []byte, *frameError) {
	switch len(p) {
	case 0:
		return ws.StatusNoStatusRcvd, nil, nil
	case 1:
		return 0, nil, errCloseBody
	}
	code := ws.StatusCode(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, nil, errCloseCode
	}
	if !utf8.Valid(p[2:]) {
		return 0, nil, errCloseReason
	}
	return code, p[2:], nil
}

// Close codes of the IANA WebSocket Close Code Number Registry (RFC 6455
// §11.7) past the RFC's own, which endpoints send: protocol.CloseServiceRestart
// and protocol.CloseTryAgainLater are two of them.
const (
	statusServiceRestart ws.StatusCode = 1012
	statusTryAgainLater  ws.StatusCode = 1013
	statusBadGateway     ws.StatusCode = 1014
)

// validCloseCode reports whether a peer may send code (RFC 6455 §7.4.1,
// §7.4.2): the defined and registered codes that are not reserved for local
// use, and the 3000–4999 registered and private ranges.
func validCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code.IsProtocolReserved():
		return false
	}
	switch code {
	case ws.StatusNormalClosure, ws.StatusGoingAway, ws.StatusProtocolError, ws.StatusUnsupportedData,
		ws.StatusInvalidFramePayloadData, ws.StatusPolicyViolation, ws.StatusMessageTooBig,
		ws.StatusMandatoryExt, ws.StatusInternalServerError,
		statusServiceRestart, statusTryAgainLater, statusBadGateway:
		return true
	}
	return false
}

// validUTF8Prefix validates b as the start of a UTF-8 stream. It returns the
// length of the prefix made of whole runes and false if b holds an invalid
// sequence; an unfinished rune at the end is not an error (its bytes are
// past n and are checked again once more bytes arrive).
func validUTF8Prefix(b []byte) (n int, ok bool) {
	for n < len(b) {
		if c := b[n]; c < utf8.RuneSelf {
			n++
			continue
		}
		if !utf8.FullRune(b[n:]) {
			return n, true
		}
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size == 1 {
			return n, false
		}
		n += size
	}
	return n, true
}
