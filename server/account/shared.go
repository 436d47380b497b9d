package account

import (
	"context"
	"net/netip"
	"time"
)

// Guesses keeps the accounts' wrong passwords where every node of a
// cluster counts them (Config.Guesses): each account's bucket and marked
// addresses, as a Service keeps them in its own memory and by the same
// rules, so that a guesser spreading its password logins over N nodes
// is held to one bound, not N. Package cluster implements it over Redis.
// Its methods may block for the implementation's timeout: the Service
// calls them from HTTP handlers only, never on an event loop. An error
// means they could not be reached: the Service's own memory, charged all
// along, then decides alone, and gives them nothing back (what a Take
// whose answer was lost may have taken is the implementation's to give
// back). Safe from any goroutine.
type Guesses interface {
	// Take lets client's password of account id be checked: it takes a
	// token of id's bucket or, past them, marks client for id. It
	// reports false, and how long until a guess would be let through,
	// when the bucket is spent and client is marked for id already, its
	// IPv6 /48 has clientip.V6SiteFactor marked /64s, or id has l.Addrs
	// marked addresses.
	Take(ctx context.Context, l GuessLimit, id string, client netip.Addr) (Guess, bool, time.Duration, error)
	// GiveBack gives back what Take took (g), for a guess whose password
	// was right or whose check did not run: the bucket's token, or the
	// mark, unless a wrong password of its address (Mark) confirmed it
	// meanwhile.
	GiveBack(ctx context.Context, l GuessLimit, g Guess) error
	// Mark marks client for account id as an address that gave it a
	// wrong password, for l.Memory from now, unless id has l.Addrs
	// marked already.
	Mark(ctx context.Context, l GuessLimit, id string, client netip.Addr) error
	// Spend counts a wrong password of account id from client that Take
	// did not let through: it takes a token of id's bucket, when one is
	// left, and marks client.
	Spend(ctx context.Context, l GuessLimit, id string, client netip.Addr) error
}

// GuessLimit is the bound of Guesses, from Config: a bucket of Rate
// tokens a second holding Burst, and at most Addrs addresses marked for
// Memory an account.
type GuessLimit struct {
	Rate   float64
	Burst  int
	Addrs  int
	Memory time.Duration
}

// Guess is what Guesses.Take took, for GiveBack.
type Guess struct {
	// ID is the account.
	ID string
	// Client is the address the guess came from.
	Client netip.Addr
	// Mark is set when the guess took a mark of Client, not a token.
	Mark bool
	// Seq names the mark Take made, which GiveBack alone drops.
	Seq string
}
