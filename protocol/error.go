package protocol

import (
	"fmt"
	"time"
)

// Error is a refused request with the code its Error reply carries. Code
// that refuses a request returns one (wrapped or not); the layer that
// answers finds it with errors.As and replies with its code, message and
// retry hint, so a refusal's wire code is decided once, where it happens.
type Error struct {
	// Code is the wire error code.
	Code ErrorCode
	// Message is the human-readable text. Empty means Code's description.
	Message string
	// RetryAfter tells the client when the request may succeed. Zero value
	// means no hint. The hub sends at most an hour (a longer wait is sent
	// as an hour), within what retry_after_ms holds.
	RetryAfter time.Duration
}

// NewError returns an *Error with code and message; an empty message
// stands for the code's description.
func NewError(code ErrorCode, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the code's name and the message.
func (e *Error) Error() string {
	return "tickroom: " + e.Code.String() + ": " + e.Text()
}

// Text is the message a client is told: Message, or the code's
// description when it is empty.
func (e *Error) Text() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.Description()
}
