package protocol

import "strconv"

// CloseCode is the code of a WebSocket close frame (RFC 6455 section 7.4).
// tickroom's own codes are 4000-4999 (section 7.4.2 leaves that range to
// applications): 4000-4499 are resumable, 4500-4999 terminal. The constants
// and the table (codes_table.pb.go) are generated from the CloseCode enum in
// tickroom/v1/codes.proto by make proto.
type CloseCode uint16

// Ranges of tickroom's close codes.
const (
	// ResumableMin is the lowest resumable close code.
	ResumableMin CloseCode = 4000
	// ResumableMax is the highest resumable close code.
	ResumableMax CloseCode = 4499
	// TerminalMin is the lowest terminal close code.
	TerminalMin CloseCode = 4500
	// TerminalMax is the highest terminal close code.
	TerminalMax CloseCode = 4999
)

// Standard close codes (RFC 6455 section 7.4.1) that tickroom sends or that
// a client observes.
const (
	// CloseNormal: the peer finished on purpose.
	CloseNormal CloseCode = 1000
	// CloseGoingAway: an endpoint is going away; resumable.
	CloseGoingAway CloseCode = 1001
	// CloseStandardProtocolError: the peer broke the WebSocket protocol.
	CloseStandardProtocolError CloseCode = 1002
	// CloseAbnormal is never sent: it reports a connection lost without a
	// close frame; resumable.
	CloseAbnormal CloseCode = 1006
	// CloseMessageTooBig: a message was over the size limit.
	CloseMessageTooBig CloseCode = 1009
	// CloseStandardInternalError: the server failed; resumable.
	CloseStandardInternalError CloseCode = 1011
	// CloseServiceRestart: the server is restarting; resumable.
	CloseServiceRestart CloseCode = 1012
	// CloseTryAgainLater: the server is overloaded; resumable.
	CloseTryAgainLater CloseCode = 1013
)

// MaxCloseReason is the longest reason text a close frame can carry: a
// control frame payload is at most 125 bytes, two of which hold the code.
const MaxCloseReason = 123

// CodeInfo describes one close or error code: its number, its name in the
// .proto enum, whether a client may resume after it (close codes only), and
// a short English description that also serves as a close frame's reason.
type CodeInfo struct {
	Code        uint32 `json:"code"`
	Name        string `json:"name"`
	Resumable   bool   `json:"resumable,omitempty"`
	Description string `json:"description"`
}

var closeIndex = indexTable(closeTable)

// CloseCodes returns tickroom's close codes (4000-4999) in numeric order.
// The caller may modify the returned slice.
func CloseCodes() []CodeInfo { return append([]CodeInfo(nil), closeTable...) }

// Resumable reports whether a client that saw code should reconnect on its
// own and resume its seats: tickroom's codes 4000-4499, and the standard
// codes that mean a transient failure (1001 going away, 1006 connection
// lost, 1011 internal error, 1012 restart, 1013 try again later). Every
// other code, unknown ones included, is terminal.
func Resumable(code CloseCode) bool {
	switch code {
	case CloseGoingAway, CloseAbnormal, CloseStandardInternalError, CloseServiceRestart, CloseTryAgainLater:
		return true
	}
	return code >= ResumableMin && code <= ResumableMax
}

// Resumable reports whether a client should resume after c; see the
// function Resumable.
func (c CloseCode) Resumable() bool { return Resumable(c) }

// String returns the code's enum name (CLOSE_CODE_SLOW_CLIENT), or its
// number for a code outside the table.
func (c CloseCode) String() string {
	if i, ok := closeIndex[uint32(c)]; ok {
		return closeTable[i].Name
	}
	return "CLOSE_CODE_" + strconv.FormatUint(uint64(c), 10)
}

// Description returns the code's short description, at most MaxCloseReason
// bytes, fit for a close frame's reason; empty for a code outside the table.
func (c CloseCode) Description() string {
	if i, ok := closeIndex[uint32(c)]; ok {
		return closeTable[i].Description
	}
	return ""
}

// LongerBackoff reports whether a client should wait longer than usual
// before reconnecting after c (the server is overloaded or rate-limiting
// the client): the codes marked longer_backoff in codes.proto, and the
// standard 1013 try again later.
func (c CloseCode) LongerBackoff() bool { return c == CloseTryAgainLater || longerBackoff[c] }

// Known reports whether c is one of tickroom's close codes.
func (c CloseCode) Known() bool {
	_, ok := closeIndex[uint32(c)]
	return ok
}

func indexTable(t []CodeInfo) map[uint32]int {
	m := make(map[uint32]int, len(t))
	for i, c := range t {
		m[c.Code] = i
	}
	return m
}
