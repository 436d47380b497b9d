package hub

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"

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
	pools   map[string][]pooled // quick-match pool → rooms, oldest first
	created int                 // pooled rooms added, for sweeping
}

// pooled is a room of a quick-match pool: its id, and a weak pointer to
// the room, which a quick-match reads without looking the id up, and
// which does not keep a room that ended in memory until a quick-match or
// a sweep comes by.
type pooled struct {
	id   string
	room weak.Pointer[game.Room]
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
	return &MemoryDirectory{rt: rt, pools: make(map[string][]pooled)}
}

// matchSweepEvery is how many pooled room creations pass between sweeps
// of the quick-match index: a room that is gone leaves the index within
// that many creations, so the index holds at most MaxRooms plus that many.
const matchSweepEvery = 256

// matchCopies bounds the rooms one Match copies (docs/limits.md): the
// fullest of those with a free player seat. Every other room of the pool
// costs it one check (Room.OpenSeats), no copy.
const matchCopies = 64

// Add records a room in its quick-match pool.
func (d *MemoryDirectory) Add(roomID, pool string) {
	if pool == "" {
		return
	}
	room, ok := d.rt.Room(roomID)
	if !ok {
		return
	}
	d.mu.Lock()
	d.pools[pool] = append(d.pools[pool], pooled{id: roomID, room: weak.Make(room)})
	d.created++
	sweep := d.created%matchSweepEvery == 0
	d.mu.Unlock()
	if sweep {
		d.sweep()
	}
}

// List returns the runtime's rooms that pass f.
func (d *MemoryDirectory) List(f game.RoomFilter) []game.RoomInfo { return d.rt.Rooms(f) }

// Match returns the joinable rooms of a pool, fullest first (the oldest
// first among equals), matchCopies at most, and prunes the rooms that are
// gone or finished. It looks at each room of the pool with one check and
// copies only the listings it returns: a pool of thousands of full rooms
// (a busy node's running matches) costs a few microseconds a thousand, not
// a copy of each room's metadata and players' names.
func (d *MemoryDirectory) Match(pool string) []game.RoomInfo {
	type open struct {
		room *game.Room
		free int
	}
	// The fullest matchCopies so far, by free seats and then age: a room
	// goes after those with as few, so that the oldest come first.
	var best []open
	d.mu.Lock()
	d.pruneLocked(pool, func(r *game.Room) {
		n := r.OpenSeats()
		if n == 0 || len(best) == matchCopies && n >= best[len(best)-1].free {
			return
		}
		i, _ := slices.BinarySearchFunc(best, n+1, func(o open, free int) int { return cmp.Compare(o.free, free) })
		if len(best) == matchCopies {
			best = best[:len(best)-1]
		}
		best = slices.Insert(best, i, open{room: r, free: n})
	})
	d.mu.Unlock()
	out := make([]game.RoomInfo, 0, len(best))
	for _, o := range best {
		out = append(out, o.room.Info())
	}
	return out
}

// pruneLocked drops from pool the rooms that are gone or finished, which
// never take a player again, and calls each for the others, oldest first.
// A room that is gone is looked up by its id again: a room restored here
// (a handoff that failed) takes its place. The caller holds d.mu.
func (d *MemoryDirectory) pruneLocked(pool string, each func(*game.Room)) {
	list := d.pools[pool]
	kept := list[:0]
	for _, p := range list {
		r := p.room.Value()
		if r == nil || r.Phase() == game.PhaseDisposed {
			var ok bool
			if r, ok = d.rt.Room(p.id); !ok {
				continue
			}
			p.room = weak.Make(r)
		}
		if r.Phase() >= game.PhaseFinished {
			continue
		}
		kept = append(kept, p)
		if each != nil {
			each(r)
		}
	}
	clear(list[len(kept):])
	if len(kept) == 0 {
		delete(d.pools, pool)
	} else {
		d.pools[pool] = kept
	}
}

// poolCount returns the number of quick-match pools indexed.
func (d *MemoryDirectory) poolCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pools)
}

// sweep drops rooms that are gone or finished from every pool.
func (d *MemoryDirectory) sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key := range d.pools {
		d.pruneLocked(key, nil)
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
