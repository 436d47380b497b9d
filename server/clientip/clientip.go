// Package clientip decides which address a request or connection comes
// from when tickroom runs behind a reverse proxy.
//
// A TLS-terminating proxy (nginx, Caddy, a cloud load balancer) connects to
// tickroom itself, so the TCP peer of every request is the proxy. The proxy
// names the real client in X-Forwarded-For. That header is only evidence
// when a proxy we run wrote it: any client can send one. So the client
// address is taken from the header only when the TCP peer is in the trusted
// list, and then only as far back as the chain of trusted hops goes: walking
// X-Forwarded-For from the right (the entry our proxy appended), the first
// address that is not itself a trusted proxy is the client. Whatever a
// client writes to the left of that is ignored; a direct client's header is
// ignored altogether.
//
// A proxy that forwards TCP rather than HTTP names the client in a PROXY
// protocol header instead; ProxyListener (the HTTP ports) and
// server.Config.ProxyProtocol (the WebSocket port) believe that header
// from the same trusted list only, and refuse it from anyone else.
//
// Every per-IP limit and every log line that names a client uses Resolve
// (through server.Conn.ClientIP and FromRequest), so there is one answer
// to "who is this" in the whole server.
package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ErrBadPrefix wraps an entry of a trusted-proxies list that is neither an
// address nor a CIDR prefix.
var ErrBadPrefix = errors.New("clientip: not an IP address or CIDR prefix")

// Trusted is the set of proxy addresses whose X-Forwarded-For is believed.
// The zero value trusts nobody: every client is its TCP peer. A Trusted is
// read-only after Parse and safe from any goroutine.
type Trusted struct {
	prefixes []netip.Prefix
}

// Parse reads a comma-separated list of addresses and CIDR prefixes
// ("127.0.0.1, 10.0.0.0/8, fd00::/8"). An empty string trusts nobody.
func Parse(list string) (Trusted, error) {
	var t Trusted
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return Trusted{}, fmt.Errorf("%w: %q", ErrBadPrefix, f)
		}
		a = a.Unmap()
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

// MustParse is Parse that panics on a bad list; for tests and constants.
func MustParse(list string) Trusted {
	t, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return t
}

// Empty reports whether t trusts nobody.
func (t Trusted) Empty() bool { return len(t.prefixes) == 0 }

// String lists the trusted prefixes, comma-separated.
func (t Trusted) String() string {
	s := make([]string, len(t.prefixes))
	for i, p := range t.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Contains reports whether a is a trusted proxy address.
func (t Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of a request that arrived from the TCP
// peer with the given X-Forwarded-For value (all the header's lines joined
// with commas; "" when absent). When the peer is not trusted the header is
// ignored and the peer is the client. Otherwise the header is walked from
// the right, skipping trusted hops; the first untrusted address is the
// client. An entry that is not an address stops the walk: the hop that
// forwarded it is the client as far as we can tell, so a malformed header
// can never name someone else.
func (t Trusted) Resolve(peer netip.Addr, forwardedFor string) netip.Addr {
	peer = peer.Unmap()
	if !t.Contains(peer) {
		return peer
	}
	client := peer
	for forwardedFor != "" {
		var entry string
		if i := strings.LastIndexByte(forwardedFor, ','); i >= 0 {
			entry, forwardedFor = forwardedFor[i+1:], forwardedFor[:i]
		} else {
			entry, forwardedFor = forwardedFor, ""
		}
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue // "a,,b": an empty list element (RFC 9110 §5.6.1)
		}
		a, ok := parseEntry(entry)
		if !ok {
			return client
		}
		client = a
		if !t.Contains(a) {
			return a
		}
	}
	return client
}

// parseEntry reads one X-Forwarded-For entry: an address, optionally with
// a port ("1.2.3.4:5678", "[::1]:80") as some proxies write it.
func parseEntry(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// FromRequest returns the client address of an HTTP request: the TCP peer
// (r.RemoteAddr) resolved against r's X-Forwarded-For headers. It returns
// the zero Addr when r.RemoteAddr is not an address (a request that did
// not come over TCP).
func (t Trusted) FromRequest(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, herr := net.SplitHostPort(r.RemoteAddr)
		if herr != nil {
			host = r.RemoteAddr
		}
		a, aerr := netip.ParseAddr(host)
		if aerr != nil {
			return netip.Addr{}
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	if !t.Contains(ap.Addr()) {
		return ap.Addr().Unmap()
	}
	return t.Resolve(ap.Addr(), strings.Join(r.Header.Values("X-Forwarded-For"), ","))
}
