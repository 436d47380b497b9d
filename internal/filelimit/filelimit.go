// Package filelimit reads what bounds a process's open sockets on this
// host: the open-file limit (RLIMIT_NOFILE), the files already open, and
// the listen backlog (net.core.somaxconn), the sockets one burst of
// connects can leave accepted before the server has counted them.
//
// gnet accepts from its listener until the queue is empty and only then
// hands the sockets to the event loops that count them against a cap, so
// a cap on connections guards the process only when the limit leaves room
// for the cap, the other port's connections and one backlog's worth
// besides: otherwise accept(2) fails with EMFILE first, and gnet stops
// the whole transport. Host reads the figures and Fit sizes the caps.
package filelimit

import (
	"cmp"
	"os"
	"strconv"
	"strings"
)

// DefaultBacklog is the listen backlog assumed when
// /proc/sys/net/core/somaxconn cannot be read: Linux's default since 5.4.
const DefaultBacklog = 4096

// Headroom is what the budget keeps for files opened after start beyond
// the pools the caller counts: the listeners, log and data files, DNS
// lookups, the admin port's scrapes.
const Headroom = 64

// Host is what the host allows the process.
type Host struct {
	// Limit is the soft open-file limit in force; zero when unknown
	// (no RLIMIT_NOFILE on this system), and then nothing is fitted.
	Limit int
	// Open is how many files the process holds now; zero when unknown.
	Open int
	// Backlog is net.core.somaxconn, or DefaultBacklog when unreadable.
	Backlog int
}

// Read reads the host's figures. The soft open-file limit is raised to the
// hard one first when lower: the Go runtime does so at start on Linux
// (to one below the hard limit), so this matters only where that failed
// or another process lowered it since.
func Read() Host {
	return Host{Limit: raiseLimit(), Open: openFiles(), Backlog: backlog("/proc/sys/net/core/somaxconn")}
}

// Room is how many sockets the caps may share: the limit less the files
// open, Headroom, reserve (pools the caller will fill, Redis's say) and
// the backlog. It may be negative.
func (h Host) Room(reserve int) int {
	return h.Limit - h.Open - Headroom - reserve - h.Backlog
}

// Caps are the two connection caps: the WebSocket port's and the HTTP
// port's.
type Caps struct {
	WS, HTTP int
}

// Sum is both caps together.
func (c Caps) Sum() int { return c.WS + c.HTTP }

// Floor is the least Fit lowers a defaulted cap to.
var Floor = Caps{WS: 64, HTTP: 32}

// Fit returns the caps in force: set's where the operator set them
// (nonzero), else def's, lowered so that the sum fits room, sharing it in
// the ratio of the defaults and neither below Floor. It reports whether
// the result fits; when it does not, set's caps were too large or room is
// below the floors.
func Fit(set, def Caps, room int) (Caps, bool) {
	got := Caps{WS: cmp.Or(set.WS, def.WS), HTTP: cmp.Or(set.HTTP, def.HTTP)}
	if got.Sum() <= room {
		return got, true
	}
	switch {
	case set.WS != 0 && set.HTTP != 0:
	case set.WS != 0:
		got.HTTP = max(Floor.HTTP, room-got.WS)
	case set.HTTP != 0:
		got.WS = max(Floor.WS, room-got.HTTP)
	default:
		got.WS = max(Floor.WS, int(int64(max(room, 0))*int64(def.WS)/int64(def.Sum())))
		got.HTTP = max(Floor.HTTP, room-got.WS)
	}
	return got, got.Sum() <= room
}

// openFiles counts the process's open files, or returns 0 when
// /proc/self/fd cannot be read.
func openFiles() int {
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(d) - 1 // less the directory ReadDir held open
}

// backlog reads the kernel's cap on a listen backlog from path, the one
// gnet asks for, or returns DefaultBacklog.
func backlog(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return DefaultBacklog
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return DefaultBacklog
	}
	return min(n, 1<<16-1) // Linux keeps it in 16 bits; gnet truncates the same way
}
