package bots

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

var counterNames = [numCounters]string{
	cInputs: "inputs_sent", cAcked: "inputs_acked", cUntimed: "inputs_acked_untimed", cSnapshots: "snapshots", cKeyframes: "keyframes",
	cMessages: "messages", cBytesIn: "bytes_in", cBytesOut: "bytes_out", cChats: "chats_sent", cChatsIn: "chats_received",
	cTickGaps: "tick_gaps", cSkippedTicks: "skipped_ticks", cBaseMismatch: "delta_base_mismatches",
	cConnected: "handshakes", cJoined: "joins", cDrops: "storm_drops", cResumeTries: "resume_attempts",
	cResumed: "resumed", cResumeFailed: "resume_failed", cPaused: "slow_reader_pauses", cReconnects: "reconnects",
	cRedirects: "redirects", cJoinRetries: "join_retries", cGameMessages: "game_messages",
	cPolls: "loop_polls", cEnded: "bots_ended_early",
}

// Report is a run's results. Durations in fields named *Micros are
// microseconds; rates are per second.
type Report struct {
	Config      ReportConfig `json:"config"`
	FDLimit     uint64       `json:"fd_limit"`
	FDHardLimit uint64       `json:"fd_hard_limit"`
	StartedAt   time.Time    `json:"started_at"`
	ElapsedSec  float64      `json:"elapsed_sec"`
	// SteadySec is the measured window: from the last bot's start (with
	// Config.Settle, from when every bot was in a room, or the wait ran
	// out; with Config.Warmup, that much later) to the end. Latency, tick gaps and rates cover it; connect,
	// login, join and resume times cover the whole run.
	SteadySec float64 `json:"steady_sec"`
	// SettledSec is how long the run waited after the last bot's start
	// for every bot to be in a room (Config.Settle), and InRoomAtSteady
	// how many were when the window started.
	SettledSec float64 `json:"settled_sec"`
	// WarmupSec is how long the run then played before the window
	// started (Config.Warmup).
	WarmupSec      float64 `json:"warmup_sec"`
	InRoomAtSteady int64   `json:"in_room_at_steady"`
	LoggedIn       int64   `json:"logged_in"`
	LoginFailed    int64   `json:"login_failed"`
	OpenAtEnd      int64   `json:"open_at_end"`
	InRoomAtEnd    int64   `json:"in_room_at_end"`
	// BotsCPUPercent is this process's CPU over the steady window (100 =
	// one core); LoadAverage is /proc/loadavg at the end.
	BotsCPUPercent float64 `json:"bots_cpu_percent"`
	LoadAverage    string  `json:"load_average"`

	LatencyMicros          Summary `json:"input_latency_us"`
	ConnectMicros          Summary `json:"connect_us"`
	LoginMicros            Summary `json:"login_us"`
	JoinMicros             Summary `json:"join_us"`
	ResumeMicros           Summary `json:"resume_us"`
	TickGap                Summary `json:"tick_gap_ticks"`
	SnapshotIntervalMicros Summary `json:"snapshot_interval_us"`

	// Buckets of the histograms above, for Merge.
	LatencyBuckets Buckets `json:"input_latency_buckets"`
	ConnectBuckets Buckets `json:"connect_buckets"`
	LoginBuckets   Buckets `json:"login_buckets"`
	JoinBuckets    Buckets `json:"join_buckets"`
	ResumeBuckets  Buckets `json:"resume_buckets"`
	// Over the steady window, as TickGap and SnapshotIntervalMicros.
	TickGapBuckets          Buckets `json:"tick_gap_buckets"`
	SnapshotIntervalBuckets Buckets `json:"snapshot_interval_buckets"`

	Steady SteadyRates   `json:"steady"`
	Resume ResumeReport  `json:"resume"`
	Server *ServerReport `json:"server,omitempty"`
	// ServerReadingFailures names each reading of the server that failed
	// (before the first bot, at the window's start or at its end) with its
	// cause, and what of Server it leaves out or widens.
	ServerReadingFailures []string `json:"server_reading_failures,omitempty"`

	Counters map[string]uint64 `json:"counters"`
	// Errors counts tickroom.v1 Error replies by code name; Closes counts
	// close frames by code and abnormal ends by cause; Failures counts
	// login, connect, handshake and protocol failures.
	Errors   map[string]uint64 `json:"errors"`
	Closes   map[string]uint64 `json:"closes"`
	Failures map[string]uint64 `json:"failures"`

	Series []SeriesPoint `json:"series"`
}

// ReportConfig is the run's configuration as reported.
type ReportConfig struct {
	Bots         int               `json:"bots"`
	Game         string            `json:"game"`
	RoomSize     int               `json:"room_size"`
	TickRate     int               `json:"tick_rate,omitempty"`
	Options      map[string]string `json:"options,omitempty"`
	InputHz      float64           `json:"input_hz"`
	ChatRate     float64           `json:"chat_rate"`
	ChatChannels int               `json:"chat_channels,omitempty"`
	RampRate     float64           `json:"ramp_rate"`
	DurationSec  float64           `json:"duration_sec"`
	StormPercent float64           `json:"storm_percent"`
	SlowPercent  float64           `json:"slow_percent"`
	SlowForSec   float64           `json:"slow_for_sec"`
	Loops        int               `json:"loops"`
	SourceAddrs  int               `json:"source_addrs"`
	WebSocket    string            `json:"websocket"`
}

// SteadyRates are rates over the steady window. The per-bot rates are
// over the time bots spent seated in a room in it: SeatedBots is that
// time over the window's, the bots seated on average.
type SteadyRates struct {
	InputsPerSec       float64 `json:"inputs_per_sec"`
	AcksPerSec         float64 `json:"acks_per_sec"`
	SnapshotsPerSec    float64 `json:"snapshots_per_sec"`
	MessagesPerSec     float64 `json:"messages_per_sec"`
	BytesInPerSec      float64 `json:"bytes_in_per_sec"`
	SnapshotsPerBotSec float64 `json:"snapshots_per_bot_sec"`
	BytesPerBotSec     float64 `json:"bytes_per_bot_sec"`
	SeatedBots         float64 `json:"seated_bots"`
	SkippedTicks       uint64  `json:"skipped_ticks"`
	// PollsPerSec is the loops' epoll_wait calls a second: about one per
	// schedule pass (every 1–2 ms) and one per batch of ready sockets.
	PollsPerSec float64 `json:"polls_per_sec"`
	// BotsCPUMicrosPerMessage is this process's CPU over the steady window
	// per message received: what a delivered frame costs the load side.
	BotsCPUMicrosPerMessage float64 `json:"bots_cpu_us_per_message"`
}

// ResumeReport counts drops and resumes. SuccessRate is resumed seats over
// connections lost (storm drops plus other resumable losses). Each lost
// seat ends as one Resumed or one Failed (a resume refused, closed or
// given another seat, or redials given up after five), but for those whose
// resume was still in flight when the run ended.
type ResumeReport struct {
	Dropped     uint64  `json:"storm_dropped"`
	Reconnects  uint64  `json:"other_reconnects"`
	Attempts    uint64  `json:"attempts"`
	Resumed     uint64  `json:"resumed"`
	Failed      uint64  `json:"failed"`
	SuccessRate float64 `json:"success_rate"`
}

// ServerReport is what the sampler read from the server over the steady
// window.
type ServerReport struct {
	// Source is "metrics" (Prometheus /metrics), "proc" (/proc/<pid>) or
	// "proc+metrics" (CPU and RSS from /proc, tick lateness and send wait
	// from /metrics).
	Source string `json:"source"`
	// CPUOver is what CPUSeconds, CPUPercent and CPUMicrosPerFrame cover:
	// "window" (the steady window), "run" (from before the first bot,
	// when the reading at the window's start failed) or "" (none: no
	// reading before the window's end).
	CPUOver    string  `json:"cpu_over"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"`
	// CPUMicrosPerFrame is server CPU time over frames the bots received.
	CPUMicrosPerFrame float64 `json:"cpu_us_per_frame"`
	RSSBaselineBytes  float64 `json:"rss_baseline_bytes"`
	RSSEndBytes       float64 `json:"rss_end_bytes"`
	// RSSPerConnBytes is RSS growth from before the first bot over open
	// connections at the end.
	RSSPerConnBytes float64         `json:"rss_per_conn_bytes"`
	TickLateness    *LatenessReport `json:"tick_lateness,omitempty"`
	// SendWait is how long the server's rooms' frames waited from their
	// tick to their write (tickroom_send_wait_seconds), over the window.
	SendWait *LatenessReport `json:"send_wait,omitempty"`
}

// LatenessReport is the server's tick lateness histogram over the steady
// window, in the metric's unit; quantiles are bucket upper bounds, -1
// when above TopBound, the largest finite bound. AboveTop is the share of
// ticks later than TopBound.
type LatenessReport struct {
	Metric   string  `json:"metric"`
	Count    float64 `json:"count"`
	Mean     float64 `json:"mean"`
	P50      float64 `json:"p50"`
	P99      float64 `json:"p99"`
	P999     float64 `json:"p99_9"`
	TopBound float64 `json:"top_bound"`
	AboveTop float64 `json:"above_top"`
}

func (l *LatenessReport) q(v float64) string {
	if v < 0 {
		return fmt.Sprintf(">%g", l.TopBound)
	}
	return fmt.Sprintf("≤%g", v)
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func ms(us uint64) string { return strconv.FormatFloat(float64(us)/1e3, 'f', 2, 64) + "ms" }

func (s Summary) text() string {
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s p99.9=%s max=%s", s.Count, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.Max))
}

// WriteText writes the human-readable report.
func (r *Report) WriteText(w io.Writer) error {
	c := r.Config
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("tickroom-bots report")
	p("  run          %d bots, game %s, room size %d, inputs %.1f Hz, chat %.2f/s, %d loops, %d source addrs, fd limit %d",
		c.Bots, c.Game, c.RoomSize, c.InputHz, c.ChatRate, c.Loops, c.SourceAddrs, r.FDLimit)
	p("  time         %.1f s in all, steady window %.1f s from %d bots in a room (%.1f s after the last bot started, then %.1f s of warm-up)",
		r.ElapsedSec, r.SteadySec, r.InRoomAtSteady, r.SettledSec, r.WarmupSec)
	p("  bots         logged in %d (failed %d), ended early %d, open at end %d, in a room at end %d, redirects followed %d",
		r.LoggedIn, r.LoginFailed, r.Counters["bots_ended_early"], r.OpenAtEnd, r.InRoomAtEnd, r.Counters["redirects"])
	p("  load         bots' own CPU %.0f%%, loadavg %s", r.BotsCPUPercent, r.LoadAverage)
	if n := r.Counters["inputs_acked_untimed"]; n > 0 {
		p("  input→ack    %s; %d more acknowledged untimed, past %d in flight: slower than these", r.LatencyMicros.text(), n, maxAckWindow)
	} else {
		p("  input→ack    %s", r.LatencyMicros.text())
	}
	p("  connect      %s", r.ConnectMicros.text())
	p("  login        %s", r.LoginMicros.text())
	p("  join         %s", r.JoinMicros.text())
	s := r.Steady
	p("  steady       %.0f inputs/s, %.0f acks/s, %.0f snapshots/s, %.0f msgs/s, %.2f MB/s in",
		s.InputsPerSec, s.AcksPerSec, s.SnapshotsPerSec, s.MessagesPerSec, s.BytesInPerSec/1e6)
	p("  per bot      %.2f snapshots/s, %.0f B/s (%.1f bots seated on average)", s.SnapshotsPerBotSec, s.BytesPerBotSec, s.SeatedBots)
	p("  bots' cost   %.2f µs of CPU a message received, %.0f polls/s", s.BotsCPUMicrosPerMessage, s.PollsPerSec)
	p("  tick gaps    %d ticks skipped; gap p50=%d p99=%d max=%d ticks; snapshot interval p50=%s p99=%s max=%s",
		s.SkippedTicks, r.TickGap.P50, r.TickGap.P99, r.TickGap.Max,
		ms(r.SnapshotIntervalMicros.P50), ms(r.SnapshotIntervalMicros.P99), ms(r.SnapshotIntervalMicros.Max))
	rs := r.Resume
	p("  resume       storm dropped %d, other reconnects %d, attempts %d, resumed %d, failed %d, success %.1f%%; resume time %s",
		rs.Dropped, rs.Reconnects, rs.Attempts, rs.Resumed, rs.Failed, 100*rs.SuccessRate, r.ResumeMicros.text())
	for _, f := range r.ServerReadingFailures {
		p("  server       %s", f)
	}
	if sv := r.Server; sv != nil {
		over := ""
		switch sv.CPUOver {
		case "run":
			over = " over the whole run"
		case "":
			if sv.CPUSeconds == 0 && sv.Source != "" && len(r.ServerReadingFailures) > 0 {
				over = " unknown"
			}
		}
		p("  server       (%s) cpu%s %.1f%% (%.2f s), %.2f µs CPU per delivered frame, rss %.1f MB (baseline %.1f MB, %.1f KB per conn)",
			sv.Source, over, sv.CPUPercent, sv.CPUSeconds, sv.CPUMicrosPerFrame, sv.RSSEndBytes/1e6, sv.RSSBaselineBytes/1e6, sv.RSSPerConnBytes/1e3)
		for _, h := range []struct {
			label string
			l     *LatenessReport
		}{{"lateness", sv.TickLateness}, {"send wait", sv.SendWait}} {
			switch l := h.l; {
			case l == nil:
			case l.Count == 0:
				p("  %-12s %s: none in the window", h.label, l.Metric)
			default:
				p("  %-12s %s: n=%.0f mean=%.3g p50%s p99%s p99.9%s; %.2f%% above %g",
					h.label, l.Metric, l.Count, l.Mean, l.q(l.P50), l.q(l.P99), l.q(l.P999), 100*l.AboveTop, l.TopBound)
			}
		}
	}
	for _, t := range []struct {
		name string
		m    map[string]uint64
	}{{"errors", r.Errors}, {"closes", r.Closes}, {"failures", r.Failures}} {
		if len(t.m) == 0 {
			p("  %-12s none", t.name)
			continue
		}
		for i, k := range slices.Sorted(maps.Keys(t.m)) {
			name := ""
			if i == 0 {
				name = t.name
			}
			p("  %-12s %-40s %d", name, k, t.m[k])
		}
	}
	return nil
}

// WriteCSV writes the per-second series as CSV with a header row.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"t", "started", "open", "in_room", "inputs_per_sec", "acks_per_sec", "snapshots_per_sec", "bytes_in_per_sec",
		"latency_p50_ms", "latency_p99_ms", "latency_max_ms", "ended_early", "tick_gaps", "errors", "failures", "closes", "server_cpu_percent", "server_rss_bytes"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, p := range r.Series {
		_ = cw.Write([]string{f(p.T), strconv.FormatInt(p.Started, 10), strconv.FormatInt(p.Open, 10), strconv.FormatInt(p.InRoom, 10),
			f(p.InputsPerSec), f(p.AcksPerSec), f(p.SnapshotsPerSec), f(p.BytesInPerSec), f(p.LatencyP50), f(p.LatencyP99), f(p.LatencyMax),
			strconv.FormatUint(p.EndedEarly, 10), strconv.FormatUint(p.TickGaps, 10), strconv.FormatUint(p.Errors, 10), strconv.FormatUint(p.Failures, 10), strconv.FormatUint(p.Closes, 10),
			f(p.ServerCPUPercent), f(p.ServerRSSBytes)})
	}
	cw.Flush()
	return cw.Error()
}
