package clientip_test

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/tickroom/tickroom/server/clientip"
)

func TestResolve(t *testing.T) {
	trusted := clientip.MustParse("127.0.0.1, 10.0.0.0/8, fd00::/8")
	tests := []struct {
		name, peer, xff, want string
	}{
		{"direct client, no header", "203.0.113.9", "", "203.0.113.9"},
		{"direct client spoofing the header", "203.0.113.9", "198.51.100.1", "203.0.113.9"},
		{"trusted proxy, no header", "127.0.0.1", "", "127.0.0.1"},
		{"trusted proxy names the client", "127.0.0.1", "198.51.100.1", "198.51.100.1"},
		{"client prepends a fake entry", "127.0.0.1", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"chain of trusted hops", "127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1"},
		{"every hop trusted", "127.0.0.1", "10.0.0.5, 10.1.2.3", "10.0.0.5"},
		{"garbage after the client is ignored", "127.0.0.1", "junk, 198.51.100.1", "198.51.100.1"},
		{"garbage from the proxy names the proxy", "127.0.0.1", "198.51.100.1, junk", "127.0.0.1"},
		{"garbage behind a trusted hop names that hop", "127.0.0.1", "junk, 10.1.2.3", "10.1.2.3"},
		{"entry with a port", "127.0.0.1", "198.51.100.1:4711", "198.51.100.1"},
		{"IPv6 entry with a port", "127.0.0.1", "[2001:db8::1]:4711", "2001:db8::1"},
		{"IPv4-mapped peer", "::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"},
		{"IPv6 proxy", "fd00::1", "2001:db8::7", "2001:db8::7"},
		{"empty entries", "127.0.0.1", ",,198.51.100.1,", "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trusted.Resolve(netip.MustParseAddr(tt.peer), tt.xff)
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("Resolve(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

func TestZeroTrustsNobody(t *testing.T) {
	var none clientip.Trusted
	if got := none.Resolve(netip.MustParseAddr("127.0.0.1"), "198.51.100.1"); got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("zero Trusted resolved to %s", got)
	}
	if !none.Empty() {
		t.Fatal("zero Trusted is not empty")
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"localhost", "10.0.0.0/33", "1.2.3", "127.0.0.1,nope"} {
		if _, err := clientip.Parse(bad); !errors.Is(err, clientip.ErrBadPrefix) {
			t.Errorf("Parse(%q) error = %v, want ErrBadPrefix", bad, err)
		}
	}
	got, err := clientip.Parse(" 10.1.2.3/8 ,::1,")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "10.0.0.0/8,::1/128" {
		t.Fatalf("Parse = %s", got)
	}
}

func TestFromRequest(t *testing.T) {
	trusted := clientip.MustParse("127.0.0.1")
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "203.0.113.9:5555", []string{"198.51.100.1"}, "203.0.113.9"},
		{"proxied", "127.0.0.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"several header lines", "127.0.0.1:5555", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer", "[::1]:5555", []string{"198.51.100.1"}, "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := trusted.FromRequest(r); got != netip.MustParseAddr(tt.want) {
				t.Fatalf("FromRequest = %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzResolve checks that no header makes Resolve name an address that is
// neither the peer nor one written in the header, and that an untrusted
// peer is always its own client.
func FuzzResolve(f *testing.F) {
	f.Add("127.0.0.1", "198.51.100.1, 10.0.0.1")
	f.Add("203.0.113.9", "1.1.1.1")
	f.Add("127.0.0.1", ",,[::1]:80,junk")
	trusted := clientip.MustParse("127.0.0.0/8, 10.0.0.0/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		got := trusted.Resolve(p, xff)
		if !trusted.Contains(p) && got != p.Unmap() {
			t.Fatalf("untrusted peer %s resolved to %s", p, got)
		}
		if !got.IsValid() {
			t.Fatalf("invalid result for %s %q", p, xff)
		}
	})
}
