package social

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tickroom/tickroom/server/clientip"
)

// A friend request from a client address with a per-address share
// (Config.MaxRequestsPerAddress) is counted by the Graph once stored;
// before that, from the start of its Admit until the store has it (or it
// comes to nothing), this node holds it in requestHolds, under its
// recipient and its sender's address (and IPv6 /48), so that requests
// sent together from one address, checked at once, are each counted
// against the others. The holds are this node's: another node of a
// cluster knows only the stored ones.

// holdKey names the requests held for one recipient from one address key
// or IPv6 /48.
type holdKey struct {
	to   string
	addr netip.Prefix
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
	holds     *requestHolds
	seq       uint64
	from, to  string
	ip        netip.Addr
	key, site netip.Prefix
	released  atomic.Bool
	// handed is set, under Social's lock, once the request was made and
	// its save (whose Done releases the hold) queued, or handed on to an
	// answer that releases it.
	handed bool
}

// holdRequest holds a request from m's user uid to user to; nil when
// m's address has no share or there is no Graph to store requests.
func (so *Social) holdRequest(m *Member, uid, to string) *requestHold {
	if so.cfg.Graph == nil || m.conn == nil || so.exempt(m) {
		return nil
	}
	ip := m.conn.ClientIP()
	if !ip.IsValid() {
		return nil
	}
	key, site := clientip.Group(ip)
	t := &so.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held = make(map[holdKey][]*requestHold)
	}
	t.seq++
	h := &requestHold{holds: t, seq: t.seq, from: uid, to: to, ip: ip, key: key, site: site}
	for _, k := range h.keys() {
		t.held[holdKey{to, k}] = append(t.held[holdKey{to, k}], h)
	}
	return h
}

// keys are the keys h is held under.
func (h *requestHold) keys() []netip.Prefix {
	if h.site.IsValid() {
		return []netip.Prefix{h.key, h.site}
	}
	return []netip.Prefix{h.key}
}

// before returns the senders of the requests still held, under h's
// address key and its /48, that were held before h; none for a nil h.
func (h *requestHold) before() (addr, site []string) {
	if h == nil {
		return nil, nil
	}
	t := h.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	senders := func(k netip.Prefix) []string {
		var out []string
		for _, o := range t.held[holdKey{h.to, k}] {
			if o.seq < h.seq {
				out = append(out, o.from)
			}
		}
		return out
	}
	addr = senders(h.key)
	if h.site.IsValid() {
		site = senders(h.site)
	}
	return addr, site
}

// release ends h, once however often it is called; a nil h is none.
func (h *requestHold) release() {
	if h == nil || h.released.Swap(true) {
		return
	}
	t := h.holds
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range h.keys() {
		hk := holdKey{h.to, k}
		l := slices.DeleteFunc(t.held[hk], func(o *requestHold) bool { return o == h })
		if len(l) == 0 {
			delete(t.held, hk)
		} else {
			t.held[hk] = l
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
