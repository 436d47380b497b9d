// Package rawbody frames a message as its head's JSON, a newline and its
// body's own bytes, for the messages nodes send each other through Redis:
// a []byte field inside JSON travels base64-encoded, a third larger and
// encoded and decoded at each end, and a body that is itself such a
// message (an operator request's answer inside a bus envelope) paid that
// twice. JSON as encoding/json writes it holds no raw newline, so the
// first one ends the head.
//
// A message without a newline is read as JSON alone: the form a message
// with an empty body takes, and the one an older node sends, its body (if
// any) a base64 field of the JSON that Decode's caller leaves in the head.
package rawbody

import (
	"bytes"
	"encoding/json"
)

// Encode returns head's JSON, then, when body is not empty, a newline and
// body. head should leave its body field empty (omitempty), or the body
// travels twice.
func Encode(head any, body []byte) ([]byte, error) {
	p, err := json.Marshal(head)
	if err != nil || len(body) == 0 {
		return p, err
	}
	out := make([]byte, 0, len(p)+1+len(body))
	out = append(append(append(out, p...), '\n'), body...)
	return out, nil
}

// Decode reads the head of p into head and returns the body that follows
// its newline, which shares p's memory; nil when p has no newline (then
// any body is in head, as an older sender encoded it).
func Decode(p []byte, head any) (body []byte, err error) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return nil, json.Unmarshal(p, head)
	}
	if err := json.Unmarshal(p[:i], head); err != nil {
		return nil, err
	}
	return p[i+1:], nil
}
