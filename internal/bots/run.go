package bots

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// run gathers a run's samples: the second-by-second series, the sample
// when the ramp ended (the steady window starts there) and the last one.
type run struct {
	e              *engine
	fdSoft, fdHard uint64
	smp            sampler

	srvBase, srvSteady, srvPrev, srvEnd serverSample
	haveSrv                             bool // srvPrev holds a reading
	// The readings that failed, each with its cause: the report names
	// them rather than leave out or mislabel the figures they bear on.
	srvBaseErr, srvSteadyErr, srvEndErr error

	prev, steady, final *sample
	settled             time.Duration // waited after the ramp (Config.Settle)
	warmedUp            time.Duration // played after that before the window (Config.Warmup)
	// What the report reads of the run as a whole, taken with final at
	// the window's end: the bots may play on (Config.Linger).
	errs, closes, fails map[string]uint64
	load, ws            string
	cpuSteady, cpuEnd   float64 // the bots' own CPU seconds
	series              []SeriesPoint
}

func newRun(e *engine, soft, hard uint64) *run {
	return &run{
		e: e, fdSoft: soft, fdHard: hard,
		smp: sampler{url: e.cfg.MetricsURL, pid: e.cfg.ServerPID, client: &http.Client{Timeout: 3 * time.Second}},
	}
}

// baseline samples the server before any bot connects.
func (r *run) baseline(ctx context.Context) {
	r.prev = r.e.collect()
	if !r.smp.configured() {
		return
	}
	ss, err := r.smp.sample(ctx, r.e.now)
	if r.srvBaseErr = err; err == nil {
		r.srvBase, r.srvPrev, r.haveSrv = ss, ss, true
	}
}

func (r *run) markSteady(ctx context.Context) {
	r.steady = r.e.collect()
	r.cpuSteady = selfCPU()
	if !r.smp.configured() {
		return
	}
	ss, err := r.smp.sample(ctx, r.e.now)
	if r.srvSteadyErr = err; err == nil {
		r.srvSteady = ss
	}
}

func (r *run) finish(ctx context.Context) {
	e := r.e
	r.final = e.collect()
	r.errs, r.closes, r.fails = e.errors.snapshot(), e.closes.snapshot(), e.failures.snapshot()
	r.load, r.ws = loadAverage(), e.nodes.wsAddrs()
	r.cpuEnd = selfCPU()
	if r.steady == nil {
		r.steady, r.cpuSteady = r.final, r.cpuEnd
	}
	if !r.smp.configured() {
		return
	}
	ss, err := r.smp.sample(ctx, r.e.now)
	if r.srvEndErr = err; err == nil {
		r.srvEnd = ss
	}
}

// progress prints a line and records a series point every second.
func (r *run) progress(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := r.e.collect()
		p := r.point(s, r.prev)
		if !r.smp.configured() {
		} else if ss, err := r.smp.sample(ctx, r.e.now); err == nil {
			if dt := float64(ss.at-r.srvPrev.at) / 1e9; dt > 0 && r.haveSrv {
				p.ServerCPUPercent = 100 * (ss.cpu - r.srvPrev.cpu) / dt
			}
			p.ServerRSSBytes = ss.rss
			r.srvPrev, r.haveSrv = ss, true
		}
		r.series = append(r.series, p)
		r.prev = s
		if w := r.e.cfg.Progress; w != nil {
			fmt.Fprintln(w, p.line(r.e.cfg.Bots))
		}
	}
}

// SeriesPoint is one second of a run.
type SeriesPoint struct {
	// T is seconds since the run started.
	T float64 `json:"t"`
	// Started is bots logged in so far; Open and InRoom are bots with an
	// open WebSocket and bots seated in a room.
	Started int64 `json:"started"`
	Open    int64 `json:"open"`
	InRoom  int64 `json:"in_room"`
	// Rates over the second.
	InputsPerSec    float64 `json:"inputs_per_sec"`
	AcksPerSec      float64 `json:"acks_per_sec"`
	SnapshotsPerSec float64 `json:"snapshots_per_sec"`
	BytesInPerSec   float64 `json:"bytes_in_per_sec"`
	// Input latency over the second, milliseconds.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	LatencyMax float64 `json:"latency_max_ms"`
	// Counts so far. EndedEarly is bots that stopped for good before the
	// run's end (closed for good, or their redials given up).
	EndedEarly uint64 `json:"ended_early"`
	TickGaps   uint64 `json:"tick_gaps"`
	// Errors is the server's Error replies, as Report.Errors counts them;
	// Failures is login, connect, handshake and protocol failures, as
	// Report.Failures does; Closes is close frames and abnormal ends, as
	// Report.Closes.
	Errors   uint64 `json:"errors"`
	Failures uint64 `json:"failures"`
	Closes   uint64 `json:"closes"`
	// Server readings; zero when there is no sampler.
	ServerCPUPercent float64 `json:"server_cpu_percent"`
	ServerRSSBytes   float64 `json:"server_rss_bytes"`
}

func (r *run) point(s, prev *sample) SeriesPoint {
	dt := float64(s.at-prev.at) / 1e9
	rate := func(c counter) float64 {
		if dt <= 0 {
			return 0
		}
		return float64(s.c[c]-prev.c[c]) / dt
	}
	lat := s.latency.Sub(&prev.latency)
	return SeriesPoint{
		T: float64(s.at) / 1e9, Started: r.e.loggedIn.Load(), Open: s.open, InRoom: s.inRoom,
		InputsPerSec: rate(cInputs), AcksPerSec: rate(cAcked), SnapshotsPerSec: rate(cSnapshots), BytesInPerSec: rate(cBytesIn),
		LatencyP50: float64(lat.Quantile(0.5)) / 1e3, LatencyP99: float64(lat.Quantile(0.99)) / 1e3, LatencyMax: float64(lat.Max) / 1e3,
		EndedEarly: s.c[cEnded], TickGaps: s.c[cTickGaps], Errors: r.e.errors.total(), Failures: r.e.failures.total(), Closes: r.e.closes.total(),
	}
}

func (p SeriesPoint) line(bots int) string {
	s := fmt.Sprintf("t=%5.1fs bots=%d/%d open=%d room=%d ended=%d in/s=%.0f ack/s=%.0f snap/s=%.0f in=%.2fMB/s lat p50=%.1fms p99=%.1fms max=%.1fms gaps=%d err=%d fail=%d closes=%d",
		p.T, p.Started, bots, p.Open, p.InRoom, p.EndedEarly, p.InputsPerSec, p.AcksPerSec, p.SnapshotsPerSec, p.BytesInPerSec/1e6,
		p.LatencyP50, p.LatencyP99, p.LatencyMax, p.TickGaps, p.Errors, p.Failures, p.Closes)
	if p.ServerRSSBytes > 0 {
		s += fmt.Sprintf(" srv cpu=%.0f%% rss=%.0fMB", p.ServerCPUPercent, p.ServerRSSBytes/1e6)
	}
	return s
}

// report builds the final report.
func (r *run) report() *Report {
	e, cfg := r.e, r.e.cfg
	f, st := r.final, r.steady
	steadySec := float64(f.at-st.at) / 1e9
	rep := &Report{
		Config: ReportConfig{
			Bots: cfg.Bots, Game: cfg.Game, RoomSize: cfg.RoomSize, TickRate: cfg.TickRate, Options: cfg.Options, InputHz: cfg.InputHz, ChatRate: cfg.ChatRate, ChatChannels: cfg.ChatChannels,
			RampRate: cfg.RampRate, DurationSec: cfg.Duration.Seconds(), StormPercent: cfg.StormPercent, SlowPercent: cfg.SlowPercent,
			SlowForSec: cfg.SlowFor.Seconds(), Loops: len(e.loops), SourceAddrs: cfg.SourceAddrs, WebSocket: r.ws,
		},
		FDLimit: r.fdSoft, FDHardLimit: r.fdHard,
		StartedAt: e.start.UTC(), ElapsedSec: float64(f.at) / 1e9, SteadySec: steadySec,
		SettledSec: r.settled.Seconds(), WarmupSec: r.warmedUp.Seconds(), InRoomAtSteady: st.inRoom,
		LoggedIn: e.loggedIn.Load(), LoginFailed: e.loginFail.Load(), OpenAtEnd: f.open, InRoomAtEnd: f.inRoom,
		Counters: map[string]uint64{},
		Errors:   r.errs, Closes: r.closes, Failures: r.fails,
		Series: r.series,
	}
	for c := counter(0); c < numCounters; c++ {
		rep.Counters[counterNames[c]] = f.c[c]
	}
	lat := f.latency.Sub(&st.latency)
	rep.LatencyMicros = lat.Summary()
	if steadySec > 0 {
		rep.BotsCPUPercent = 100 * (r.cpuEnd - r.cpuSteady) / steadySec
	}
	rep.LoadAverage = r.load
	rep.ConnectMicros = f.connect.Summary()
	var login HistSnapshot
	e.loginLat.Snapshot(&login)
	rep.LoginMicros = login.Summary()
	rep.JoinMicros = f.join.Summary()
	rep.ResumeMicros = f.resume.Summary()
	rep.LatencyBuckets, rep.ConnectBuckets, rep.LoginBuckets = bucketsOf(lat), bucketsOf(&f.connect), bucketsOf(&login)
	rep.JoinBuckets, rep.ResumeBuckets = bucketsOf(&f.join), bucketsOf(&f.resume)
	gap, iv := f.tickGap.Sub(&st.tickGap), f.interval.Sub(&st.interval)
	rep.TickGap, rep.SnapshotIntervalMicros = gap.Summary(), iv.Summary()
	rep.TickGapBuckets, rep.SnapshotIntervalBuckets = bucketsOf(gap), bucketsOf(iv)
	if steadySec > 0 {
		d := func(c counter) float64 { return float64(f.c[c] - st.c[c]) }
		rep.Steady = SteadyRates{
			InputsPerSec: d(cInputs) / steadySec, AcksPerSec: d(cAcked) / steadySec,
			SnapshotsPerSec: d(cSnapshots) / steadySec, MessagesPerSec: d(cMessages) / steadySec,
			BytesInPerSec: d(cBytesIn) / steadySec,
			SkippedTicks:  uint64(d(cSkippedTicks)),
			PollsPerSec:   d(cPolls) / steadySec,
		}
		// Per bot: over the time bots spent seated in the window, which
		// bots seated or gone during it change (the bots in a room at the
		// end would count the snapshots of those gone, and not the time
		// of those that came late).
		if seated := float64(f.seatedNs-st.seatedNs) / 1e9; seated > 0 {
			rep.Steady.SeatedBots = seated / steadySec
			rep.Steady.SnapshotsPerBotSec = d(cSnapshots) / seated
			rep.Steady.BytesPerBotSec = d(cBytesIn) / seated
		}
		if m := d(cMessages); m > 0 {
			rep.Steady.BotsCPUMicrosPerMessage = (r.cpuEnd - r.cpuSteady) * 1e6 / m
		}
	}
	rep.Resume = ResumeReport{
		Dropped: f.c[cDrops], Reconnects: f.c[cReconnects], Attempts: f.c[cResumeTries], Resumed: f.c[cResumed], Failed: f.c[cResumeFailed],
	}
	if a := f.c[cDrops] + f.c[cReconnects]; a > 0 {
		rep.Resume.SuccessRate = float64(f.c[cResumed]) / float64(a)
	}
	for _, m := range []struct {
		what string
		err  error
	}{
		{"before the first bot: no RSS baseline nor RSS per connection", r.srvBaseErr},
		{"at the window's start: the server's CPU, lateness and send wait are over the whole run, ramp included", r.srvSteadyErr},
		{"at the window's end: no server figures", r.srvEndErr},
	} {
		if m.err != nil {
			rep.ServerReadingFailures = append(rep.ServerReadingFailures, "no reading "+m.what+" ("+m.err.Error()+")")
		}
	}
	if r.srvEndErr == nil && r.srvEnd.source != "" {
		rep.Server = r.serverReport(f, st)
	}
	return rep
}

func (r *run) serverReport(f, st *sample) *ServerReport {
	end, s0, base := r.srvEnd, r.srvSteady, r.srvBase
	sr := &ServerReport{Source: end.source, RSSEndBytes: end.rss, CPUOver: "window"}
	if s0.source == "" {
		// No reading at the window's start: the CPU is from the one
		// before the first bot, and so are the frames it is spread over.
		s0, st, sr.CPUOver = base, &sample{}, "run"
	}
	if s0.source == "" {
		sr.CPUOver = ""
	} else if sec := float64(end.at-s0.at) / 1e9; sec > 0 {
		sr.CPUSeconds = end.cpu - s0.cpu
		sr.CPUPercent = 100 * sr.CPUSeconds / sec
	}
	if frames := f.c[cMessages] - st.c[cMessages]; frames > 0 {
		sr.CPUMicrosPerFrame = sr.CPUSeconds * 1e6 / float64(frames)
	}
	if base.source != "" {
		sr.RSSBaselineBytes = base.rss
		if f.open > 0 {
			sr.RSSPerConnBytes = (end.rss - base.rss) / float64(f.open)
		}
	}
	sr.TickLateness = histReport(end.late, s0.late)
	sr.SendWait = histReport(end.send, s0.send)
	return sr
}

// histReport is h over the window since prev; nil when the server has no
// such histogram.
func histReport(h, prev promHist) *LatenessReport {
	if h.name == "" {
		return nil
	}
	l := &LatenessReport{Metric: h.name, Count: h.count - prev.count}
	if l.Count > 0 {
		l.Mean = (h.sum - prev.sum) / l.Count
	}
	l.P50 = finite(h.quantile(prev, 0.5))
	l.P99 = finite(h.quantile(prev, 0.99))
	l.P999 = finite(h.quantile(prev, 0.999))
	top, share := h.aboveTop(prev)
	l.TopBound, l.AboveTop = finite(top), finite(share)
	return l
}

// finite maps NaN and ±Inf (which JSON cannot carry) to -1.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}

// selfCPU returns the CPU seconds this process has used.
func selfCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// loadAverage returns the first line of /proc/loadavg: a noisy shared
// machine shows there.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
