package bots

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/tickroom/tickroom/protocol"
)

// errRetryable marks a refusal worth retrying later (408, 429, 503); its text
// is empty so it does not show in failure counts.
var errRetryable = errors.New("")

// maxResponseHeader bounds the handshake response a bot buffers.
const maxResponseHeader = 8 << 10

// wsGUID is the key suffix of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// upgradeRequest builds b's client handshake (RFC 6455 §4.1) with a fresh
// key, carrying its session token and the protocol version it speaks in the
// query.
func (e *engine) upgradeRequest(b *bot) []byte {
	var k [16]byte
	for i := 0; i < 16; i += 8 {
		r := b.l.rand()
		for j := 0; j < 8; j++ {
			k[i+j] = byte(r >> (8 * j))
		}
	}
	b.key = base64.StdEncoding.EncodeToString(k[:])
	n := e.nodes.get(b.node)
	req := make([]byte, 0, 256+len(b.token))
	req = append(req, "GET "...)
	req = append(req, n.path...)
	req = append(req, "?token="...)
	req = append(req, url.QueryEscape(b.token)...)
	req = append(req, "&"+protocol.VersionParam+"="...)
	req = strconv.AppendInt(req, protocol.Version, 10)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, n.host...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickroom.v1\r\nSec-WebSocket-Key: "...)
	req = append(req, b.key...)
	req = append(req, "\r\n\r\n"...)
	return req
}

// checkUpgrade parses the handshake response at the start of p. It returns
// 0 while the response is incomplete, its length once it is a valid 101,
// or an error naming what was wrong.
func (e *engine) checkUpgrade(b *bot, p []byte) (int, error) {
	end := bytes.Index(p, []byte("\r\n\r\n"))
	if end < 0 {
		if len(p) > maxResponseHeader {
			return 0, fmt.Errorf("%w: response header too long", ErrHandshake)
		}
		return 0, nil
	}
	head := p[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	parts := bytes.SplitN(line, []byte(" "), 3)
	if len(parts) < 2 || !bytes.HasPrefix(parts[0], []byte("HTTP/1.")) {
		return 0, fmt.Errorf("%w: bad status line", ErrHandshake)
	}
	status, err := strconv.Atoi(string(parts[1]))
	if err != nil {
		return 0, fmt.Errorf("%w: bad status line", ErrHandshake)
	}
	switch status {
	case 101:
	case 408, 429, 503:
		return 0, fmt.Errorf("%w: http %d%w", ErrHandshake, status, errRetryable)
	default:
		return 0, fmt.Errorf("%w: http %d", ErrHandshake, status)
	}
	sum := sha1.Sum([]byte(b.key + wsGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	accepted := false
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, val, ok := bytes.Cut(h, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Sec-WebSocket-Accept")) {
			accepted = string(bytes.TrimSpace(val)) == want
		}
	}
	if !accepted {
		return 0, fmt.Errorf("%w: wrong Sec-WebSocket-Accept", ErrHandshake)
	}
	return end + 4, nil
}
