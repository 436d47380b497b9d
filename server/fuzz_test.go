package server

import (
	"bytes"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// feedResult is what a connection did with a byte stream.
type feedResult struct {
	msgs      []loggedMsg
	state     connState
	closeCode ws.StatusCode
	out       string
}

// feedFrames runs data through readFrames as gnet would deliver it in
// chunks of chunk bytes: leftover bytes stay buffered for the next call.
func feedFrames(t *testing.T, data []byte, chunk int, cfg Config) feedResult {
	s, _, l := newFakeServer(cfg)
	h := &msgLog{}
	c, gc := newFakeConn(s, nil, l, h)
	gc.keep = true
	var buf []byte
	for i := 0; i < len(data) && (c.state == stateOpen || c.state == stateClosing); i += chunk {
		buf = append(buf, data[i:min(i+chunk, len(data))]...)
		l.inTraffic = c
		used := c.readFrames(buf, time.Now().UnixNano())
		l.inTraffic = nil
		if used < 0 || used > len(buf) {
			t.Fatalf("readFrames used %d of %d", used, len(buf))
		}
		buf = buf[used:]
		if c.closeNow {
			c.state = stateClosed
		}
		if (c.state == stateOpen || c.state == stateClosing) && len(buf) > 14+cfg.MaxFrameSize {
			t.Fatalf("%d bytes left buffered, over one frame's limit", len(buf))
		}
	}
	for _, m := range h.msgs {
		if len(m.data) > cfg.MaxMessageSize {
			t.Fatalf("message of %d bytes delivered, limit %d", len(m.data), cfg.MaxMessageSize)
		}
		if m.op == ws.OpText && !utf8.ValidString(m.data) {
			t.Fatalf("invalid UTF-8 text delivered: %q", m.data)
		}
	}
	return feedResult{h.msgs, c.state, c.closeCode, string(gc.out)}
}

func FuzzFrames(f *testing.F) {
	seeds := [][]byte{
		maskedFrame(0x81, []byte("hello")),
		maskedFrame(0x82, bytes.Repeat([]byte{9}, 300)),
		bytes.Join([][]byte{maskedFrame(0x01, []byte("hé")), maskedFrame(0x89, []byte("p")), maskedFrame(0x80, []byte("llo"))}, nil),
		maskedFrame(0x81, []byte{0xff}),
		maskedFrame(0x88, closePayload(1000, "bye")),
		maskedFrame(0x88, []byte{1}),
		frameWithLen(0x82, nil, 1<<40, true),
		frameWithLen(0x81, []byte("x"), 1, false),
		maskedFrame(0xC1, []byte("rsv")),
		maskedFrame(0x80, []byte("cont")),
		{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
	}
	for _, s := range seeds {
		for _, chunk := range []uint8{1, 3, 200} {
			f.Add(s, chunk)
		}
	}
	cfg := Config{MaxFrameSize: 512, MaxMessageSize: 2048, MessageRate: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		whole := feedFrames(t, data, len(data)+1, cfg)
		chunked := feedFrames(t, data, int(chunk)+1, cfg)
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("chunking changed the outcome:\nwhole   %+v\nchunked %+v", whole, chunked)
		}
	})
}

// parseChunked feeds data to parseRequest in growing prefixes of chunk
// bytes, as reads arrive, and returns the first decision: for a request,
// its path and query, and on a line after them its host.
func parseChunked(data []byte, chunk int) (int, parseStatus, string, string) {
	var r Request
	for end := min(chunk, len(data)); ; end = min(end+chunk, len(data)) {
		n, st := parseRequest(data[:end], MaxRequestSize, &r)
		if st != needMore || end == len(data) {
			if st == 0 {
				return n, st, r.Path + "?" + r.RawQuery + "\r\n" + r.Host, r.Header("Sec-WebSocket-Key")
			}
			return n, st, "", ""
		}
	}
}

func FuzzHandshake(f *testing.F) {
	f.Add([]byte(upgradeRequest("/echo", "")), uint8(1))
	f.Add([]byte(upgradeRequest("/rec?token=a%20b&x", "X-Test:  spaced  \r\nOrigin: https://x\r\n")), uint8(5))
	f.Add([]byte("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(3))
	f.Add([]byte("GET /echo HTTP/1.1\r\nBad Header\r\n\r\n"), uint8(2))
	f.Add([]byte("GET  HTTP/1.1\r\n\r\n"), uint8(1))
	f.Add([]byte("\x16\x03\x01\r\n\r\n"), uint8(4))
	f.Add(append([]byte(upgradeRequest("/echo", "")), maskedFrame(0x81, []byte("behind"))...), uint8(7))
	f.Add(append([]byte(upgradeRequest("/echo", "Content-Length: 10\r\n")), maskedFrame(0x81, []byte("body"))...), uint8(6))
	f.Add([]byte(upgradeRequest("/echo", "Transfer-Encoding: chunked\r\n")+"4\r\nbody\r\n0\r\n\r\n"), uint8(9))
	f.Add([]byte(strings.Replace(upgradeRequest("/rec?token=t", ""), "/rec", "http://127.0.0.1:8080/rec", 1)), uint8(4))
	f.Add([]byte(strings.Replace(upgradeRequest("/", ""), "/", "HTTPS://game.example?x", 1)), uint8(11))
	f.Add([]byte(strings.Replace(upgradeRequest("/echo", ""), "/echo", "http://u@h/echo", 1)), uint8(2))
	f.Add([]byte(strings.Replace(upgradeRequest("/echo", ""), "/echo", "ws://h/echo", 1)), uint8(1))
	f.Add([]byte(strings.Replace(upgradeRequest("/echo", ""), "/echo", "http://:8080/echo", 1)), uint8(6))
	f.Add([]byte(strings.Replace(upgradeRequest("/echo", ""), "/echo", "http://h#x/echo", 1)), uint8(9))
	f.Add([]byte(upgradeRequest("/echo", "X-A: a\nTransfer-Encoding: chunked\r\n")+"4\r\nbody\r\n0\r\n\r\n"), uint8(8))
	f.Add([]byte(strings.Replace(upgradeRequest("/echo", ""), "Host: test\r\n", "Host: a\nHost: b\r\n", 1)), uint8(3))
	f.Add([]byte(upgradeRequest("/echo", "X-A: a\rb\r\nX-B: \x00\r\n")), uint8(13))
	f.Add([]byte(upgradeRequest("/echo?a\nb\x00c\rd", "")), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		n1, st1, target1, key1 := parseChunked(data, len(data)+1)
		n2, st2, target2, key2 := parseChunked(data, int(chunk)+1)
		if n1 != n2 || st1 != st2 || target1 != target2 || key1 != key2 {
			t.Fatalf("chunking changed the outcome: (%d %d %q %q) vs (%d %d %q %q)", n1, st1, target1, key1, n2, st2, target2, key2)
		}
		if n1 < 0 || n1 > len(data) || n1 > MaxRequestSize {
			t.Fatalf("request length %d of %d", n1, len(data))
		}
		if st1 == 0 && !bytes.HasSuffix(data[:n1], []byte("\r\n\r\n")) {
			t.Fatalf("request head does not end with a blank line")
		}
		if st1 == 0 && bytes.ContainsAny(bytes.ReplaceAll(data[:n1], []byte("\r\n"), nil), "\r\n\x00") {
			t.Fatalf("request head with a CR, LF or NUL outside its line endings accepted")
		}
		if st1 == 0 && !strings.HasPrefix(target1, "/") {
			t.Fatalf("path of %q does not start with /", target1)
		}
	})
}

// FuzzRequestQuery checks the upgrade request's query reader, which finds
// the token and the declared protocol version, against net/url: on a query
// url.ParseQuery reads without complaint, Query and LookupQuery give what
// url.Values does for a key; on any other, they do not panic, and Query
// gives LookupQuery's value or "".
func FuzzRequestQuery(f *testing.F) {
	for _, q := range []string{
		"token=abc", "a=1&token=x%2By&token=second", "q=a+b", "t%6Fken=enc", "token", "token=",
		"other=1", "token=%zz&token=ok", "protocol_version=2&token=a", "token=a;b", "&&token=%41%42&",
		"t+k=v", "token=a=b", "%zz=1&token=t", "token=%e2%82%ac",
	} {
		f.Add(q, "token")
		f.Add(q, "protocol_version")
	}
	f.Add("a%20b=c", "a b")
	f.Fuzz(func(t *testing.T, q, key string) {
		if key == "" || strings.ContainsAny(key, "%+") {
			return // the server asks for plain names only ("token")
		}
		r := &Request{RawQuery: q}
		v, present := r.LookupQuery(key)
		if got := r.Query(key); got != "" && got != v {
			t.Fatalf("Query(%q) = %q, LookupQuery = %q", key, got, v)
		}
		want, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		if present != want.Has(key) || v != want.Get(key) || r.Query(key) != want.Get(key) {
			t.Fatalf("in %q, %q: LookupQuery %q %v, Query %q; net/url %q %v", q, key, v, present, r.Query(key), want.Get(key), want.Has(key))
		}
	})
}
