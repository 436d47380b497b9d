package hub

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/clientip"
	"golang.org/x/time/rate"
)

// Room creation is paid from budgets, so that a few guests cannot fill the
// server with rooms or with expensive ones (the rate limiter is
// golang.org/x/time/rate's token bucket: creation is far from a hot path).
//
// A room costs what its game's Definition.RoomCost says: the game's own
// Cost of its options (the arena prices its map, walls, pickups and
// players), or game.DefaultCost. Each user and each client address has a
// creation bucket (RoomCreateBurst units, refilled at RoomCreateRate units
// a second), and the rooms a user or an address created that are still
// alive count against its share of the server's rooms (MaxRoomCostPerUser,
// MaxRoomCostPerIP units), whether or not it is still in them. A room whose
// creator left is closed CreatorGoneTimeout after, if it is empty then
// (creatorgone.go). A room that costs more than a user's share or burst can never be paid
// for: it is refused with ERROR_CODE_ROOM_LIMIT naming its cost.

// owner is a user's or an address's creation budget and live rooms.
type owner struct {
	bucket *rate.Limiter
	rooms  []ownedRoom
}

// ownedRoom is a room an owner created, with its cost.
type ownedRoom struct {
	id   string
	cost int
}

// roomQuota tracks creation budgets. Its methods are safe from any
// goroutine.
type roomQuota struct {
	h *Hub

	mu      sync.Mutex
	users   map[string]*owner
	ips     map[netip.Addr]*owner
	sites   map[netip.Prefix]*owner // IPv6 /48s: clientip.V6SiteFactor times an address's share
	charges int                     // creations charged, for sweeping idle owners
}

func newRoomQuota(h *Hub) *roomQuota {
	return &roomQuota{h: h, users: make(map[string]*owner), ips: make(map[netip.Addr]*owner), sites: make(map[netip.Prefix]*owner)}
}

// quotaSweepEvery is how many creations pass between sweeps of owners with
// no live room and a full bucket.
const quotaSweepEvery = 256

// charge pays for a room of cost created by s, or refuses it: with
// ERROR_CODE_RATE_LIMITED and a retry hint when a bucket is short, with
// ERROR_CODE_ROOM_LIMIT when the user's or the address's live rooms would
// exceed its share. A charged creation is recorded with record, or given
// back with refund when the room could not be created.
func (q *roomQuota) charge(s *Session, cost int) (*charge, error) {
	cfg := &q.h.cfg
	if most := min(cfg.MaxRoomCostPerUser, cfg.RoomCreateBurst); cost > most {
		return nil, protocol.Errorf(protocol.ErrorRoomLimit, "this room costs %d units, more than the %d a user may spend on rooms", cost, most)
	}
	now := cfg.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.charges++
	if q.charges%quotaSweepEvery == 0 {
		q.sweepLocked(now)
	}
	c := &charge{q: q, cost: cost, at: now, user: ownerLocked(q, q.users, s.claims.UserID, 1)}
	if ip := s.ip(); !cfg.IPQuotaExempt(ip) {
		key, site := clientip.Group(ip)
		c.ip = ownerLocked(q, q.ips, key.Addr(), cfg.IPQuotaFactor)
		if site.IsValid() {
			c.site = ownerLocked(q, q.sites, site, cfg.IPQuotaFactor*clientip.V6SiteFactor)
		}
	}
	if live := q.liveLocked(c.user); live+cost > cfg.MaxRoomCostPerUser {
		return nil, protocol.Errorf(protocol.ErrorRoomLimit, "rooms you created still run (%d of %d units; this one costs %d)", live, cfg.MaxRoomCostPerUser, cost)
	}
	if c.ip != nil {
		if live := q.liveLocked(c.ip); live+cost > cfg.MaxRoomCostPerUser*cfg.IPQuotaFactor {
			return nil, protocol.Errorf(protocol.ErrorRoomLimit, "rooms created from your address still run (%d of %d units)", live, cfg.MaxRoomCostPerUser*cfg.IPQuotaFactor)
		}
	}
	if c.site != nil {
		if most := cfg.MaxRoomCostPerUser * cfg.IPQuotaFactor * clientip.V6SiteFactor; q.liveLocked(c.site)+cost > most {
			return nil, protocol.Errorf(protocol.ErrorRoomLimit, "rooms created from your network still run (%d of %d units)", q.liveLocked(c.site), most)
		}
	}
	var wait time.Duration
	c.userRes = c.user.bucket.ReserveN(now, cost)
	wait = max(wait, delay(c.userRes, now))
	if c.ip != nil {
		c.ipRes = c.ip.bucket.ReserveN(now, cost)
		wait = max(wait, delay(c.ipRes, now))
	}
	if c.site != nil {
		c.siteRes = c.site.bucket.ReserveN(now, cost)
		wait = max(wait, delay(c.siteRes, now))
	}
	if wait > 0 {
		c.cancel(now)
		return nil, &protocol.Error{
			Code: protocol.ErrorRateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("room creation budget spent (this room costs %d units)", cost),
		}
	}
	return c, nil
}

// delay is how long r makes its caller wait; forever for a reservation the
// bucket can never grant.
func delay(r *rate.Reservation, now time.Time) time.Duration {
	if !r.OK() {
		return time.Hour
	}
	return r.DelayFrom(now)
}

// ownerLocked returns the owner under key, made with a bucket of factor
// times the per-user budget. The caller holds q.mu.
func ownerLocked[K comparable](q *roomQuota, m map[K]*owner, key K, factor int) *owner {
	o := m[key]
	if o == nil {
		cfg := &q.h.cfg
		o = &owner{bucket: rate.NewLimiter(rate.Limit(cfg.RoomCreateRate*float64(factor)), cfg.RoomCreateBurst*factor)}
		m[key] = o
	}
	return o
}

// liveLocked forgets o's rooms that are gone and returns the cost of the
// others. The caller holds q.mu.
func (q *roomQuota) liveLocked(o *owner) int {
	o.rooms = slices.DeleteFunc(o.rooms, func(r ownedRoom) bool { _, ok := q.h.rt.Room(r.id); return !ok })
	n := 0
	for _, r := range o.rooms {
		n += r.cost
	}
	return n
}

// sweepLocked forgets owners with no live room and a full bucket: they are
// as a new owner would be. The caller holds q.mu.
func (q *roomQuota) sweepLocked(now time.Time) {
	idle := func(o *owner) bool {
		return q.liveLocked(o) == 0 && o.bucket.TokensAt(now) >= float64(o.bucket.Burst())
	}
	for k, o := range q.users {
		if idle(o) {
			delete(q.users, k)
		}
	}
	for k, o := range q.ips {
		if idle(o) {
			delete(q.ips, k)
		}
	}
	for k, o := range q.sites {
		if idle(o) {
			delete(q.sites, k)
		}
	}
}

// charge is a creation paid for, not yet recorded.
type charge struct {
	q                       *roomQuota
	cost                    int
	at                      time.Time // when it was charged
	user, ip, site          *owner    // ip is nil for an exempt address; site for an IPv4 one too
	userRes, ipRes, siteRes *rate.Reservation
}

// cancel gives the reservations back. The caller holds q.mu.
func (c *charge) cancel(now time.Time) {
	c.userRes.CancelAt(now)
	if c.ipRes != nil {
		c.ipRes.CancelAt(now)
	}
	if c.siteRes != nil {
		c.siteRes.CancelAt(now)
	}
}

// refund gives a creation that failed back to the budgets. It cancels at
// the time of the charge: rate.Reservation.CancelAt gives nothing back at
// a time after the reservation took effect, which a granted one did at
// once, so a cancel at the current time would keep every refused
// creation's cost (the buckets then refill the moments between the
// charge and now twice, a negligible gift).
func (c *charge) refund() {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	c.cancel(c.at)
}

// record counts the created room against its creator's shares.
func (c *charge) record(roomID string) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	r := ownedRoom{id: roomID, cost: c.cost}
	c.user.rooms = append(c.user.rooms, r)
	if c.ip != nil {
		c.ip.rooms = append(c.ip.rooms, r)
	}
	if c.site != nil {
		c.site.rooms = append(c.site.rooms, r)
	}
}

// owns reports whether userID created roomID and the room still counts
// against it.
func (q *roomQuota) owns(userID, roomID string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.users[userID]
	return o != nil && slices.ContainsFunc(o.rooms, func(r ownedRoom) bool { return r.id == roomID })
}

// isLoopback is the default IPQuotaExempt: a load test or a proxy on the
// same host is not one client (set trusted proxies so that a proxy's
// clients are told apart).
func isLoopback(ip netip.Addr) bool { return ip.IsLoopback() }
