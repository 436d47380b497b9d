package account

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/server/clientip"
)

// guessers keeps, for each account, its bucket of wrong passwords and the
// client addresses that gave it a wrong password within memory (an IPv4
// address, an IPv6 /64: see clientip.Group), in one table, so that an
// account is forgotten whole or not at all. A guess takes a token of the
// account's bucket; past them, an address that guessed wrong gets no
// checked guess, and any other address one, which marks it. An account
// keeps at most perAccount addresses, so that guesses of other accounts,
// or by other addresses, never make it forget one while it is kept; with
// all of them taken it refuses every address (take) until the first of
// its marks ends, so that the addresses past them get no guess
// either. The table keeps at most keys accounts and total marks: past
// either, the account used least recently (a refused guess is a use) is
// forgotten whole, its bucket full again and its marks gone, as if it had
// never been guessed. Safe from any goroutine.
type guessers struct {
	limit                   rate.Limit
	burst                   int
	perAccount, keys, total int
	memory                  time.Duration

	mu       sync.Mutex
	accounts map[string]*list.Element // guarded by mu; values are *guessed
	lru      list.List                // guarded by mu; most recently used at the front
	n        int                      // guarded by mu; marks held, all accounts
	seq      uint64                   // guarded by mu; the last take's number
}

// guessed is one account's bucket and marked addresses.
type guessed struct {
	id     string
	tokens float64   // the bucket's tokens at at
	at     time.Time // when tokens was counted
	marks  []guessMark
}

type guessMark struct {
	key   netip.Prefix // clientip.Group's key
	until time.Time    // when the mark ends
	// taken is the number of the take that made the mark, while no
	// wrong password of its address confirmed it (then 0): giveBack
	// drops only such a mark, of its own take.
	taken uint64
}

// newGuessers returns guessers of a bucket of limit (more than 0) and
// burst (at least 1) an account and of memory, keeping at most keys
// accounts (at least 2), perAccount addresses an account (at least 1, at
// most total-1) and total in all (at least 2).
func newGuessers(limit rate.Limit, burst, keys, perAccount, total int, memory time.Duration) *guessers {
	total = max(total, 2)
	return &guessers{
		limit: limit, burst: max(burst, 1), keys: max(keys, 2),
		perAccount: min(max(perAccount, 1), total-1), total: total, memory: memory,
		accounts: make(map[string]*list.Element),
	}
}

// guessTaken is what take took for a guess: a token of the account's
// bucket (mark false) or client's mark (made by the take numbered seq).
type guessTaken struct {
	id     string
	client netip.Addr
	mark   bool
	seq    uint64
}

// take lets client's password of account id be checked at now: it takes
// a token of id's bucket or, past them, marks client for id before the
// check. It reports false, and how long until a guess would be let
// through, when the bucket is spent and client is marked for id already,
// its IPv6 /48 has clientip.V6SiteFactor marked /64s, or id has
// perAccount marked addresses.
func (g *guessers) take(id string, client netip.Addr, now time.Time) (guessTaken, bool, time.Duration) {
	key, site := clientip.Group(client)
	g.mu.Lock()
	defer g.mu.Unlock()
	t := guessTaken{id: id, client: client}
	e := g.account(id, now)
	a := e.Value.(*guessed)
	if a.tokens >= 1 {
		a.tokens--
		return t, true, 0
	}
	wait := time.Duration(1<<63 - 1)
	if g.limit > 0 {
		wait = limits.Seconds((1 - a.tokens) / float64(g.limit))
	}
	var sites int
	var siteEnds time.Time
	for _, m := range a.marks {
		if m.key == key {
			return t, false, min(wait, m.until.Sub(now))
		}
		if site.IsValid() && site.Contains(m.key.Addr()) {
			sites++
			if siteEnds.IsZero() || m.until.Before(siteEnds) {
				siteEnds = m.until
			}
		}
	}
	if sites >= clientip.V6SiteFactor {
		return t, false, min(wait, siteEnds.Sub(now))
	}
	if len(a.marks) >= g.perAccount {
		return t, false, min(wait, a.marks[0].until.Sub(now)) // the first to end
	}
	g.seq++
	g.add(e, key, now, g.seq)
	t.mark, t.seq = true, g.seq
	return t, true, 0
}

// giveBack gives back what take took (t), for a guess whose password was
// right or whose check did not run: the bucket's token, or the mark, but
// for a mark a wrong password of its address confirmed meanwhile (mark),
// which stays. An account forgotten since has nothing to give back.
func (g *guessers) giveBack(t guessTaken, now time.Time) {
	key, _ := clientip.Group(t.client)
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.accounts[t.id]
	if !ok {
		return
	}
	a := e.Value.(*guessed)
	if !t.mark {
		g.fill(a, now)
		a.tokens = min(a.tokens+1, float64(g.burst))
		return
	}
	for i, m := range a.marks {
		if m.key == key && m.taken == t.seq {
			a.marks = shrunk(append(a.marks[:i], a.marks[i+1:]...))
			g.n--
			break
		}
	}
}

// mark marks client for account id at now as an address that gave it a
// wrong password, unless id has no room left (take then refuses every
// address for it anyway); a mark a take made already stays, given back
// or not (giveBack).
func (g *guessers) mark(id string, client netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.markLocked(g.account(id, now), client, now)
}

// spend counts a wrong password of account id from client at now that
// take did not let through: it takes a token of id's bucket, when one is
// left, and marks client.
func (g *guessers) spend(id string, client netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.account(id, now)
	a := e.Value.(*guessed)
	if a.tokens >= 1 {
		a.tokens--
	}
	g.markLocked(e, client, now)
}

// markLocked is mark of e's account with mu held.
func (g *guessers) markLocked(e *list.Element, client netip.Addr, now time.Time) {
	key, _ := clientip.Group(client)
	a := e.Value.(*guessed)
	for i, m := range a.marks {
		if m.key == key {
			// Confirmed (a guess given back leaves it), and an hour from
			// this wrong password: moved last, as marks are kept in the
			// order they end.
			m.taken, m.until = 0, now.Add(g.memory)
			a.marks = append(append(a.marks[:i], a.marks[i+1:]...), m)
			return
		}
	}
	if len(a.marks) >= g.perAccount {
		return
	}
	g.add(e, key, now, 0)
}

// account returns id's element, added (with a full bucket) if new, the
// most recently used now, its bucket filled to now and its ended marks
// dropped. Past keys accounts, the one used least recently is forgotten.
// The caller holds mu.
func (g *guessers) account(id string, now time.Time) *list.Element {
	e, ok := g.accounts[id]
	if !ok {
		for len(g.accounts) >= g.keys {
			g.forget(g.lru.Back())
		}
		e = g.lru.PushFront(&guessed{id: id, tokens: float64(g.burst), at: now})
		g.accounts[id] = e
		return e
	}
	g.lru.MoveToFront(e)
	a := e.Value.(*guessed)
	g.fill(a, now)
	live := a.marks[:0]
	for _, m := range a.marks {
		if now.Before(m.until) {
			live = append(live, m)
		}
	}
	g.n -= len(a.marks) - len(live)
	clear(a.marks[len(live):])
	a.marks = shrunk(live)
	return e
}

// fill adds to a's bucket the tokens its rate gave it since it was last
// counted, up to the burst. The caller holds mu.
func (g *guessers) fill(a *guessed, now time.Time) {
	if now.After(a.at) {
		a.tokens = min(a.tokens+now.Sub(a.at).Seconds()*float64(g.limit), float64(g.burst))
		a.at = now
	}
}

// add appends a mark of key at now to e's account, made by the take
// numbered taken (0: by a wrong password), forgetting the accounts used
// least recently, other than e's, while total marks are held. The caller
// holds mu.
func (g *guessers) add(e *list.Element, key netip.Prefix, now time.Time, taken uint64) {
	for g.n >= g.total {
		old := g.lru.Back()
		if old == e {
			old = old.Prev()
		}
		g.forget(old)
	}
	a := e.Value.(*guessed)
	a.marks = append(a.marks, guessMark{key: key, until: now.Add(g.memory), taken: taken})
	g.n++
}

// forget drops e's account, its bucket and its marks. The caller holds
// mu.
func (g *guessers) forget(e *list.Element) {
	a := e.Value.(*guessed)
	g.n -= len(a.marks)
	delete(g.accounts, a.id)
	g.lru.Remove(e)
}

// shrunk returns marks, or a copy of them when it holds much more room
// than marks: an account kept for its bucket after its marks ended holds
// no room for them, so that the table's bound on marks (total) bounds the
// memory they take.
func shrunk(marks []guessMark) []guessMark {
	if cap(marks) <= 2*len(marks)+4 {
		return marks
	}
	if len(marks) == 0 {
		return nil
	}
	return append([]guessMark(nil), marks...)
}
