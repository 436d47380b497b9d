package account

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestGuessersForgetWholeAccountsPastTheTotal: past the total, the
// accounts guessed least recently are forgotten whole, bucket and marks;
// the one just guessed keeps its marks, and a spent account with its
// addresses all marked refuses another until the oldest mark ends.
func TestGuessersForgetWholeAccountsPastTheTotal(t *testing.T) {
	g := newGuessers(rate.Every(time.Hour), 1, 100, 2, 4, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)) }
	for i := range 3 {
		// The first guess takes the bucket's token, the next two a mark.
		for j := range 3 {
			if _, ok, _ := g.take(fmt.Sprint("a", i), addr(10*i+j), now); !ok {
				t.Fatalf("account %d, address %d: refused, want a guess", i, j)
			}
		}
	}
	if g.n > 4 || len(g.accounts) != 2 {
		t.Fatalf("%d marks of %d accounts held, want at most 4 of 2", g.n, len(g.accounts))
	}
	if _, ok, _ := g.take("a0", addr(1), now); !ok {
		t.Fatal("the forgotten account's marked address: refused, want a guess")
	}
	if _, ok, wait := g.take("a2", addr(99), now); ok || wait != time.Hour {
		t.Fatalf("a third address of an account that keeps 2: %v %v, want refused for an hour", ok, wait)
	}
	if _, ok, _ := g.take("a2", addr(99), now.Add(time.Hour)); !ok {
		t.Fatal("a third address once the marks ended: refused, want a guess")
	}
}

// TestAGuessGivenBackLeavesAWrongGuessesMark: a guess let through on
// client's mark (the bucket spent) that gives it back, its check not run,
// leaves the mark when meanwhile another guess from client, on a token of
// the bucket, was wrong: that address guessed wrong and stays refused.
func TestAGuessGivenBackLeavesAWrongGuessesMark(t *testing.T) {
	g := newGuessers(rate.Every(time.Hour), 1, 100, 4, 100, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	if _, ok, _ := g.take("id", netip.MustParseAddr("192.0.2.9"), now); !ok {
		t.Fatal("first guess: refused, want the bucket's token")
	}
	c, ok, _ := g.take("id", a, now)
	if !ok || !c.mark {
		t.Fatalf("a guess past the bucket from a new address: %v mark %v, want let through on its mark", ok, c.mark)
	}
	g.mark("id", a, now) // another guess from a, wrong
	g.giveBack(c, now)   // the first one's check did not run
	if _, ok, _ := g.take("id", a, now); ok {
		t.Fatal("the address that guessed wrong, after another of its guesses gave its mark back: let through, want refused")
	}
}

// TestAMarkLastsAnHourFromTheLatestWrongPassword: an address that gave an
// account a wrong password 50 minutes after its first is refused for an
// hour from the second, as the docs say ("within the last hour"); its
// mark ended an hour after the first.
func TestAMarkLastsAnHourFromTheLatestWrongPassword(t *testing.T) {
	g := newGuessers(rate.Every(10*time.Hour), 1, 100, 4, 100, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	g.spend("id", a, now) // takes the bucket's token, marks a
	g.spend("id", a, now.Add(50*time.Minute))
	if _, ok, _ := g.take("id", a, now.Add(61*time.Minute)); ok {
		t.Fatal("11 minutes after its latest wrong password, with the bucket spent: let through, want refused")
	}
}

// TestEndedMarksLetTheirRoomGo: an account kept after its marks ended (its
// bucket still counting) holds no room for them, so that the table's
// bound on marks bounds its memory: each account whose 64 marks ended
// kept their slots, 64 times the table's bound on marks over all.
func TestEndedMarksLetTheirRoomGo(t *testing.T) {
	g := newGuessers(rate.Every(time.Hour), 1, 100, 64, 65, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	for i := range 64 {
		g.spend("id", netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)), now)
	}
	g.take("id", netip.MustParseAddr("198.51.100.1"), now.Add(2*time.Hour)) // the marks ended
	a := g.accounts["id"].Value.(*guessed)
	if cap(a.marks) > 8 {
		t.Fatalf("an account whose 64 marks ended holds room for %d, want a few at most", cap(a.marks))
	}
}
