package server

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// closePayload builds a close frame body.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func TestFrameRules(t *testing.T) {
	s := startServer(t, Config{MaxFrameSize: 1 << 10, MaxMessageSize: 4 << 10, CloseTimeout: time.Minute})
	concat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	const (
		fin  = 0x80
		rsv1 = 0x40
		text = byte(ws.OpText)
		bin  = byte(ws.OpBinary)
		cont = byte(ws.OpContinuation)
	)
	tests := []struct {
		name string
		send []byte
		code ws.StatusCode
	}{
		{"unmasked client frame", frameWithLen(fin|text, []byte("hi"), 2, false), ws.StatusProtocolError},
		{"RSV1 without extension", maskedFrame(fin|rsv1|text, []byte("hi")), ws.StatusProtocolError},
		{"reserved data opcode 3", maskedFrame(fin|3, nil), ws.StatusProtocolError},
		{"reserved control opcode 0xB", maskedFrame(fin|0xB, nil), ws.StatusProtocolError},
		{"ping over 125 bytes", maskedFrame(fin|byte(ws.OpPing), make([]byte, 126)), ws.StatusProtocolError},
		{"fragmented ping", maskedFrame(byte(ws.OpPing), []byte("x")), ws.StatusProtocolError},
		{"continuation first", maskedFrame(fin|cont, []byte("x")), ws.StatusProtocolError},
		{"new message inside fragmented", concat(maskedFrame(text, []byte("a")), maskedFrame(fin|text, []byte("b"))), ws.StatusProtocolError},
		{"length with top bit", []byte{fin | bin, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, ws.StatusProtocolError},
		{"frame over limit, header only", frameWithLen(fin|bin, nil, 1<<30, true), ws.StatusMessageTooBig},
		{"message over limit", concat(
			maskedFrame(bin, make([]byte, 1000)), maskedFrame(cont, make([]byte, 1000)),
			maskedFrame(cont, make([]byte, 1000)), maskedFrame(cont, make([]byte, 1000)),
			frameWithLen(fin|cont, nil, 1000, true)), ws.StatusMessageTooBig},
		{"invalid UTF-8 text", maskedFrame(fin|text, []byte{'a', 0xff, 'b'}), ws.StatusInvalidFramePayloadData},
		{"surrogate in text", maskedFrame(fin|text, []byte{0xed, 0xa0, 0x80}), ws.StatusInvalidFramePayloadData},
		{"invalid UTF-8 in a later fragment", concat(maskedFrame(text, []byte("ok ")), maskedFrame(cont, []byte{0xc3})),
			ws.StatusInvalidFramePayloadData}, // 0xc3 alone is fine so far; the next byte decides
		{"truncated rune at message end", concat(maskedFrame(text, []byte("ok ")), maskedFrame(fin|cont, []byte{0xe2, 0x82})),
			ws.StatusInvalidFramePayloadData},
		{"close with one byte", maskedFrame(fin|byte(ws.OpClose), []byte{3}), ws.StatusProtocolError},
		{"close code 999", maskedFrame(fin|byte(ws.OpClose), closePayload(999, "")), ws.StatusProtocolError},
		{"close code 1005", maskedFrame(fin|byte(ws.OpClose), closePayload(1005, "")), ws.StatusProtocolError},
		{"close code 1016", maskedFrame(fin|byte(ws.OpClose), closePayload(1016, "")), ws.StatusProtocolError},
		{"close code 5000", maskedFrame(fin|byte(ws.OpClose), closePayload(5000, "")), ws.StatusProtocolError},
		{"close reason not UTF-8", maskedFrame(fin|byte(ws.OpClose), closePayload(1000, "\xff")), ws.StatusProtocolError},
		{"close 1000 echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(1000, "bye")), ws.StatusNormalClosure},
		{"close 1001 echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(1001, "")), ws.StatusGoingAway},
		{"close 1012 (service restart) echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(1012, "")), 1012},
		{"close 1013 (try again later) echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(1013, "")), 1013},
		{"close 1014 (bad gateway) echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(1014, "")), 1014},
		{"close 3000 echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(3000, "")), 3000},
		{"close 4999 echoed", maskedFrame(fin|byte(ws.OpClose), closePayload(4999, "")), 4999},
		{"empty close answered empty", maskedFrame(fin|byte(ws.OpClose), nil), ws.StatusNoStatusRcvd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialWS(t, s, "/echo")
			rc.write(tt.send)
			if tt.name == "invalid UTF-8 in a later fragment" {
				rc.write(maskedFrame(cont, []byte{0x28})) // 0xc3 0x28 is invalid
			}
			if got := rc.readClose(); got != tt.code {
				t.Fatalf("close code %d, want %d", got, tt.code)
			}
			rc.expectEOF("after the close frame")
		})
	}
}

func TestFramesAcceptedAcrossReads(t *testing.T) {
	s := startServer(t, Config{})
	// A fragmented text message with a rune split across fragments and a
	// ping between the fragments (RFC 6455 §5.4), sent a byte at a time.
	msg := []byte("größer ✓ 😀")
	var stream []byte
	stream = append(stream, maskedFrame(byte(ws.OpText), msg[:3])...)
	stream = append(stream, maskedFrame(0x80|byte(ws.OpPing), []byte("mid"))...)
	stream = append(stream, maskedFrame(byte(ws.OpContinuation), msg[3:11])...)
	stream = append(stream, maskedFrame(0x80|byte(ws.OpContinuation), msg[11:])...)
	rc := dialWS(t, s, "/echo")
	for i := range stream {
		rc.write(stream[i : i+1])
	}
	h, p, err := rc.readFrame()
	if err != nil || h.OpCode != ws.OpPong || string(p) != "mid" {
		t.Fatalf("first frame: %v %q %v, want pong \"mid\"", h.OpCode, p, err)
	}
	h, p, err = rc.readFrame()
	if err != nil || h.OpCode != ws.OpText || !h.Fin || !bytes.Equal(p, msg) {
		t.Fatalf("echo: %v %q %v", h.OpCode, p, err)
	}
}
