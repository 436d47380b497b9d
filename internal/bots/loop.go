package bots

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// schedPeriod is how often a loop looks for bots with an input, chat or
// ping due. epoll_wait's timeout is whole milliseconds, rounded up
// (pollTimeout), so passes come 1–2 ms apart, and a send is at most that
// late. Each pass sends everything due since the last in one burst, so it
// also sets how bursty the bots' traffic is: independent clients send at
// any time, and a server whose loop sleeps between bursts runs its timers
// late by up to the gap (a loop holds its P while it waits for the next
// read; BENCHMARKS.md, "Ticks that waited for the bots' next burst"). At
// 5 ms, ticks waited up to 5 ms; a pass over 12,500 bots costs ~7 µs
// (BenchmarkSchedulePass).
const schedPeriod = time.Millisecond

// admitRetry spaces the tries of a bot whose source address has no
// handshake slot free (engine.admitHandshake): it tries again after 1–2
// of these.
const admitRetry = 5 * time.Millisecond

// loop is one event loop: an epoll instance that owns a share of the bots.
// Every byte a bot reads or writes, and every field of a bot, is touched
// only on its loop's goroutine; other goroutines hand work over with post.
type loop struct {
	e    *engine
	epfd int
	evfd int // eventfd that wakes epoll_wait for posted tasks
	bots []*bot
	// dues[i] is the earliest time bots[i] may have something to send
	// (its next input, ping, redial…): schedule passes over a bot until
	// then, so a pass reads one dense array rather than every bot. Anything
	// that may make a bot due sooner (a socket event, a task) sets its
	// entry to 0.
	dues  []int64
	byFD  []*bot // by socket descriptor: a slice, not a map, since every event looks one up
	buf   []byte // read buffer, shared by the loop's bots
	wbuf  []byte // frame scratch, shared by the loop's bots
	st    *loopStats
	rng   uint64
	mu    sync.Mutex
	tasks []func()
	spare []func()
	done  chan struct{}
}

func newLoop(e *engine, seed uint64) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	return &loop{
		e: e, epfd: epfd, evfd: evfd, buf: make([]byte, 64<<10),
		wbuf: make([]byte, 0, 4096), st: new(loopStats), rng: seed | 1, done: make(chan struct{}),
	}, nil
}

// post queues f to run on the loop. Safe from any goroutine.
func (l *loop) post(f func()) {
	l.mu.Lock()
	l.tasks = append(l.tasks, f)
	first := len(l.tasks) == 1
	l.mu.Unlock()
	if first {
		var one = [8]byte{1}
		_, _ = unix.Write(l.evfd, one[:])
	}
}

// run is the loop's goroutine; it returns when stop is closed, after
// closing every bot's socket.
func (l *loop) run(stop <-chan struct{}) {
	defer close(l.done)
	events := make([]unix.EpollEvent, 256)
	next := time.Now().Add(schedPeriod)
	for {
		select {
		case <-stop:
			l.runTasks()
			for _, b := range l.bots {
				b.shutdown()
			}
			unix.Close(l.epfd)
			unix.Close(l.evfd)
			return
		default:
		}
		n, err := unix.EpollWait(l.epfd, events, pollTimeout(time.Until(next)))
		l.st.add(cPolls, 1)
		if err != nil && err != unix.EINTR {
			l.e.log.Error("epoll_wait", "err", err)
			return
		}
		for i := 0; i < n; i++ {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == l.evfd {
				var b [8]byte
				_, _ = unix.Read(l.evfd, b[:])
				continue
			}
			if fd < 0 || fd >= len(l.byFD) || l.byFD[fd] == nil {
				continue
			}
			l.byFD[fd].event(ev.Events)
		}
		l.runTasks()
		if now := time.Now(); !now.Before(next) {
			l.schedule(l.e.now())
			next = now.Add(schedPeriod)
		}
	}
}

// pollTimeout is epoll_wait's timeout for a wait of d: whole
// milliseconds, rounded up. Rounded down, the last fraction of a
// millisecond before each schedule pass would be spent calling epoll_wait
// with a zero timeout over and over: with a schedPeriod of 1 ms, a busy
// loop for most of every period, on the core the bots share.
func pollTimeout(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *loop) runTasks() {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	l.mu.Unlock()
	for i, f := range tasks {
		f()
		tasks[i] = nil
	}
	l.mu.Lock()
	l.spare = tasks[:0]
	l.mu.Unlock()
}

// schedule sends what is due: inputs, chat lines, pings, and ends pauses.
func (l *loop) schedule(now int64) {
	for i, due := range l.dues {
		if now < due {
			continue
		}
		b := l.bots[i]
		b.tick(now)
		l.dues[i] = b.nextDue(now)
	}
}

// join adds b to the bots the loop schedules, due at once.
func (l *loop) join(b *bot) {
	l.bots = append(l.bots, b)
	b.slot = len(l.bots)
	l.dues = append(l.dues, 0)
}

// wake makes b due at the next schedule pass.
func (b *bot) wake() {
	if b.slot > 0 {
		b.l.dues[b.slot-1] = 0
	}
}

// add registers b's socket for the events given.
func (l *loop) add(b *bot, events uint32) error {
	if b.fd >= len(l.byFD) {
		l.byFD = append(l.byFD, make([]*bot, b.fd+1-len(l.byFD))...)
	}
	l.byFD[b.fd] = b
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, b.fd, &unix.EpollEvent{Events: events, Fd: int32(b.fd)})
}

// mod changes the events b's socket is watched for.
func (l *loop) mod(b *bot, events uint32) {
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, b.fd, &unix.EpollEvent{Events: events, Fd: int32(b.fd)})
}

// remove forgets b's socket; the caller closes it.
func (l *loop) remove(b *bot) {
	if b.fd < len(l.byFD) {
		l.byFD[b.fd] = nil
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, b.fd, nil)
}

// rand returns a pseudo-random number (xorshift64*), loop-owned.
func (l *loop) rand() uint64 {
	l.rng ^= l.rng >> 12
	l.rng ^= l.rng << 25
	l.rng ^= l.rng >> 27
	return l.rng * 2685821657736338717
}
