package server

import (
	"bytes"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unsafe"
)

// HTTPError refuses an upgrade with an HTTP status. Handler.Accept returns
// one to turn a client away before the 101 (401, 403, 429, 503, ...).
type HTTPError struct {
	// Status is the HTTP status code sent to the client.
	Status int
	// Message is the plain-text response body.
	Message string
	// RetryAfter, when positive, is sent as a Retry-After header, in whole
	// seconds rounded up and at most an hour (a longer wait is sent as an
	// hour): when a refused client (a 429, a 503) may try again.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HTTPError) Error() string { return "server: http " + statusText(e.Status) + ": " + e.Message }

// maxHeaders caps the header lines of an upgrade request (431 when over).
const maxHeaders = 64

// span is a [start, end) range in the request bytes.
type span struct{ start, end int32 }

// Request is a parsed WebSocket upgrade request. Its strings alias the
// connection's read buffer: a Request and every string taken from it are
// valid only during Handler.Accept; use strings.Clone to keep one.
type Request struct {
	// Path is the request path, without the query.
	Path string
	// RawQuery is the query string without the '?'.
	RawQuery string
	// RemoteAddr is the TCP peer's address (a proxy's behind one).
	RemoteAddr net.Addr
	// ClientIP is the client's IP address; see Conn.ClientIP.
	ClientIP netip.Addr
	// Host is the host the request names: the authority of a request
	// target in absolute-form ("GET http://host:port/path", RFC 9112
	// §3.2.2), which takes the place of the Host header's, or else the
	// Host header's value.
	Host string
	// Subprotocol is the subprotocol the server selected, or "".
	Subprotocol string

	raw      []byte
	absolute bool // the target is in absolute-form; Host is its authority
	names    [maxHeaders]span
	values   [maxHeaders]span
	nheader  int
}

// Header returns the value of the first header named name (matched
// case-insensitively), or "".
func (r *Request) Header(name string) string {
	for i := 0; i < r.nheader; i++ {
		if n := r.names[i]; strings.EqualFold(r.str(n), name) {
			return r.str(r.values[i])
		}
	}
	return ""
}

// Query returns the first value of the query parameter key, unescaped, or
// "" when it is absent or its escapes are malformed.
func (r *Request) Query(key string) string {
	v, _, ok := r.lookupQuery(key)
	if !ok {
		return ""
	}
	return v
}

// LookupQuery returns the first value of the query parameter key and
// whether the query has it at all ("?key" and "?key=" have it, with the
// value ""). A value whose escapes are malformed is returned as it was
// sent.
func (r *Request) LookupQuery(key string) (string, bool) {
	v, present, _ := r.lookupQuery(key)
	return v, present
}

// lookupQuery finds the first parameter key: its value unescaped (as sent
// when unescaping fails, with escOK false) and whether it is there.
func (r *Request) lookupQuery(key string) (v string, present, escOK bool) {
	q := r.RawQuery
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v, true, true
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return v, true, false
		}
		return uv, true, true
	}
	return "", false, false
}

// headerList returns the values of every header named name joined with
// ", ", as RFC 9110 §5.3 combines repeated list headers. It allocates only
// when there are several.
func (r *Request) headerList(name string) string {
	out := ""
	for i := 0; i < r.nheader; i++ {
		if !strings.EqualFold(r.str(r.names[i]), name) {
			continue
		}
		if out == "" {
			out = r.str(r.values[i])
		} else {
			out += ", " + r.str(r.values[i])
		}
	}
	return out
}

// str returns the bytes of s as a string that aliases the request buffer.
func (r *Request) str(s span) string {
	if s.end <= s.start {
		return ""
	}
	return unsafe.String(&r.raw[s.start], int(s.end-s.start))
}

// headerCount returns how many header lines are named name.
func (r *Request) headerCount(name string) int {
	n := 0
	for i := 0; i < r.nheader; i++ {
		if strings.EqualFold(r.str(r.names[i]), name) {
			n++
		}
	}
	return n
}

// hasBodyLength reports whether a Content-Length header gives any value
// but 0: a body, or a length a proxy may read otherwise.
func (r *Request) hasBodyLength() bool {
	for i := 0; i < r.nheader; i++ {
		if !strings.EqualFold(r.str(r.names[i]), "Content-Length") {
			continue
		}
		v := r.str(r.values[i])
		if v == "" || strings.Trim(v, "0") != "" {
			return true
		}
	}
	return false
}

// headerHasToken reports whether any header named name holds token in its
// comma-separated list (case-insensitive).
func (r *Request) headerHasToken(name, token string) bool {
	for i := 0; i < r.nheader; i++ {
		if !strings.EqualFold(r.str(r.names[i]), name) {
			continue
		}
		v := r.str(r.values[i])
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// parseStatus is the outcome of parseRequest: 0 means a complete request
// was parsed, -1 means more bytes are needed, anything else is the HTTP
// status to refuse with.
type parseStatus int

const needMore parseStatus = -1

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// parseRequest parses an HTTP/1.1 request head at the start of b into r,
// without copying, and returns its length. max caps the head's size.
func parseRequest(b []byte, max int, r *Request) (n int, st parseStatus) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > max {
			return 0, 431
		}
		// A request line that is already malformed needs no more bytes.
		if i := bytes.IndexByte(b, ' '); i > 0 && !validMethod(b[:i]) {
			return 0, 400
		}
		return 0, needMore
	}
	n = end + 4
	if n > max {
		return 0, 431
	}
	r.raw = b[:n]
	r.nheader = 0
	line := b[:bytes.Index(b, crlf)]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !validMethod(line[:sp1]) {
		return 0, 400
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return 0, 400
	}
	target, proto := rest[:sp2], rest[sp2+1:]
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(proto) != 8 || proto[7] < '1' || proto[7] > '9' {
		return 0, 400
	}
	if !validTarget(target) {
		return 0, 400
	}
	if string(line[:sp1]) != "GET" {
		return n, 405
	}
	base := int32(sp1 + 1)
	authority := span{-1, -1}
	if target[0] != '/' {
		// Absolute-form, which a server must accept (RFC 9112 §3.2.2):
		// an http or https URI (RFC 6455 §4.1), whose authority is the
		// request's host and whose path and query are served as the
		// origin-form's would be.
		a := schemeEnd(target)
		if a < 0 {
			return 0, 400
		}
		e := a
		for e < len(target) && target[e] != '/' && target[e] != '?' {
			e++
		}
		authority = span{base + int32(a), base + int32(e)}
		base += int32(e)
		target = target[e:]
	}
	path := span{base, base + int32(len(target))}
	query := span{}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		path.end = base + int32(q)
		query = span{base + int32(q) + 1, base + int32(len(target))}
	}
	r.Path, r.RawQuery = r.str(path), r.str(query)
	if r.Path == "" {
		r.Path = "/" // an absolute URI's empty path (RFC 9112 §3.2.1)
	}

	pos := len(line) + 2
	for pos < end {
		eol := bytes.Index(b[pos:n], crlf)
		hl := b[pos : pos+eol]
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 || !validToken(hl[:colon]) {
			return 0, 400
		}
		if r.nheader == maxHeaders {
			return 0, 431
		}
		if bytes.ContainsAny(hl[colon+1:], "\r\n\x00") {
			// A bare CR or LF ends the line for a reader that takes
			// it for a line ending, which would see the rest as a
			// header of its own (RFC 9110 §5.5); the name is a token,
			// which has none of them.
			return 0, 400
		}
		vs, ve := colon+1, len(hl)
		for vs < ve && (hl[vs] == ' ' || hl[vs] == '\t') {
			vs++
		}
		for ve > vs && (hl[ve-1] == ' ' || hl[ve-1] == '\t') {
			ve--
		}
		r.names[r.nheader] = span{int32(pos), int32(pos + colon)}
		r.values[r.nheader] = span{int32(pos + vs), int32(pos + ve)}
		r.nheader++
		pos += eol + 2
	}
	r.Host, r.absolute = r.str(authority), authority.start >= 0
	if !r.absolute {
		r.Host = r.Header("Host")
	}
	return n, 0
}

// schemeEnd returns where the authority of an absolute-form target starts
// (after "http://" or "https://", the scheme in any case), or -1 for any
// other target.
func schemeEnd(target []byte) int {
	for _, s := range [...]string{"http://", "https://"} {
		if len(target) >= len(s) && strings.EqualFold(string(target[:len(s)]), s) {
			return len(s)
		}
	}
	return -1
}

// validAuthority reports whether a holds only the characters of an
// authority (RFC 3986 §3.2: unreserved, percent-encoded, sub-delims, ':',
// '[' and ']' of an IP literal, '@'), so a fragment ("http://h#x/path")
// or any other stray byte is not taken for part of the host.
func validAuthority(a string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~%!$&'()*+,;=:[]@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validMethod reports whether m is an HTTP method token.
func validMethod(m []byte) bool {
	if len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// validTarget reports whether a request target has no control character
// (RFC 9112 §3.2): a CR, LF or NUL in it would end or cut the request line
// for a reader that takes it for a line ending.
func validTarget(t []byte) bool {
	for _, c := range t {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validToken reports whether t is an HTTP token (RFC 9110 §5.6.2).
func validToken(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return len(t) > 0
}
