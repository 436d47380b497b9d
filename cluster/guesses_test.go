package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/account"
	"github.com/tickroom/tickroom/server/clientip"
)

// TestGuessesAreSharedByTheServicesRules: two nodes count one account's
// wrong passwords by the rules of the account service's own memory: the
// bucket spent through both, an address that guessed wrong through one
// is refused through the other; a new address gets one guess on its mark,
// which a give-back drops unless a wrong password confirmed it; past the
// account's marks, and in an IPv6 /48 past 16 marked /64s, any address
// is refused; a wrong current_password (Spend) takes a token and marks.
// The account's key lives no longer than its bucket's refill or its
// marks' memory, the longer; without
// Redis every call fails with ErrUnavailable, for the service to count
// alone.
func TestGuessesAreSharedByTheServicesRules(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := NewGuesses(startNode(t, rs, "a")), NewGuesses(startNode(t, rs, "b"))
	ctx := context.Background()
	l := account.GuessLimit{Rate: 1.0 / 3600, Burst: 2, Addrs: 3, Memory: time.Hour}
	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)) }
	take := func(g *Guesses, id string, c netip.Addr) (account.Guess, bool, time.Duration) {
		t.Helper()
		got, ok, wait, err := g.Take(ctx, l, id, c)
		if err != nil {
			t.Fatal(err)
		}
		return got, ok, wait
	}
	mark := func(g *Guesses, id string, c netip.Addr) {
		t.Helper()
		if err := g.Mark(ctx, l, id, c); err != nil {
			t.Fatal(err)
		}
	}

	// The burst, through both nodes, from one address that guessed wrong.
	for i, g := range []*Guesses{a, b} {
		if got, ok, _ := take(g, "id", addr(1)); !ok || got.Mark {
			t.Fatalf("guess %d within the burst: %v mark %v, want let through on a token", i, ok, got.Mark)
		}
		mark(g, "id", addr(1))
	}
	for _, g := range []*Guesses{a, b} {
		if _, ok, wait := take(g, "id", addr(1)); ok || wait <= 0 || wait > time.Hour {
			t.Fatalf("the marked address past the burst: %v, wait %v; want refused for (0, 1 h]", ok, wait)
		}
	}
	// A new address: one guess on its mark, given back (its check did
	// not run), then again, confirmed by a wrong password.
	got, ok, _ := take(a, "id", addr(2))
	if !ok || !got.Mark {
		t.Fatalf("a new address past the burst: %v mark %v, want let through on its mark", ok, got.Mark)
	}
	if err := a.GiveBack(ctx, l, got); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ = take(b, "id", addr(2)); !ok || !got.Mark {
		t.Fatalf("the address whose mark was given back: %v mark %v, want let through on its mark", ok, got.Mark)
	}
	mark(a, "id", addr(2))
	if err := b.GiveBack(ctx, l, got); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := take(a, "id", addr(2)); ok {
		t.Fatal("an address whose wrong password confirmed its mark, given back: let through, want refused")
	}
	// The third mark is the account's last: a fourth address is refused.
	if _, ok, _ := take(b, "id", addr(3)); !ok {
		t.Fatal("a third address: refused, want let through on its mark")
	}
	if _, ok, wait := take(a, "id", addr(4)); ok || wait <= 0 || wait > time.Hour {
		t.Fatalf("a fourth address, the account's marks taken: %v, wait %v; want refused for (0, 1 h]", ok, wait)
	}
	rdb := rs.Client(t)
	// The bucket's 2 tokens at one an hour refill in 2 h, less the test's
	// time since the first was taken, longer than the marks' hour.
	if ttl, err := rdb.PTTL(ctx, DefaultPrefix+"guess:id").Result(); err != nil || ttl <= 2*time.Hour-time.Minute || ttl > 2*time.Hour {
		t.Fatalf("TTL of the account's key: %v, %v; want (1 h 59 min, 2 h], the bucket's refill", ttl, err)
	}

	// 16 /64s of one /48 marked: the /48's others are refused, another
	// /48's are not.
	v6 := account.GuessLimit{Rate: 1.0 / 3600, Burst: 1, Addrs: 64, Memory: time.Hour}
	for i := range clientip.V6SiteFactor {
		if err := b.Spend(ctx, v6, "v6", netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _, err := a.Take(ctx, v6, "v6", netip.MustParseAddr("2001:db8:1:ffff::1")); ok || err != nil {
		t.Fatalf("a /64 of a /48 with 16 marked: %v, %v; want refused", ok, err)
	}
	if _, ok, _, err := a.Take(ctx, v6, "v6", netip.MustParseAddr("2001:db8:2::1")); !ok || err != nil {
		t.Fatalf("a /64 of another /48: %v, %v; want let through", ok, err)
	}

	rs.Stop(t)
	if _, _, _, err := a.Take(ctx, l, "id", addr(5)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Take without Redis: %v, want ErrUnavailable", err)
	}
	if err := b.Mark(ctx, l, "id", addr(5)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Mark without Redis: %v, want ErrUnavailable", err)
	}
}

// replyLoser is a TCP proxy to a Redis that loses every reply on a
// connection once it has carried a command holding lose, as a network
// that drops a reply does; the commands still reach Redis.
type replyLoser struct {
	ln   net.Listener
	to   string
	lose []byte
	mu   sync.Mutex
	open []net.Conn
}

// startReplyLoser starts a replyLoser to the Redis at addr, for the
// commands holding the argument arg.
func startReplyLoser(t *testing.T, addr, arg string) *replyLoser {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyLoser{ln: ln, to: addr, lose: []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(arg), arg))}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, c, s)
			p.mu.Unlock()
			var lost atomic.Bool
			wg.Add(2)
			go func() { // commands
				defer wg.Done()
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if bytes.Contains(buf[:n], p.lose) {
							lost.Store(true)
						}
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() { // replies
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 && !lost.Load() {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// TestATakeWhoseAnswerIsLostLeavesNoMark: a take of a spent account
// from a new address marks it; when Redis ran it but its answer was
// lost, the node counts alone (the take failed), so nothing gave the mark
// back, and that address, the owner's say, was refused the account's
// password by every node for the mark's hour. The mark is given back.
func TestATakeWhoseAnswerIsLostLeavesNoMark(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	proxy := startReplyLoser(t, rs.Addr(), "take")
	ctx := context.Background()
	l := account.GuessLimit{Rate: 1.0 / 3600, Burst: 1, Addrs: 64, Memory: time.Hour}
	b := NewGuesses(startNode(t, rs, "b"))
	if _, ok, _, err := b.Take(ctx, l, "id", netip.MustParseAddr("192.0.2.1")); !ok || err != nil {
		t.Fatalf("the burst: %v, %v; want let through", ok, err)
	}

	a := NewGuesses(startNodeAt(t, "redis://"+proxy.ln.Addr().String()+"/0", "a", nil))
	owner := netip.MustParseAddr("192.0.2.2")
	if _, _, _, err := a.Take(ctx, l, "id", owner); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a take whose answer is lost: %v, want ErrUnavailable", err)
	}
	waitFor(t, 10*time.Second, "a take of the account from the address whose take's answer was lost: refused, want let through on its mark", func() bool {
		_, ok, _, err := b.Take(ctx, l, "id", owner)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
}
