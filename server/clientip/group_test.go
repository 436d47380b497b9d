package clientip_test

import (
	"net/netip"
	"testing"

	"github.com/tickroom/tickroom/server/clientip"
)

func TestGroup(t *testing.T) {
	for _, tc := range []struct{ addr, key, site string }{
		{"198.51.100.7", "198.51.100.7/32", ""},
		{"::ffff:198.51.100.7", "198.51.100.7/32", ""},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64", "2001:db8:1::/48"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			key, site := clientip.Group(netip.MustParseAddr(tc.addr))
			if key.String() != tc.key || (tc.site == "") == site.IsValid() || site.IsValid() && site.String() != tc.site {
				t.Fatalf("Group(%s) = %v, %v; want %s, %q", tc.addr, key, site, tc.key, tc.site)
			}
		})
	}
}
