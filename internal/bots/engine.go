package bots

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// engine runs one load: it owns the loops, the bots and the measurements.
// Run builds one per run.
type engine struct {
	cfg   Config
	log   *slog.Logger
	start time.Time

	loops []*loop
	bots  []*bot

	nodes     nodes // the servers: Config's, then those Redirects name
	heartbeat int64

	inflight []atomic.Int32 // unfinished handshakes per source address

	http     *http.Client
	stopping atomic.Bool

	loginLat  Histogram
	loggedIn  atomic.Int64
	loginFail atomic.Int64

	errors   tally // tickroom.v1 Error codes received
	closes   tally // close codes received and abnormal closes
	failures tally // connect, handshake and protocol failures
}

// now is the engine's monotonic clock in nanoseconds.
func (e *engine) now() int64 { return int64(time.Since(e.start)) }

// Run runs the load cfg describes until it ends or ctx is done, and
// returns its report. It returns an error only when the run cannot start
// (bad config, unreachable server, no event loops).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, log: cfg.Logger, start: time.Now(), heartbeat: int64(10 * time.Second)}
	e.http = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.LoginConcurrency, MaxConnsPerHost: cfg.LoginConcurrency},
	}
	defer e.http.CloseIdleConnections()
	fdSoft, fdHard := raiseFDLimit()
	if need := uint64(cfg.Bots) + 256; need > fdSoft {
		e.log.Warn("open-file limit below bots + 256; some connections will fail", "limit", fdSoft, "bots", cfg.Bots)
	}
	if err := e.resolve(ctx); err != nil {
		return nil, err
	}
	n := cfg.Loops
	if n == 0 {
		n = runtime.NumCPU()
	}
	stop := make(chan struct{})
	for i := range n {
		l, err := newLoop(e, uint64(e.start.UnixNano())+uint64(i)*0x9e3779b97f4a7c15)
		if err != nil {
			close(stop)
			e.waitLoops()
			return nil, err
		}
		e.loops = append(e.loops, l)
		go l.run(stop)
	}
	e.buildBots()

	r := newRun(e, fdSoft, fdHard)
	r.baseline(ctx)
	progressDone := make(chan struct{})
	progressStop := make(chan struct{})
	go r.progress(ctx, progressStop, progressDone)

	e.ramp(ctx)
	rampEnd := time.Now()
	e.settle(ctx)
	r.settled = time.Since(rampEnd)
	warm := time.Now()
	sleepCtx(ctx, cfg.Warmup)
	r.warmedUp = time.Since(warm)
	r.markSteady(ctx)
	if w := cfg.Progress; w != nil {
		fmt.Fprintln(w, "steady window started")
	}
	e.scenarios(ctx)

	close(progressStop)
	<-progressDone
	r.finish(ctx)
	if w := cfg.Progress; w != nil {
		fmt.Fprintln(w, "steady window over")
	}
	sleepCtx(ctx, cfg.Linger)
	e.stopping.Store(true)
	close(stop)
	e.waitLoops()
	return r.report(), nil
}

func (e *engine) waitLoops() {
	for _, l := range e.loops {
		<-l.done
	}
}

func (e *engine) buildBots() {
	cfg := e.cfg
	e.inflight = make([]atomic.Int32, max(1, cfg.SourceAddrs))
	var g *group
	e.bots = make([]*bot, cfg.Bots)
	for i := range e.bots {
		b := &bot{e: e, l: e.loops[i%len(e.loops)], idx: i, fd: -1, node: cfg.home(i, e.nodes.len())}
		if cfg.SourceAddrs > 0 {
			b.srcIdx = i % cfg.SourceAddrs
			b.src = [4]byte{127, 0, 0, byte(2 + cfg.SourceOffset + i%cfg.SourceAddrs)}
		}
		b.slow = cfg.SlowPercent > 0 && picked(i, slowOffset, cfg.SlowPercent)
		if cfg.RoomSize > 0 {
			if i%cfg.RoomSize == 0 {
				g, b.lead = &group{}, true
			}
			b.grp = g
		}
		e.bots[i] = b
	}
}

// ramp logs every bot in, at most RampRate a second and LoginConcurrency
// at a time, and hands each to its loop to connect.
func (e *engine) ramp(ctx context.Context) {
	sem := make(chan struct{}, e.cfg.LoginConcurrency)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, b := range e.bots {
		if e.cfg.RampRate > 0 {
			due := t0.Add(time.Duration(float64(i) / e.cfg.RampRate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			tok, err := e.login(ctx, e.nodes.get(b.node).httpURL, e.cfg.NamePrefix+"-"+strconv.Itoa(i))
			if err != nil {
				e.loginFail.Add(1)
				e.failures.add(err.Error())
				return
			}
			b.token = tok
			b.l.post(b.start)
		}()
	}
	wg.Wait()
	// The logins are done: close the pool's keep-alive connections, which
	// the server would otherwise hold (and count as the players' memory)
	// until its idle timeout.
	e.http.CloseIdleConnections()
}

// login runs POST /v1/login at the server hu and returns the session
// token.
func (e *engine) login(ctx context.Context, hu, name string) (string, error) {
	t := time.Now()
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hu+"/v1/login", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogin, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrLogin, errKind(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return "", fmt.Errorf("%w: http %d", ErrLogin, resp.StatusCode)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("%w: no token in reply", ErrLogin)
	}
	e.loginLat.Record(uint64(time.Since(t).Microseconds()))
	e.loggedIn.Add(1)
	return out.Token, nil
}

func errKind(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errName(errno)
	}
	if ue, ok := err.(*url.Error); ok && ue.Timeout() {
		return "timeout"
	}
	return "request error"
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// settle waits up to Config.Settle for every bot to be in a room.
func (e *engine) settle(ctx context.Context) {
	if e.cfg.Settle <= 0 {
		return
	}
	deadline := time.Now().Add(e.cfg.Settle)
	for e.inRoom() < int64(e.cfg.Bots) && time.Now().Before(deadline) {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// inRoom counts the bots in a room now.
func (e *engine) inRoom() int64 {
	var n int64
	for _, l := range e.loops {
		n += l.st.inRoom.Load()
	}
	return n
}

// scenarios waits out Duration, running the storm and the slow readers on
// the way.
func (e *engine) scenarios(ctx context.Context) {
	cfg := e.cfg
	type event struct {
		at time.Duration
		do func()
	}
	var evs []event
	if cfg.StormPercent > 0 {
		evs = append(evs, event{cfg.StormAt, func() {
			e.log.Info("reconnect storm", "percent", cfg.StormPercent)
			e.each(cfg.StormPercent, 0, (*bot).stormDrop)
		}})
	}
	if cfg.SlowPercent > 0 {
		d := int64(cfg.SlowFor)
		evs = append(evs, event{cfg.SlowAt, func() {
			e.log.Info("slow readers", "percent", cfg.SlowPercent, "for", cfg.SlowFor)
			e.each(cfg.SlowPercent, slowOffset, func(b *bot) { b.pause(d) })
		}})
	}
	evs = append(evs, event{cfg.Duration, nil})
	// In time order: the slow readers come first by default. The end, last
	// among events at the same time, leaves out those past it.
	slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	t0 := time.Now()
	for _, ev := range evs {
		select {
		case <-time.After(time.Until(t0.Add(ev.at))):
		case <-ctx.Done():
			return
		}
		if ev.do == nil {
			return
		}
		ev.do()
	}
}

// each runs f on the chosen percent of the bots, each on its loop. Bots
// are chosen by index, offset so that two scenarios can pick different
// bots.
func (e *engine) each(percent float64, offset int, f func(*bot)) {
	per := map[*loop][]*bot{}
	for _, b := range e.bots {
		if picked(b.idx, offset, percent) {
			per[b.l] = append(per[b.l], b)
		}
	}
	for l, bs := range per {
		l.post(func() {
			for _, b := range bs {
				f(b)
				b.wake()
			}
		})
	}
}

// raiseFDLimit sets the soft open-file limit to the hard one and returns
// both.
func raiseFDLimit() (soft, hard uint64) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur, rl.Max
}

// admitHandshake takes a handshake slot of source address i, or reports
// that all are taken.
func (e *engine) admitHandshake(i int) bool {
	if e.inflight[i].Add(1) > int32(e.cfg.MaxHandshakes) {
		e.inflight[i].Add(-1)
		return false
	}
	return true
}

// slowOffset shifts the slow readers' pick away from the storm's.
const slowOffset = 50

// picked reports whether bot idx is among percent of the bots: those whose
// index (plus offset) crosses a multiple of 100/percent, an even spread.
func picked(idx, offset int, percent float64) bool {
	i := float64(idx + offset)
	return int(i*percent/100) != int((i+1)*percent/100)
}
