package protocol

import "strconv"

// ErrorCode says why the server refused a request; it travels in an Error
// reply and does not close the connection. The table mirrors the ErrorCode
// enum in tickroom/v1/codes.proto. Codes are grouped: general 1-99, lobby
// and rooms 100-199, play 200-299, social 300-399.
type ErrorCode uint32

// General error codes.
const (
	// ErrorInternal: the server failed; the request may be retried.
	ErrorInternal ErrorCode = 1
	// ErrorBadRequest: a field is missing or out of range.
	ErrorBadRequest ErrorCode = 2
	// ErrorUnsupported: the message kind is unknown to this server.
	ErrorUnsupported ErrorCode = 3
	// ErrorRateLimited: too many requests of this kind.
	ErrorRateLimited ErrorCode = 4
	// ErrorForbidden: the user may not do this.
	ErrorForbidden ErrorCode = 5
	// ErrorTooManyRequestsInFlight: too many requests await a reply.
	ErrorTooManyRequestsInFlight ErrorCode = 6
)

// Lobby and room error codes.
const (
	// ErrorRoomNotFound: no room has that id.
	ErrorRoomNotFound ErrorCode = 100
	// ErrorRoomFull: every player seat is taken.
	ErrorRoomFull ErrorCode = 101
	// ErrorWrongPassword: the room's password did not match.
	ErrorWrongPassword ErrorCode = 102
	// ErrorAlreadyInRoom: the user already has a seat there, or in as many
	// rooms as allowed.
	ErrorAlreadyInRoom ErrorCode = 103
	// ErrorNotInRoom: the user is not in the room named.
	ErrorNotInRoom ErrorCode = 104
	// ErrorUnknownGame: no game of that name is registered.
	ErrorUnknownGame ErrorCode = 105
	// ErrorBadOptions: the game rejected the room options.
	ErrorBadOptions ErrorCode = 106
	// ErrorRoomLimit: the server hosts as many rooms as it allows.
	ErrorRoomLimit ErrorCode = 107
	// ErrorResumeUnavailable: the seat to resume is gone.
	ErrorResumeUnavailable ErrorCode = 108
	// ErrorRoomClosing: the room is shutting down and takes no joins.
	ErrorRoomClosing ErrorCode = 109
)

// Play error codes.
const (
	// ErrorInputTooLarge: the input's data is over the limit.
	ErrorInputTooLarge ErrorCode = 200
	// ErrorInputRejected: the game refused the input.
	ErrorInputRejected ErrorCode = 201
	// ErrorNotAPlayer: a spectator cannot send input.
	ErrorNotAPlayer ErrorCode = 202
	// ErrorInputDropped: the room's inbox was full; the input was dropped.
	ErrorInputDropped ErrorCode = 203
)

// Social error codes.
const (
	// ErrorMessageTooLong: the chat or direct message text is too long.
	ErrorMessageTooLong ErrorCode = 300
	// ErrorBlocked: the recipient blocked the sender.
	ErrorBlocked ErrorCode = 301
	// ErrorUserOffline: the recipient is not connected.
	ErrorUserOffline ErrorCode = 302
	// ErrorUserNotFound: no user has that id.
	ErrorUserNotFound ErrorCode = 303
	// ErrorChannelNotFound: no such lobby channel, or not joined.
	ErrorChannelNotFound ErrorCode = 304
	// ErrorListFull: the friend or block list is at its limit.
	ErrorListFull ErrorCode = 305
)

// errorTable lists the error codes in numeric order. Names equal the enum
// value names in codes.proto; a test checks both agree.
var errorTable = []CodeInfo{
	{1, "ERROR_CODE_INTERNAL", false, "internal server error; the request may be retried"},
	{2, "ERROR_CODE_BAD_REQUEST", false, "a field is missing or out of range"},
	{3, "ERROR_CODE_UNSUPPORTED", false, "message kind not supported by this server"},
	{4, "ERROR_CODE_RATE_LIMITED", false, "too many requests; retry later"},
	{5, "ERROR_CODE_FORBIDDEN", false, "not allowed for this user"},
	{6, "ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT", false, "too many requests awaiting a reply"},
	{100, "ERROR_CODE_ROOM_NOT_FOUND", false, "no room with that id"},
	{101, "ERROR_CODE_ROOM_FULL", false, "every player seat is taken"},
	{102, "ERROR_CODE_WRONG_PASSWORD", false, "wrong room password"},
	{103, "ERROR_CODE_ALREADY_IN_ROOM", false, "already in that room or in too many rooms"},
	{104, "ERROR_CODE_NOT_IN_ROOM", false, "not in that room"},
	{105, "ERROR_CODE_UNKNOWN_GAME", false, "no game with that name"},
	{106, "ERROR_CODE_BAD_OPTIONS", false, "the game rejected the room options"},
	{107, "ERROR_CODE_ROOM_LIMIT", false, "the server hosts as many rooms as it allows"},
	{108, "ERROR_CODE_RESUME_UNAVAILABLE", false, "the seat to resume is gone; join again"},
	{109, "ERROR_CODE_ROOM_CLOSING", false, "the room is closing"},
	{200, "ERROR_CODE_INPUT_TOO_LARGE", false, "input data too large"},
	{201, "ERROR_CODE_INPUT_REJECTED", false, "the game rejected the input"},
	{202, "ERROR_CODE_NOT_A_PLAYER", false, "spectators cannot send input"},
	{203, "ERROR_CODE_INPUT_DROPPED", false, "room busy; input dropped"},
	{300, "ERROR_CODE_MESSAGE_TOO_LONG", false, "message text too long"},
	{301, "ERROR_CODE_BLOCKED", false, "the recipient blocked the sender"},
	{302, "ERROR_CODE_USER_OFFLINE", false, "the recipient is offline"},
	{303, "ERROR_CODE_USER_NOT_FOUND", false, "no user with that id"},
	{304, "ERROR_CODE_CHANNEL_NOT_FOUND", false, "no such channel, or not joined"},
	{305, "ERROR_CODE_LIST_FULL", false, "the friend or block list is full"},
}

var errorIndex = indexTable(errorTable)

// ErrorCodes returns the error codes in numeric order. The caller may
// modify the returned slice.
func ErrorCodes() []CodeInfo { return append([]CodeInfo(nil), errorTable...) }

// String returns the code's enum name (ERROR_CODE_ROOM_FULL), or its number
// for a code outside the table.
func (c ErrorCode) String() string {
	if i, ok := errorIndex[uint32(c)]; ok {
		return errorTable[i].Name
	}
	return "ERROR_CODE_" + strconv.FormatUint(uint64(c), 10)
}

// Description returns the code's short English description; empty for a
// code outside the table.
func (c ErrorCode) Description() string {
	if i, ok := errorIndex[uint32(c)]; ok {
		return errorTable[i].Description
	}
	return ""
}

// Known reports whether c is one of the error codes.
func (c ErrorCode) Known() bool {
	_, ok := errorIndex[uint32(c)]
	return ok
}
