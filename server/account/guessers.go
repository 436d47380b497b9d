package account

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"github.com/tickroom/tickroom/server/clientip"
)

// guessers remembers, for each account, the client addresses that gave it
// a wrong password within memory (an IPv4 address, an IPv6 /64: see
// clientip.Group): while the account's wrong passwords are spent, such an
// address gets no checked guess, and any other address one, which marks
// it. The bounds hold per account: an account keeps at most perAccount
// addresses, so that guesses of other accounts, or by other addresses,
// never make it forget one; with all of them taken it refuses every
// address (take) until the oldest mark's memory ends, so that the
// addresses past them get no guess either. All accounts together keep at
// most total marks: past it, the accounts guessed least recently are
// forgotten whole, marks and all (an account's refused guesses count as
// uses). Safe from any goroutine.
type guessers struct {
	perAccount, total int
	memory            time.Duration

	mu       sync.Mutex
	accounts map[string]*list.Element // guarded by mu; values are *guessed
	lru      list.List                // guarded by mu; most recently used at the front
	n        int                      // guarded by mu; marks held, all accounts
}

// guessed is one account's marked addresses.
type guessed struct {
	id    string
	marks []guessMark
}

type guessMark struct {
	key   netip.Prefix // clientip.Group's key
	until time.Time    // when the mark ends
}

// newGuessers returns guessers of memory keeping at most perAccount
// addresses an account (at least 1, at most total-1) and total in all
// (at least 2).
func newGuessers(perAccount, total int, memory time.Duration) *guessers {
	total = max(total, 2)
	return &guessers{perAccount: min(max(perAccount, 1), total-1), total: total, memory: memory, accounts: make(map[string]*list.Element)}
}

// take lets client's password of account id be checked at now and marks
// client for id, before the check: it reports false, and how long until
// it would not, when client is marked for id already, when its IPv6 /48
// has clientip.V6SiteFactor marked /64s, or when id has perAccount marked
// addresses.
func (g *guessers) take(id string, client netip.Addr, now time.Time) (bool, time.Duration) {
	key, site := clientip.Group(client)
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.account(id, now)
	a := e.Value.(*guessed)
	var sites int
	var siteEnds time.Time
	for _, m := range a.marks {
		if m.key == key {
			return false, m.until.Sub(now)
		}
		if site.IsValid() && site.Contains(m.key.Addr()) {
			sites++
			if siteEnds.IsZero() || m.until.Before(siteEnds) {
				siteEnds = m.until
			}
		}
	}
	if sites >= clientip.V6SiteFactor {
		return false, siteEnds.Sub(now)
	}
	if len(a.marks) >= g.perAccount {
		return false, a.marks[0].until.Sub(now) // the oldest
	}
	g.add(e, key, now)
	return true, 0
}

// mark marks client for account id at now, unless it is already or id
// has no room left (take then refuses every address for it anyway).
func (g *guessers) mark(id string, client netip.Addr, now time.Time) {
	key, _ := clientip.Group(client)
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.account(id, now)
	a := e.Value.(*guessed)
	if len(a.marks) >= g.perAccount {
		return
	}
	for _, m := range a.marks {
		if m.key == key {
			return
		}
	}
	g.add(e, key, now)
}

// unmark forgets client's mark for account id: for a guess take let
// through whose password was right, or whose check did not run.
func (g *guessers) unmark(id string, client netip.Addr) {
	key, _ := clientip.Group(client)
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.accounts[id]
	if !ok {
		return
	}
	a := e.Value.(*guessed)
	for i, m := range a.marks {
		if m.key == key {
			a.marks = append(a.marks[:i], a.marks[i+1:]...)
			g.n--
			break
		}
	}
	if len(a.marks) == 0 {
		g.forget(e)
	}
}

// account returns id's element, added if new, the most recently used
// now, its ended marks dropped. The caller holds mu, and adds a mark to a
// new one.
func (g *guessers) account(id string, now time.Time) *list.Element {
	e, ok := g.accounts[id]
	if !ok {
		e = g.lru.PushFront(&guessed{id: id})
		g.accounts[id] = e
		return e
	}
	g.lru.MoveToFront(e)
	a := e.Value.(*guessed)
	live := a.marks[:0]
	for _, m := range a.marks {
		if now.Before(m.until) {
			live = append(live, m)
		}
	}
	g.n -= len(a.marks) - len(live)
	clear(a.marks[len(live):])
	a.marks = live
	return e
}

// add appends a mark of key at now to e's account, forgetting the
// accounts used least recently, other than e's, while total marks are
// held. The caller holds mu.
func (g *guessers) add(e *list.Element, key netip.Prefix, now time.Time) {
	for g.n >= g.total {
		old := g.lru.Back()
		if old == e {
			old = old.Prev()
		}
		g.forget(old)
	}
	a := e.Value.(*guessed)
	a.marks = append(a.marks, guessMark{key: key, until: now.Add(g.memory)})
	g.n++
}

// forget drops e's account and its marks. The caller holds mu.
func (g *guessers) forget(e *list.Element) {
	a := e.Value.(*guessed)
	g.n -= len(a.marks)
	delete(g.accounts, a.id)
	g.lru.Remove(e)
}
