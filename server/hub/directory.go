package hub

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tickroom/tickroom/game"
)

// Directory knows which rooms exist, with their seats and metadata, and
// which of them quick-match may fill. The lobby lists and matches through
// it; rooms themselves are reached by id on the runtime that hosts them.
// The default, NewMemoryDirectory, reads the local runtime; a cluster
// directory lists every node's rooms. Its methods are safe from any
// goroutine.
type Directory interface {
	// Add records a new room; a non-empty pool (see matchKey) also puts
	// it in that quick-match pool.
	Add(roomID, pool string)
	// List returns the rooms that pass f, ordered by id.
	List(f game.RoomFilter) []game.RoomInfo
	// Match returns the open rooms of a quick-match pool that have a free
	// player seat, fullest first.
	Match(pool string) []game.RoomInfo
}

// MemoryDirectory is the Directory of one runtime's rooms: listings come
// from the runtime, quick-match pools are indexed here.
type MemoryDirectory struct {
	rt *game.Runtime

	mu      sync.Mutex
	pools   map[string][]string // quick-match pool → room ids, oldest first
	created int                 // pooled rooms added, for sweeping
}

var _ Directory = (*MemoryDirectory)(nil)

// roomPager is a Directory that lists a page of rooms at a bounded cost
// (game.Runtime.RoomPage); MemoryDirectory is one. ListRooms and a new
// watch's first list use it when the Directory has it.
type roomPager interface {
	Page(f game.RoomFilter, after string, match func(map[string]string) bool, limit, scan int) ([]game.RoomInfo, string)
}

var _ roomPager = (*MemoryDirectory)(nil)

// Page returns a page of the runtime's rooms (game.Runtime.RoomPage).
func (d *MemoryDirectory) Page(f game.RoomFilter, after string, match func(map[string]string) bool, limit, scan int) ([]game.RoomInfo, string) {
	return d.rt.RoomPage(f, after, match, limit, scan)
}

// NewMemoryDirectory returns a directory of rt's rooms.
func NewMemoryDirectory(rt *game.Runtime) *MemoryDirectory {
	return &MemoryDirectory{rt: rt, pools: make(map[string][]string)}
}

// matchSweepEvery is how many pooled room creations pass between sweeps
// of the quick-match index: a room that is gone leaves the index within
// that many creations, so the index holds at most MaxRooms plus that many.
const matchSweepEvery = 256

// Add records a room in its quick-match pool.
func (d *MemoryDirectory) Add(roomID, pool string) {
	if pool == "" {
		return
	}
	d.mu.Lock()
	d.pools[pool] = append(d.pools[pool], roomID)
	d.created++
	sweep := d.created%matchSweepEvery == 0
	d.mu.Unlock()
	if sweep {
		d.sweep()
	}
}

// List returns the runtime's rooms that pass f.
func (d *MemoryDirectory) List(f game.RoomFilter) []game.RoomInfo { return d.rt.Rooms(f) }

// Match returns the joinable rooms of a pool, fullest first, and prunes the
// rooms that are gone.
func (d *MemoryDirectory) Match(pool string) []game.RoomInfo {
	d.mu.Lock()
	ids := slices.Clone(d.pools[pool])
	d.mu.Unlock()
	var out []game.RoomInfo
	var gone []string
	for _, id := range ids {
		room, ok := d.rt.Room(id)
		if !ok {
			gone = append(gone, id)
			continue
		}
		info := room.Info()
		if info.Locked || info.SeatsClosed || info.Phase >= game.PhaseFinished || info.Players >= info.MaxPlayers {
			continue
		}
		out = append(out, info)
	}
	d.prune(pool, gone)
	slices.SortStableFunc(out, func(a, b game.RoomInfo) int { return cmp.Compare(b.Players, a.Players) })
	return out
}

// poolCount returns the number of quick-match pools indexed.
func (d *MemoryDirectory) poolCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pools)
}

// sweep drops rooms that are gone from every pool.
func (d *MemoryDirectory) sweep() {
	d.mu.Lock()
	keys := slices.Collect(maps.Keys(d.pools))
	d.mu.Unlock()
	for _, key := range keys {
		d.mu.Lock()
		ids := slices.Clone(d.pools[key])
		d.mu.Unlock()
		gone := slices.DeleteFunc(ids, func(id string) bool { _, ok := d.rt.Room(id); return ok })
		d.prune(key, gone)
	}
}

// prune removes gone room ids from a pool.
func (d *MemoryDirectory) prune(key string, gone []string) {
	if len(gone) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pools[key] = slices.DeleteFunc(d.pools[key], func(id string) bool { return slices.Contains(gone, id) })
	if len(d.pools[key]) == 0 {
		delete(d.pools, key)
	}
}

// matchKey names the quick-match pool of a game, a room size (0 for the
// game's default) and options.
func matchKey(gameName string, maxPlayers int, opts map[string]string) string {
	var b strings.Builder
	b.WriteString(gameName)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(maxPlayers))
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		b.WriteByte(0)
		v := opts[k]
		if strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			// Written as is, such an option would read as others
			// ("a=b":"c" as "a":"b=c"): it goes quoted after a second
			// NUL, which no option written as is starts with.
			b.WriteByte(0)
			b.WriteString(strconv.Quote(k))
			b.WriteByte('=')
			b.WriteString(strconv.Quote(v))
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String()
}
