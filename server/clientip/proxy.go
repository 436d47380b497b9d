package clientip

import (
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
)

// ProxyListener wraps ln for the PROXY protocol (versions 1 and 2, as
// nginx's stream module, HAProxy and TCP load balancers send it): a
// connection from one of t's proxies may start with a PROXY header naming
// the client, which then is the connection's RemoteAddr (and so
// http.Request.RemoteAddr, which FromRequest reads); a trusted proxy may
// also send none. A connection from anyone else that starts with one is
// refused: its first read fails, which net/http answers with 400 and a
// close, so no client can name itself. timeout bounds the wait for a
// connection's first bytes (zero: the library's 10 s).
//
// The parsing is github.com/pires/go-proxyproto's: on these blocking
// net.Conns its listener wrapper fits as it is (the WebSocket port's event
// loops parse the same header in place; see package server).
func (t Trusted) ProxyListener(ln net.Listener, timeout time.Duration) net.Listener {
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: timeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if t.Contains(addrOf(o.Upstream)) {
				return proxyproto.USE, nil
			}
			return proxyproto.REJECT, nil
		},
	}
}

// addrOf returns a's IP, or the zero Addr when a is not a TCP address.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
