package clientip

import (
	"net/netip"
	"testing"
)

// TestCounts: an address is held to its limit, the /64s of one /48 to the
// site's, and what is given back frees a place and leaves no key behind.
func TestCounts(t *testing.T) {
	c := Counts{}
	v4 := netip.MustParseAddr("192.0.2.1")
	if !c.Take(v4, 2, 4) || !c.Take(v4, 2, 4) || c.Take(v4, 2, 4) {
		t.Fatalf("an IPv4 address took other than 2 of a limit of 2: %v", c)
	}
	var taken int
	for i := range 8 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: 1})
		if c.Take(ip, 2, 3) {
			taken++
		}
	}
	if taken != 3 {
		t.Fatalf("8 /64s of one /48 took %d, want the site's 3", taken)
	}
	c.Give(v4)
	if !c.Take(v4, 2, 4) {
		t.Fatal("a place given back was not taken again")
	}
	c.Give(v4)
	c.Give(v4)
	for i := range 3 {
		c.Give(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: 1}))
	}
	if len(c) != 0 {
		t.Fatalf("everything given back, the counts still hold %v", c)
	}
}
