package clientip

import "net/netip"

// V6SiteFactor is how many addresses' worth of a per-address limit the
// /64s of one IPv6 /48 share (see Group).
const V6SiteFactor = 16

// Group returns the keys a per-address limit counts addr under. An IPv4
// address is its own key. One IPv6 subscriber usually gets a whole /64,
// so key is the /64: counting exact addresses would give one client 2^64
// of them. A site usually gets a /48, whose 65,536 /64s would each get a
// full share, so site is the /48, which a limit caps at V6SiteFactor
// times one key's share. site is invalid for IPv4.
func Group(addr netip.Addr) (key, site netip.Prefix) {
	a := addr.Unmap()
	if a.Is6() {
		key, _ = a.Prefix(64)
		site, _ = a.Prefix(48)
		return key, site
	}
	return netip.PrefixFrom(a, a.BitLen()), netip.Prefix{}
}

// Key is the address per-address shares count addr as: the address itself
// for IPv4, its /64 for IPv6 (Group's key).
func Key(addr netip.Addr) netip.Addr {
	key, _ := Group(addr)
	return key.Addr()
}
