package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// The PROXY protocol (HAProxy's "PROXY protocol" versions 1 and 2, which
// nginx's stream module, HAProxy and the cloud TCP load balancers send):
// a proxy that forwards TCP without reading HTTP states the client's
// address in a header ahead of the connection's first byte.
//
// The header is parsed in place, like the upgrade request after it:
// OnTraffic peeks what gnet holds, proxyHeaderLen finds where a header
// ends from its own framing (v1: a line of at most 107 bytes ending in
// CRLF; v2: 16 bytes and a length), and an incomplete header waits for
// the next call. Only a whole header is handed to
// github.com/pires/go-proxyproto, a well-kept parser of both versions
// and their address families, through a bufio.Reader over those bytes
// alone, so its reader never blocks on the connection and never reads
// past the header. The library's own net.Listener wrapper would need a
// blocking net.Conn, which gnet's event loops do not have; the HTTP port
// (net/http) uses that wrapper (ProxyListener).

// Sentinel errors of the PROXY header parser.
var (
	errNoProxyHeader   = errors.New("server: no PROXY header")
	errProxyHeaderMore = errors.New("server: PROXY header incomplete")
	errProxyHeaderBad  = errors.New("server: malformed PROXY header")
)

// maxProxyV1 is the longest version 1 header, CRLF included.
const maxProxyV1 = 107

// MaxProxyHeaderV2 caps a version 2 header (16 bytes and its addresses and
// TLVs); a longer one is refused. Load balancers send well under it.
const MaxProxyHeaderV2 = 1024

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// proxyHeaderLen reports the length of the PROXY header at the start of b:
// errNoProxyHeader when b does not start with one, errProxyHeaderMore when
// it may but is not whole yet (b empty included), errProxyHeaderBad when
// it is too long.
func proxyHeaderLen(b []byte) (int, error) {
	switch {
	case len(b) == 0:
		return 0, errProxyHeaderMore
	case hasPrefixOf(b, sigV1):
		if len(b) < len(sigV1) {
			return 0, errProxyHeaderMore
		}
		end := min(len(b), maxProxyV1)
		if i := bytes.Index(b[:end], []byte("\r\n")); i >= 0 {
			return i + 2, nil
		}
		if len(b) >= maxProxyV1 {
			return 0, errProxyHeaderBad
		}
		return 0, errProxyHeaderMore
	case hasPrefixOf(b, sigV2):
		if len(b) < 16 {
			return 0, errProxyHeaderMore
		}
		n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
		if n > MaxProxyHeaderV2 {
			return 0, errProxyHeaderBad
		}
		if len(b) < n {
			return 0, errProxyHeaderMore
		}
		return n, nil
	}
	return 0, errNoProxyHeader
}

// hasPrefixOf reports whether b and sig agree on their common length, and
// b is not empty: b starts with sig, or with the start of it.
func hasPrefixOf(b, sig []byte) bool {
	n := min(len(b), len(sig))
	return n > 0 && bytes.Equal(b[:n], sig[:n])
}

// parseProxyHeader parses the PROXY header at the start of b. It returns
// the bytes the header used and the client address it names, which is the
// zero Addr for a header that names none (v1 UNKNOWN, v2 LOCAL: a proxy's
// own health check). Errors: errNoProxyHeader, errProxyHeaderMore,
// errProxyHeaderBad (wrapping the library's reason).
func parseProxyHeader(b []byte) (int, netip.Addr, error) {
	n, err := proxyHeaderLen(b)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	r := bufio.NewReaderSize(bytes.NewReader(b[:n]), max(n, 16))
	h, err := proxyproto.Read(r)
	if err != nil {
		return 0, netip.Addr{}, errors.Join(errProxyHeaderBad, err)
	}
	if r.Buffered() != 0 {
		return 0, netip.Addr{}, errProxyHeaderBad // the framing and the parser disagree
	}
	if h.Command.IsLocal() {
		return n, netip.Addr{}, nil
	}
	var src netip.Addr
	switch a := h.SourceAddr.(type) {
	case *net.TCPAddr:
		src, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		src, _ = netip.AddrFromSlice(a.IP)
	}
	return n, src.Unmap(), nil
}

// readProxyHeader handles what a connection sends before its upgrade
// request when Config.ProxyProtocol is on: from a trusted proxy, a PROXY
// header (if any) names the client, which from then on is Conn.ClientIP
// and is held to the per-IP handshake cap; from anyone else a PROXY header
// is refused with 400, so no client can name itself. It returns the bytes
// used and whether the handshake may go on with the rest of b; false with
// the state unchanged means more bytes are needed. Loop only.
func (c *Conn) readProxyHeader(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if !c.srv.cfg.TrustedProxies.Contains(c.ip) {
		switch {
		case bytes.HasPrefix(b, sigV1) || bytes.HasPrefix(b, sigV2):
			c.srv.cfg.Logger.Debug("PROXY header refused: untrusted peer", "conn", c.id, "ip", c.ip)
			c.refuseHTTP(400, "PROXY header from an untrusted address", 0)
			return len(b), false
		case hasPrefixOf(b, sigV1) && len(b) < len(sigV1), hasPrefixOf(b, sigV2) && len(b) < len(sigV2):
			return 0, false
		}
		c.proxyRead = true
		return 0, true
	}
	n, src, err := parseProxyHeader(b)
	switch {
	case errors.Is(err, errProxyHeaderMore):
		return 0, false
	case errors.Is(err, errNoProxyHeader):
		c.proxyRead = true
		return 0, true
	case err != nil:
		c.srv.cfg.Logger.Debug("PROXY header refused", "conn", c.id, "ip", c.ip, "err", err)
		c.refuseHTTP(400, "malformed PROXY header", 0)
		return len(b), false
	}
	c.proxyRead = true
	if src.IsValid() {
		c.ip = src
		if !c.srv.cfg.TrustedProxies.Contains(c.ip) && !c.srv.handshakeStart(c) {
			c.refuse = 429
		}
	}
	return n, true
}
