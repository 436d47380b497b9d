package bots

import (
	"encoding/json"
	"fmt"
	"io"
)

// Buckets is a histogram in sparse form for JSON: [bucket index, count]
// pairs, so reports of several bot processes can be merged exactly.
type Buckets [][2]uint64

func bucketsOf(s *HistSnapshot) Buckets {
	var out Buckets
	for i, c := range s.Counts {
		if c != 0 {
			out = append(out, [2]uint64{uint64(i), c})
		}
	}
	return out
}

// addTo adds b's counts into s; max is the bound of the highest bucket
// unless known exactly.
func (b Buckets) addTo(s *HistSnapshot, knownMax uint64) error {
	for _, p := range b {
		if p[0] >= histBuckets {
			return fmt.Errorf("%w: histogram bucket %d out of range", ErrConfig, p[0])
		}
		s.Counts[p[0]] += p[1]
	}
	s.Max = max(s.Max, knownMax)
	return nil
}

// Merge combines the reports of bot processes that ran against the same
// server at the same time into one: counts and rates add up, histograms
// merge exactly (from their buckets), and the server's CPU per frame and
// RSS per connection are recomputed over every process's frames and
// connections. The first report's configuration, server sample and series
// are kept, with Bots summed. Tick gaps and snapshot intervals merge from
// their buckets too, unless a report that has some lacks them (one
// written before they were in the JSON): then the first report's are
// kept.
func Merge(reps ...*Report) (*Report, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrConfig)
	}
	out := *reps[0]
	out.Counters, out.Errors, out.Closes, out.Failures = map[string]uint64{}, map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	out.Config.Bots, out.LoggedIn, out.LoginFailed, out.OpenAtEnd, out.InRoomAtEnd, out.BotsCPUPercent = 0, 0, 0, 0, 0, 0
	out.InRoomAtSteady = 0
	out.Steady = SteadyRates{}
	out.Resume = ResumeReport{}
	var lat, conn, login, join, resume, gap, iv HistSnapshot
	// Reports written before the tick gap and snapshot interval buckets
	// were in the JSON have their summaries alone.
	gapsMerge, ivsMerge := true, true
	var cpuUS float64 // the processes' CPU µs a second over the steady window
	for _, r := range reps {
		out.Config.Bots += r.Config.Bots
		out.LoggedIn += r.LoggedIn
		out.LoginFailed += r.LoginFailed
		out.OpenAtEnd += r.OpenAtEnd
		out.InRoomAtEnd += r.InRoomAtEnd
		out.InRoomAtSteady += r.InRoomAtSteady
		out.SettledSec = max(out.SettledSec, r.SettledSec)
		out.WarmupSec = max(out.WarmupSec, r.WarmupSec)
		out.BotsCPUPercent += r.BotsCPUPercent
		for _, m := range []struct{ dst, src map[string]uint64 }{
			{out.Counters, r.Counters}, {out.Errors, r.Errors}, {out.Closes, r.Closes}, {out.Failures, r.Failures},
		} {
			for k, v := range m.src {
				m.dst[k] += v
			}
		}
		s := &out.Steady
		s.InputsPerSec += r.Steady.InputsPerSec
		s.AcksPerSec += r.Steady.AcksPerSec
		s.SnapshotsPerSec += r.Steady.SnapshotsPerSec
		s.MessagesPerSec += r.Steady.MessagesPerSec
		s.BytesInPerSec += r.Steady.BytesInPerSec
		s.SkippedTicks += r.Steady.SkippedTicks
		s.PollsPerSec += r.Steady.PollsPerSec
		seated := r.Steady.SeatedBots
		if seated == 0 && r.Steady.SnapshotsPerSec > 0 {
			seated = float64(r.InRoomAtEnd) // a report from before seated_bots
		}
		s.SeatedBots += seated
		cpuUS += r.Steady.BotsCPUMicrosPerMessage * r.Steady.MessagesPerSec
		gapsMerge = gapsMerge && (r.TickGap.Count == 0 || len(r.TickGapBuckets) > 0)
		ivsMerge = ivsMerge && (r.SnapshotIntervalMicros.Count == 0 || len(r.SnapshotIntervalBuckets) > 0)
		rs := &out.Resume
		rs.Dropped += r.Resume.Dropped
		rs.Reconnects += r.Resume.Reconnects
		rs.Attempts += r.Resume.Attempts
		rs.Resumed += r.Resume.Resumed
		rs.Failed += r.Resume.Failed
		for _, h := range []struct {
			dst *HistSnapshot
			src Buckets
			max uint64
		}{
			{&lat, r.LatencyBuckets, r.LatencyMicros.Max}, {&conn, r.ConnectBuckets, r.ConnectMicros.Max},
			{&login, r.LoginBuckets, r.LoginMicros.Max}, {&join, r.JoinBuckets, r.JoinMicros.Max},
			{&resume, r.ResumeBuckets, r.ResumeMicros.Max},
			{&gap, r.TickGapBuckets, r.TickGap.Max}, {&iv, r.SnapshotIntervalBuckets, r.SnapshotIntervalMicros.Max},
		} {
			if err := h.src.addTo(h.dst, h.max); err != nil {
				return nil, err
			}
		}
	}
	if sb := out.Steady.SeatedBots; sb > 0 {
		out.Steady.SnapshotsPerBotSec = out.Steady.SnapshotsPerSec / sb
		out.Steady.BytesPerBotSec = out.Steady.BytesInPerSec / sb
	}
	if out.Steady.MessagesPerSec > 0 {
		out.Steady.BotsCPUMicrosPerMessage = cpuUS / out.Steady.MessagesPerSec
	}
	if a := out.Resume.Dropped + out.Resume.Reconnects; a > 0 {
		out.Resume.SuccessRate = float64(out.Resume.Resumed) / float64(a)
	}
	out.LatencyMicros, out.ConnectMicros, out.LoginMicros = lat.Summary(), conn.Summary(), login.Summary()
	out.JoinMicros, out.ResumeMicros = join.Summary(), resume.Summary()
	out.LatencyBuckets, out.ConnectBuckets, out.LoginBuckets = bucketsOf(&lat), bucketsOf(&conn), bucketsOf(&login)
	out.JoinBuckets, out.ResumeBuckets = bucketsOf(&join), bucketsOf(&resume)
	if gapsMerge {
		out.TickGap, out.TickGapBuckets = gap.Summary(), bucketsOf(&gap)
	}
	if ivsMerge {
		out.SnapshotIntervalMicros, out.SnapshotIntervalBuckets = iv.Summary(), bucketsOf(&iv)
	}
	if sv := reps[0].Server; sv != nil {
		m := *sv
		if out.SteadySec > 0 && out.Steady.MessagesPerSec > 0 {
			m.CPUMicrosPerFrame = m.CPUSeconds * 1e6 / (out.Steady.MessagesPerSec * out.SteadySec)
		}
		if out.OpenAtEnd > 0 {
			m.RSSPerConnBytes = (m.RSSEndBytes - m.RSSBaselineBytes) / float64(out.OpenAtEnd)
		}
		out.Server = &m
	}
	return &out, nil
}

// ReadReport decodes a report written by WriteJSON.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: report: %v", ErrConfig, err)
	}
	return &rep, nil
}
