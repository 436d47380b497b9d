// Command tickroom-slowlink measures what a player whose downlink carries
// less than its room sends receives, with tickroom alone or behind nginx
// with TLS as deploy/nginx.conf sets it up: how far behind the room the
// states it gets are, second by second, and whether and from when the
// server skips states for it (tickroom_state_frames_skipped_total).
//
// It runs, all on loopback and in one process but nginx: a tickroom server
// with one game, bulk (an entity of -entity bytes that changes whole every
// tick at -tick-rate); a reference player connected to tickroom directly,
// whose states say the room's tick and when each tick went out; and the
// slow player, connected through a relay that forwards bytes toward it at
// 1/-fraction of what the room sends it (measured over -warmup, unthrottled),
// in front of nginx (-nginx) or of tickroom. After -duration throttled the
// relay is opened again and the report says how long the slow player took
// to reach the room's tick. scripts/slowlink/run.sh runs the variants
// BENCHMARKS.md compares.
//
//	tickroom-slowlink [-nginx /usr/sbin/nginx -conf deploy/nginx.conf [-listen sndbuf=32k] [-ws-location 'proxy_buffer_size 4k;']]
//	tickroom-slowlink -entity 64 -relay-buffer 1 -max-state-lag -1ns   # small states, the relay's least buffer, the lag probe off
//
// Each second's row has the room's tick (the reference's newest state),
// the slow player's newest, how far behind that is, how late the states
// the slow player got in that second came after the reference got them
// (p50 and max), how many it got, the states the server skipped since the
// throttle went on, and what the kernel holds on the way: server out (sent
// and not acknowledged, or not sent, on tickroom's socket toward the slow
// player), proxy in (received and not read on nginx's socket from tickroom,
// or the relay's when there is no nginx) and proxy out (the same as server
// out, on nginx's socket toward the player).
//
// It is not a pass/fail check: the figures depend on the machine's load.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/netpath"
)

func main() {
	nginx := flag.String("nginx", "", "nginx binary to put in front of tickroom (empty: the slow player connects to tickroom directly)")
	conf := flag.String("conf", "deploy/nginx.conf", "nginx site file, changed only for loopback ports, certificate and logs")
	listen := flag.String("listen", "", "parameters added to the players' TLS listen directive (sndbuf=32k)")
	wsExtra := flag.String("ws-location", "", "directives added to the /v1/ws location")
	tickRate := flag.Int("tick-rate", 20, "the room's ticks a second")
	entity := flag.Int("entity", 2048, "bytes of the room's entity, all changed every tick")
	fraction := flag.Int("fraction", 5, "the slow downlink carries 1/fraction of what the room sends")
	warmup := flag.Duration("warmup", 3*time.Second, "unthrottled time the room's rate is measured over")
	duration := flag.Duration("duration", 30*time.Second, "throttled time (at most 2m)")
	recover := flag.Duration("recover", 10*time.Second, "longest wait for the slow player to catch up once unthrottled")
	lag := flag.Duration("max-state-lag", 0, "the server's -max-state-lag (0: its default; negative: off)")
	relayBuf := flag.Int("relay-buffer", 0, "receive buffer the relay asks of its socket from the server, bytes (SO_RCVBUF, doubled by Linux, at least ~2.3 KB; 0: 8 KiB): what it holds, the server sees as delivered")
	flag.Parse()
	if *duration > 2*time.Minute || *duration <= 0 || *fraction < 1 || *entity < 1 || *tickRate < 1 {
		fmt.Fprintln(os.Stderr, "tickroom-slowlink: -duration must be in (0, 2m], -fraction, -entity and -tick-rate at least 1")
		os.Exit(2)
	}
	r := run{nginx: *nginx, conf: *conf, listen: *listen, wsExtra: *wsExtra, tickRate: *tickRate, entity: *entity,
		fraction: *fraction, warmup: *warmup, duration: *duration, recover: *recover, lag: *lag, relayBuf: *relayBuf}
	// A signal ends the run through its deferred stops, nginx's among them.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := r.do(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom-slowlink:", err)
		os.Exit(1)
	}
}

// run is one measurement.
type run struct {
	nginx, conf, listen, wsExtra string
	tickRate, entity, fraction   int
	warmup, duration, recover    time.Duration
	lag                          time.Duration
	relayBuf                     int
}

func (r run) do(ctx context.Context, w io.Writer) error {
	srv, err := tickroom.New(tickroom.Options{
		Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Games:  []game.Definition{bulkGame(r.tickRate, r.entity)},
		Logger: slog.New(slog.DiscardHandler), MaxStateLag: r.lag,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	wsAddr := srv.Addr().String()
	wsPort := srv.Addr().(*net.TCPAddr).Port
	direct := "http://" + srv.HTTPAddr().String()
	metrics := "http://" + srv.AdminAddr().String() + "/metrics"

	front, loginURL, scheme, what := wsAddr, direct, "ws", "tickroom directly"
	var px *proxy
	if r.nginx != "" {
		px, err = startNginx(nginxOptions{bin: r.nginx, conf: r.conf, listen: r.listen, wsExtra: r.wsExtra,
			httpAddr: srv.HTTPAddr().String(), wsAddr: wsAddr, admin: srv.AdminAddr().String()})
		if err != nil {
			return err
		}
		defer px.stop()
		front, loginURL, scheme = px.play, "https://"+px.play, "wss"
		what = "nginx (" + r.conf
		if r.listen != "" {
			what += ", listen … " + r.listen
		}
		if r.wsExtra != "" {
			what += ", /v1/ws: " + r.wsExtra
		}
		what += ")"
	}
	rl, err := netpath.Start(front)
	if err != nil {
		return err
	}
	rl.Down.ReadBuffer.Store(int64(r.relayBuf))
	defer rl.Close()

	ref, err := join(direct, "ws://"+wsAddr+"/v1/ws", "reference", true)
	if err != nil {
		return err
	}
	defer ref.ws.Close()
	slow, err := join(loginURL, scheme+"://"+rl.Addr()+"/v1/ws", "slow", false)
	if err != nil {
		return err
	}
	defer slow.ws.Close()
	if slow.room != ref.room {
		return fmt.Errorf("the players are in rooms %s and %s", ref.room, slow.room)
	}
	go ref.play(nil)
	go slow.play(ref)
	refPort := ref.localPort()
	notRef := func(p int) bool { return p != refPort }
	relayPorts := func(p int) bool { return slices.Contains(rl.UpstreamPorts(), p) }

	if !sleep(ctx, r.warmup) {
		return ctx.Err()
	}
	before := rl.Down.Forwarded.Load()
	if !sleep(ctx, r.warmup) {
		return ctx.Err()
	}
	roomRate := (rl.Down.Forwarded.Load() - before) * int64(time.Second) / int64(r.warmup)
	rate := max(roomRate/int64(r.fraction), 1)
	fmt.Fprintf(w, "slow player through %s; room: %d ticks/s, %d B/s to a player; slow downlink %d B/s (1/%d)\n",
		what, r.tickRate, roomRate, rate, r.fraction)
	fmt.Fprintf(w, "load average %s\n", loadavg())
	skipped0 := skipped(metrics)
	rl.Down.Rate.Store(rate)
	start := time.Now()
	fwd0 := rl.Down.Forwarded.Load()
	fmt.Fprintln(w, "   t  room tick  slow tick  behind (ticks)  state age p50/max (ms)  states/s  skipped  server out  proxy in  proxy out")
	var firstSkip time.Duration = -1
	var lastAges []time.Duration
	var lastBehind []uint64
	prevStates := slow.sample().states
	for i := 1; time.Since(start) < r.duration; i++ {
		if !sleep(ctx, time.Until(start.Add(time.Duration(i)*time.Second))) {
			return ctx.Err()
		}
		rs, ss := ref.sample(), slow.sample()
		if ss.err != nil {
			return fmt.Errorf("slow player's connection ended at %v: %w", time.Since(start).Round(time.Millisecond), ss.err)
		}
		sk := skipped(metrics) - skipped0
		if sk > 0 && firstSkip < 0 {
			firstSkip = time.Duration(i) * time.Second
		}
		behind := rs.latest - min(ss.latest, rs.latest)
		sq, _ := kernelQueue(wsPort, notRef)
		pi, _ := receiveQueue(wsPort, notRef)
		pq := "-"
		if px != nil {
			_, port, _ := net.SplitHostPort(px.play)
			pp, _ := strconv.Atoi(port)
			if q, ok := kernelQueue(pp, relayPorts); ok {
				pq = strconv.Itoa(q)
			}
		}
		p50, mx := pctl(ss.ages, 50), pctl(ss.ages, 100)
		fmt.Fprintf(w, "%4d  %9d  %9d  %14d  %11s / %-9s  %8d  %7d  %10d  %8d  %9s\n",
			i, rs.latest, ss.latest, behind, ms(p50), ms(mx), ss.states-prevStates, sk, sq, pi, pq)
		prevStates = ss.states
		if time.Duration(i)*time.Second > r.duration-10*time.Second {
			lastAges = append(lastAges, ss.ages...)
			lastBehind = append(lastBehind, behind)
		}
	}
	back := ref.sample().latest
	fmt.Fprintf(w, "the slow downlink carried %d B/s\n", (rl.Down.Forwarded.Load()-fwd0)*int64(time.Second)/int64(time.Since(start)))
	rl.Down.Rate.Store(0)
	released := time.Now()
	caught := time.Duration(-1)
	for time.Since(released) < r.recover {
		if slow.sample().latest >= back {
			caught = time.Since(released)
			break
		}
		if !sleep(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
	sk := skipped(metrics) - skipped0
	fmt.Fprintf(w, "load average %s\n", loadavg())
	first := "never"
	if firstSkip >= 0 {
		first = fmt.Sprintf("in the throttle's second %d", int(firstSkip/time.Second))
	}
	fmt.Fprintf(w, "summary: states skipped: %d, first %s; last 10 s: state age p50 %s ms, max %s ms, behind up to %d ticks; ",
		sk, first, ms(pctl(lastAges, 50)), ms(pctl(lastAges, 100)), slices.Max(append(lastBehind, 0)))
	if caught >= 0 {
		fmt.Fprintf(w, "unthrottled, at the room's tick after %v\n", caught.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "unthrottled, not at the room's tick after %v\n", r.recover)
	}
	return nil
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// skipped reads tickroom_state_frames_skipped_total from /metrics (all
// games); -1 when it cannot.
func skipped(url string) int64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var n int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "tickroom_state_frames_skipped_total{") {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += int64(v)
		}
	}
	return n
}

// pctl is the p-th percentile of ds (p 100: the largest); 0 for none.
func pctl(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)]
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
