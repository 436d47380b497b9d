package hub

import (
	"errors"
	"strings"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// runtimeCodes maps the room runtime's refusals to wire codes. Refusals of
// the hub and of social carry their code themselves (*protocol.Error).
var runtimeCodes = []struct {
	err  error
	code protocol.ErrorCode
}{
	{game.ErrRoomFull, protocol.ErrorRoomFull},
	{game.ErrWrongPassword, protocol.ErrorWrongPassword},
	{game.ErrLocked, protocol.ErrorForbidden},
	{game.ErrRefused, protocol.ErrorForbidden},
	{game.ErrFinished, protocol.ErrorRoomClosing},
	{game.ErrRuntimeClosed, protocol.ErrorRoomClosing},
	{game.ErrMoving, protocol.ErrorDraining},
	{game.ErrControlFull, protocol.ErrorTooManyRequestsInFlight},
	{game.ErrInboxFull, protocol.ErrorInputDropped},
	{game.ErrInputTooLarge, protocol.ErrorInputTooLarge},
	{game.ErrRateLimited, protocol.ErrorRateLimited},
	{game.ErrSpectator, protocol.ErrorNotAPlayer},
	{game.ErrNotSeated, protocol.ErrorNotInRoom},
	{game.ErrUnknownGame, protocol.ErrorUnknownGame},
	{game.ErrInvalidOptions, protocol.ErrorBadOptions},
}

// wireError is the Error reply for err: the code an *protocol.Error in its
// chain carries, else the runtime's code for it, else ERROR_CODE_INTERNAL.
func wireError(err error) *tickroomv1.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return &tickroomv1.Error{
			Code: tickroomv1.ErrorCode(pe.Code), Message: pe.Text(),
			// Rounded up: a wait under a millisecond is still a wait.
			RetryAfterMs: uint32((pe.RetryAfter + time.Millisecond - 1) / time.Millisecond),
		}
	}
	if rl := (*game.RateLimitedError)(nil); errors.As(err, &rl) {
		return &tickroomv1.Error{
			Code: tickroomv1.ErrorCode(protocol.ErrorRateLimited), Message: err.Error(),
			RetryAfterMs: uint32((rl.RetryAfter + time.Millisecond - 1) / time.Millisecond),
		}
	}
	for _, rc := range runtimeCodes {
		if errors.Is(err, rc.err) {
			// A game's refusal carries the game's text, which may hold
			// what a client sent as input bytes: not UTF-8, it would
			// make a strict decoder (protobuf-es) refuse the reply.
			return &tickroomv1.Error{Code: tickroomv1.ErrorCode(rc.code), Message: strings.ToValidUTF8(err.Error(), "\uFFFD")}
		}
	}
	return &tickroomv1.Error{
		Code: tickroomv1.ErrorCode(protocol.ErrorInternal), Message: protocol.ErrorInternal.Description(),
	}
}

// fail refuses request id with the reply err maps to; a request without an
// id gets no reply (ClientMessage.request_id's contract).
func (s *Session) fail(id uint32, err error) {
	s.h.stats.Errors.Add(1)
	w := wireError(err)
	if w.Code == tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
		s.h.guesses.wrong(s)
	}
	if id == 0 {
		return
	}
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Error{Error: w}})
}
