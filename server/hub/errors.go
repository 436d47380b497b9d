package hub

import (
	"errors"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/limits"
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
			RetryAfterMs: limits.RetryAfterMillis(pe.RetryAfter),
		}
	}
	if rl := (*game.RateLimitedError)(nil); errors.As(err, &rl) {
		return &tickroomv1.Error{
			Code: tickroomv1.ErrorCode(protocol.ErrorRateLimited), Message: err.Error(),
			RetryAfterMs: limits.RetryAfterMillis(rl.RetryAfter),
		}
	}
	for _, rc := range runtimeCodes {
		if errors.Is(err, rc.err) {
			return &tickroomv1.Error{Code: tickroomv1.ErrorCode(rc.code), Message: gameText(err.Error())}
		}
	}
	return &tickroomv1.Error{
		Code: tickroomv1.ErrorCode(protocol.ErrorInternal), Message: protocol.ErrorInternal.Description(),
	}
}

// MaxErrorText bounds the text of an Error reply that carries a game's
// words (a refusal of a join, an error from its New), in bytes.
const MaxErrorText = 512

// gameText is a game's text fit for an Error reply: the game's, it may
// hold what a client sent as input bytes, and not UTF-8 it would make a
// strict decoder (protobuf-es) refuse the reply, so each run of bad bytes
// becomes U+FFFD; and it may be megabytes long, which closed the player
// as too slow (4001) and lost the reply, so it is cut to MaxErrorText on
// a rune's start.
func gameText(s string) string { return game.FitText(s, MaxErrorText) }

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
