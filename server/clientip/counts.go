package clientip

import "net/netip"

// Counts counts what client addresses hold (handshakes, streams, store
// reads): each one under its address's Group key and, for IPv6, its /48
// as well, so that the /64s of one site share a bound. A key at zero is
// deleted, so the map holds only the addresses holding something. Not
// safe for concurrent use: its holder's lock guards it.
type Counts map[netip.Prefix]int

// Take counts one for ip and reports true, unless ip's key holds limit
// already or its /48 siteLimit: then it counts nothing.
func (c Counts) Take(ip netip.Addr, limit, siteLimit int) bool {
	key, site := Group(ip)
	if c[key] >= limit || site.IsValid() && c[site] >= siteLimit {
		return false
	}
	c[key]++
	if site.IsValid() {
		c[site]++
	}
	return true
}

// Give takes back one that Take counted for ip.
func (c Counts) Give(ip netip.Addr) {
	key, site := Group(ip)
	c.Drop(key)
	if site.IsValid() {
		c.Drop(site)
	}
}

// Drop takes one off k's count, deleting k at zero.
func (c Counts) Drop(k netip.Prefix) {
	if n := c[k] - 1; n > 0 {
		c[k] = n
	} else {
		delete(c, k)
	}
}
