package server

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tickroom/tickroom/internal/limits"
)

// websocketGUID is appended to the key to compute Sec-WebSocket-Accept
// (RFC 6455 §4.2.2).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshake parses the upgrade request at the start of b and, when it is
// complete, answers it. It returns how many bytes the request used; 0 with
// the state still stateHandshake means more bytes are needed. Loop only.
func (c *Conn) handshake(b []byte) int {
	// The answer to a HEAD request has no body (RFC 9110 §9.3.2).
	head := bytes.HasPrefix(b, []byte("HEAD "))
	if c.refuse != 0 {
		c.answerHTTP(int(c.refuse), statusText(int(c.refuse)), 0, !head)
		return len(b)
	}
	l := c.loop
	r := &l.req
	n, st := parseRequest(b, c.srv.cfg.MaxRequestSize, r)
	switch st {
	case needMore:
		return 0
	case 0:
	default:
		c.answerHTTP(int(st), statusText(int(st)), 0, !head)
		return len(b)
	}
	r.RemoteAddr = c.remote
	if c.srv.cfg.TrustedProxies.Contains(c.ip) {
		c.ip = c.srv.cfg.TrustedProxies.Resolve(c.ip, r.headerList("X-Forwarded-For"))
	}
	r.ClientIP = c.ip
	r.Subprotocol = ""
	status, msg := c.checkUpgrade(r)
	if status != 0 {
		c.srv.cfg.Logger.Debug("upgrade refused", "conn", c.id, "ip", c.ip, "status", status, "reason", msg)
		c.refuseHTTP(status, msg, 0)
		return len(b)
	}
	if !c.srv.connStart(c) {
		c.srv.cfg.Logger.Debug("upgrade refused: connections per address", "conn", c.id)
		c.refuseHTTP(429, "too many connections from this address", 0)
		return len(b)
	}
	h := c.srv.handlers[r.Path]
	if err := h.Accept(c, r); err != nil {
		st := 403
		msg := err.Error()
		var retry time.Duration
		if he := (*HTTPError)(nil); errors.As(err, &he) {
			st, msg, retry = he.Status, he.Message, he.RetryAfter
		}
		c.srv.cfg.Logger.Debug("upgrade refused by handler", "conn", c.id, "ip", c.ip, "status", st)
		c.refuseHTTP(st, msg, retry)
		return len(b)
	}
	c.writeSwitching(r)
	c.handler = h
	c.accepted = true
	c.srv.upgraded.Add(1)
	c.state = stateOpen
	c.srv.handshakeDone(c)
	now := nanotime()
	c.lastRead, c.lastPing = now, now
	c.tokens, c.rateLast = 2*float32(c.srv.cfg.MessageRate), now
	c.flush(false) // frames queued during Accept, and a Close called there
	return n
}

// checkUpgrade applies RFC 6455 §4.2.1 and the server's policies to a
// parsed GET request, returning the HTTP status to refuse with, or 0.
//
// The opening handshake is a GET without a body (RFC 6455 §4.1): a request
// that announces one (Transfer-Encoding, or a Content-Length other than 0)
// is refused, so the bytes of its body are never read as frames. A proxy in
// front that reads the request the same way would forward them as a body;
// one that does not (a request smuggled past it) would have them reach the
// handler as a message no one sent as one.
func (c *Conn) checkUpgrade(r *Request) (int, string) {
	cfg := &c.srv.cfg
	switch {
	case r.Header("Host") == "":
		return 400, "missing Host"
	case r.headerCount("Host") > 1:
		return 400, "duplicate Host"
	case r.absolute && (r.Host == "" || r.Host[0] == ':'):
		// RFC 9110 §4.2.1: an http URI with an empty host is invalid.
		return 400, "request target without a host"
	case r.absolute && strings.IndexByte(r.Host, '@') >= 0:
		// RFC 9110 §4.2.4: a recipient treats userinfo as an error.
		return 400, "userinfo in the request target"
	case r.absolute && !validAuthority(r.Host):
		return 400, "bad host in the request target"
	case r.headerCount("Sec-WebSocket-Key") > 1:
		return 400, "duplicate Sec-WebSocket-Key"
	case r.headerCount("Transfer-Encoding") > 0:
		return 400, "upgrade request with a body (Transfer-Encoding)"
	case r.hasBodyLength():
		return 400, "upgrade request with a body (Content-Length)"
	case !r.headerHasToken("Upgrade", "websocket"):
		return 400, "missing Upgrade: websocket"
	case !r.headerHasToken("Connection", "upgrade"):
		return 400, "missing Connection: Upgrade"
	case !validKey(r.Header("Sec-WebSocket-Key")):
		return 400, "missing or bad Sec-WebSocket-Key"
	case r.Header("Sec-WebSocket-Version") != "13":
		return 426, "unsupported Sec-WebSocket-Version"
	}
	if _, ok := c.srv.handlers[r.Path]; !ok {
		return 404, "no WebSocket endpoint at this path"
	}
	if len(cfg.Origins) > 0 {
		o := r.Header("Origin")
		allowed := false
		for _, a := range cfg.Origins {
			if strings.EqualFold(a, o) {
				allowed = true
				break
			}
		}
		if !allowed {
			return 403, "origin not allowed"
		}
	}
	r.Subprotocol = selectSubprotocol(r, cfg.Subprotocols)
	return 0, ""
}

// validKey reports whether k is the base64 encoding of 16 bytes.
func validKey(k string) bool {
	if len(k) != 24 || k[22:] != "==" {
		return false
	}
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], []byte(k))
	return err == nil && n == 16
}

// selectSubprotocol returns the first of ours that the client offers.
func selectSubprotocol(r *Request, ours []string) string {
	for _, p := range ours {
		if r.headerHasToken("Sec-WebSocket-Protocol", p) {
			return p
		}
	}
	return ""
}

// writeSwitching writes the 101 response. Loop only.
func (c *Conn) writeSwitching(r *Request) {
	var sum [sha1.Size]byte
	h := sha1.New()
	h.Write([]byte(r.Header("Sec-WebSocket-Key")))
	h.Write([]byte(websocketGUID))
	h.Sum(sum[:0])
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], sum[:])

	b := c.loop.out[:0]
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept[:]...)
	if r.Subprotocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, r.Subprotocol...)
	}
	b = append(b, "\r\n\r\n"...)
	_, _ = c.gc.Write(b)
	c.loop.out = b[:0]
}

// refuseHTTP answers the upgrade with status and a plain-text body (and
// retry, when positive, as Retry-After in whole seconds), then lingers until the peer closes (see linger). The connection stays counted
// against its address's handshake cap until its socket closes, so an
// address that is refused and keeps its sockets open holds no more of
// them than the cap. Loop only.
func (c *Conn) refuseHTTP(status int, msg string, retry time.Duration) {
	c.answerHTTP(status, msg, retry, true)
}

// answerHTTP is refuseHTTP, leaving out the body (its length still given)
// unless body is set: the answer to a HEAD request. Loop only.
func (c *Conn) answerHTTP(status int, msg string, retry time.Duration, body bool) {
	c.srv.refused.add(status)
	b := c.loop.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
	switch status {
	case 426:
		b = append(b, "Sec-WebSocket-Version: 13\r\n"...)
	case 405:
		b = append(b, "Allow: GET\r\n"...)
	}
	if retry > 0 {
		b = append(b, "Retry-After: "...)
		b = strconv.AppendInt(b, limits.RetryAfterSeconds(retry), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(msg)+1), 10)
	b = append(b, "\r\n\r\n"...)
	if body {
		b = append(b, msg...)
		b = append(b, '\n')
	}
	_, _ = c.gc.Write(b)
	c.loop.out = b[:0]
	c.linger()
}

// statusText is the reason phrase for the statuses the server sends.
func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 503:
		return "Service Unavailable"
	}
	if code >= 500 {
		return "Server Error"
	}
	return "Error"
}
