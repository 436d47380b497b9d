package game

import (
	"fmt"
	"sort"
	"sync"
	"unicode/utf8"
)

// Limits of a room's configuration.
const (
	// MinTickRate and MaxTickRate bound a room's tick rate in Hz.
	MinTickRate = 1
	MaxTickRate = 120
	// MaxSeats bounds players plus spectators in one room.
	MaxSeats = 1024
	// MaxNameLen bounds a game's name in bytes: the longest a client may
	// name in CreateRoom, QuickMatch, ListRooms and GetLeaderboard.
	MaxNameLen = 64
)

// Registry maps game names to their definitions. Safe from any goroutine.
type Registry struct {
	mu   sync.RWMutex
	defs map[string]Definition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{defs: make(map[string]Definition)} }

// Register adds d. It fails with ErrDuplicateGame for a name already taken
// and ErrInvalidDefinition for an incomplete or out-of-range definition,
// a name past MaxNameLen bytes or not UTF-8 included (no client could
// ask for it).
func (g *Registry) Register(d Definition) error {
	if d.Name == "" || d.New == nil {
		return fmt.Errorf("%w: name and New are required", ErrInvalidDefinition)
	}
	if len(d.Name) > MaxNameLen || !utf8.ValidString(d.Name) {
		return fmt.Errorf("%w: name %.80q: a client names a game in at most %d bytes of UTF-8", ErrInvalidDefinition, d.Name, MaxNameLen)
	}
	d = d.withDefaults()
	if d.TickRate < MinTickRate || d.TickRate > MaxTickRate {
		return fmt.Errorf("%w: %s: tick rate %d not in %d..%d", ErrInvalidDefinition, d.Name, d.TickRate, MinTickRate, MaxTickRate)
	}
	switch {
	case d.MaxPlayers < 1 || d.MaxPlayers > MaxSeats:
		return fmt.Errorf("%w: %s: MaxPlayers %d not in 1..%d", ErrInvalidDefinition, d.Name, d.MaxPlayers, MaxSeats)
	case d.MinPlayers < 1 || d.MinPlayers > d.MaxPlayers:
		return fmt.Errorf("%w: %s: MinPlayers %d not in 1..%d (MaxPlayers)", ErrInvalidDefinition, d.Name, d.MinPlayers, d.MaxPlayers)
	case d.MaxSpectators > MaxSeats-d.MaxPlayers: // not their sum, which a huge count wraps
		return fmt.Errorf("%w: %s: MaxPlayers %d and MaxSpectators %d past %d seats together", ErrInvalidDefinition, d.Name, d.MaxPlayers, d.MaxSpectators, MaxSeats)
	}
	if d.InputRate < 0 {
		return fmt.Errorf("%w: %s: negative input rate", ErrInvalidDefinition, d.Name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.defs[d.Name]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicateGame, d.Name)
	}
	g.defs[d.Name] = d
	return nil
}

// Lookup returns the definition registered as name, with defaults applied.
func (g *Registry) Lookup(name string) (Definition, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	d, ok := g.defs[name]
	return d, ok
}

// Names returns the registered names, sorted.
func (g *Registry) Names() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(g.defs))
	for n := range g.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
