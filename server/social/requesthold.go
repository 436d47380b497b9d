package social

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tickroom/tickroom/server/clientip"
)

// A friend request is counted by the Graph against its sender's client
// address (Config.MaxRequestsPerAddress) and, from a guest, against the
// guests' share (Config.MaxGuestRequests) once stored; before that, from
// the start of its Admit until the store has it (or it comes to nothing),
// this node holds it in requestHolds, under its recipient and its
// sender's address (and IPv6 /48), or the recipient's guests, so that
// requests sent together, checked at once, are each counted against the
// others. The holds are this node's: another node of a cluster knows only
// the stored ones.

// holdKey names the requests held for one recipient from one address key
// or IPv6 /48 (addr), or from guests (guest).
type holdKey struct {
	to    string
	addr  netip.Prefix
	guest bool
}

// requestHolds keeps the held requests, in the order they were held
// under each key. Safe from any goroutine: a hold is released from the
// store's Done, which must not take Social's lock.
type requestHolds struct {
	mu   sync.Mutex
	seq  uint64
	held map[holdKey][]*requestHold
}

// requestHold is one held request.
type requestHold struct {
	holds    *requestHolds
	seq      uint64
	from     string
	ip       netip.Addr // zero when the address has no share
	keys     []holdKey  // its address key, its /48, its recipient's guests: those it is held under
	released atomic.Bool
	// handed is set, under Social's lock, once the request was made and
	// its save (whose Done releases the hold) queued, or handed on to an
	// answer that releases it.
	handed bool
}

// holdRequest holds a request from m's user uid to user to; nil when
// there is nothing to hold it under (m's address has no share and its
// user is no guest) or no Graph to store requests.
func (so *Social) holdRequest(m *Member, uid, to string) *requestHold {
	if so.cfg.Graph == nil {
		return nil
	}
	h := &requestHold{from: uid}
	if m.conn != nil && !so.exempt(m) {
		if ip := m.conn.ClientIP(); ip.IsValid() {
			key, site := clientip.Group(ip)
			h.ip = ip
			h.keys = append(h.keys, holdKey{to: to, addr: key})
			if site.IsValid() {
				h.keys = append(h.keys, holdKey{to: to, addr: site})
			}
		}
	}
	if m.guest {
		h.keys = append(h.keys, holdKey{to: to, guest: true})
	}
	if len(h.keys) == 0 {
		return nil
	}
	t := &so.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held = make(map[holdKey][]*requestHold)
	}
	t.seq++
	h.holds, h.seq = t, t.seq
	for _, k := range h.keys {
		t.held[k] = append(t.held[k], h)
	}
	return h
}

// before returns the senders of the requests still held that were held
// before h, under h's address key (addr), its /48 (site), and its
// recipient's guests when h's sender is one (guests); none for a nil h.
func (h *requestHold) before() (addr, site, guests []string) {
	if h == nil {
		return nil, nil, nil
	}
	t := h.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range h.keys {
		var out []string
		for _, o := range t.held[k] {
			if o.seq < h.seq {
				out = append(out, o.from)
			}
		}
		switch {
		case k.guest:
			guests = out
		case k.addr.Addr().Is6() && k.addr.Bits() == 48:
			site = out
		default:
			addr = out
		}
	}
	return addr, site, guests
}

// release ends h, once however often it is called; a nil h is none.
func (h *requestHold) release() {
	if h == nil || h.released.Swap(true) {
		return
	}
	t := h.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range h.keys {
		l := slices.DeleteFunc(t.held[k], func(o *requestHold) bool { return o == h })
		if len(l) == 0 {
			delete(t.held, k)
		} else {
			t.held[k] = l
		}
	}
}

// addr is the sender's client address the request is stored with: zero
// for none.
func (h *requestHold) addr() netip.Addr {
	if h == nil {
		return netip.Addr{}
	}
	return h.ip
}

// saveRequest records a new friend request from uid to x, sent under hold
// h (nil for none), and calls done (when not nil) as save's Done would;
// the hold is released once the Graph has the request. The caller holds
// so.mu.
func (so *Social) saveRequest(h *requestHold, uid, x string, done func()) {
	if h != nil {
		h.handed = true
	}
	if so.cfg.Graph == nil {
		h.release()
		if done != nil {
			done()
		}
		return
	}
	so.cfg.Graph.Save(GraphChange{Kind: ChangeRequest, From: uid, To: x, At: so.host.Now(), Addr: h.addr(), Done: func() {
		h.release()
		if done != nil {
			done()
		}
	}})
}
