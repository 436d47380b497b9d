package bots

import (
	"bytes"
	"strings"
	"testing"
)

func reportWith(vals []uint64, inRoom int64, msgs float64) *Report {
	var h Histogram
	for _, v := range vals {
		h.Record(v)
	}
	var s HistSnapshot
	h.Snapshot(&s)
	return &Report{
		Config: ReportConfig{Bots: int(inRoom)}, InRoomAtEnd: inRoom, OpenAtEnd: inRoom, SteadySec: 10,
		LatencyMicros: s.Summary(), LatencyBuckets: bucketsOf(&s),
		Steady:   SteadyRates{MessagesPerSec: msgs, SnapshotsPerSec: msgs},
		Counters: map[string]uint64{"inputs_sent": uint64(len(vals))}, Errors: map[string]uint64{"RATE_LIMITED": 1},
		Resume: ResumeReport{Dropped: 2, Resumed: 2},
		Server: &ServerReport{CPUSeconds: 3, RSSBaselineBytes: 1e6, RSSEndBytes: 3e6},
	}
}

func TestMerge(t *testing.T) {
	var a, b, all []uint64
	for i := range uint64(1000) {
		a = append(a, 1000+i)
		b = append(b, 50_000+i*10)
	}
	all = append(append(all, a...), b...)
	want := reportWith(all, 0, 0).LatencyMicros

	// Through JSON, as run.sh does it.
	var reps []*Report
	ra, rb := reportWith(a, 100, 1000), reportWith(b, 300, 2000)
	// Two processes' CPU per message, weighted by their messages: (10 µs
	// × 1000/s + 4 µs × 2000/s) over 3000/s.
	ra.Steady.BotsCPUMicrosPerMessage, rb.Steady.BotsCPUMicrosPerMessage = 10, 4
	for _, r := range []*Report{ra, rb} {
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadReport(&buf)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, back)
	}
	m, err := Merge(reps...)
	if err != nil {
		t.Fatal(err)
	}
	if m.LatencyMicros != want {
		t.Fatalf("merged latency %+v, want %+v", m.LatencyMicros, want)
	}
	if m.Config.Bots != 400 || m.InRoomAtEnd != 400 || m.Counters["inputs_sent"] != 2000 || m.Errors["RATE_LIMITED"] != 2 {
		t.Fatalf("merged counts: bots %d, in room %d, counters %v, errors %v", m.Config.Bots, m.InRoomAtEnd, m.Counters, m.Errors)
	}
	if m.Steady.SnapshotsPerBotSec != 7.5 || m.Steady.BotsCPUMicrosPerMessage != 6 || m.Resume.Resumed != 4 || m.Resume.SuccessRate != 1 {
		t.Fatalf("merged rates %+v, resume %+v", m.Steady, m.Resume)
	}
	// 3 s of server CPU over 3000 frames/s for 10 s; 2 MB over 400 conns.
	if m.Server.CPUMicrosPerFrame != 100 || m.Server.RSSPerConnBytes != 5000 {
		t.Fatalf("merged server %+v", m.Server)
	}
	if reps[0].Counters["inputs_sent"] != 1000 {
		t.Fatal("Merge changed its input")
	}
	if _, err := Merge(); err == nil {
		t.Fatal("merging nothing succeeded")
	}
}

// TestMergePerBotOverSeated: merged per-bot rates divide the processes'
// rates by the bots they had seated on average over their windows.
func TestMergePerBotOverSeated(t *testing.T) {
	ra, rb := reportWith([]uint64{1}, 100, 1000), reportWith([]uint64{1}, 300, 2000)
	ra.Steady.SeatedBots, rb.Steady.SeatedBots = 50, 150
	m, err := Merge(ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	if m.Steady.SeatedBots != 200 || m.Steady.SnapshotsPerBotSec != 15 {
		t.Fatalf("merged: %.1f bots seated, %.2f snapshots a bot a second; want 200 and 15", m.Steady.SeatedBots, m.Steady.SnapshotsPerBotSec)
	}
}

// TestMergeCountsBotsEndedEarly: the merged report says how many bots of
// every process stopped before the run's end.
func TestMergeCountsBotsEndedEarly(t *testing.T) {
	ra, rb := reportWith([]uint64{1}, 100, 1000), reportWith([]uint64{1}, 300, 2000)
	ra.Counters["bots_ended_early"], rb.Counters["bots_ended_early"] = 3, 4
	m, err := Merge(ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = m.WriteText(&text)
	if !strings.Contains(text.String(), "ended early 7,") {
		t.Fatalf("merged text report; want 7 bots ended early:\n%s", text.String())
	}
}

// TestMergeTickGapsAndSnapshotIntervals: the merged tick gap and snapshot
// interval figures are every process's, merged from their buckets, as the
// skipped ticks beside them add up every process's. Before, they were the
// first process's alone.
func TestMergeTickGapsAndSnapshotIntervals(t *testing.T) {
	var gaps, ivs [2]Histogram
	var allGaps, allIvs Histogram
	for i := range uint64(1000) {
		gaps[0].Record(1)
		allGaps.Record(1)
		ivs[0].Record(50_000)
		allIvs.Record(50_000)
		gaps[1].Record(1 + i%3)
		allGaps.Record(1 + i%3)
		ivs[1].Record(50_000 + 100*i)
		allIvs.Record(50_000 + 100*i)
	}
	var reps []*Report
	for k := range 2 {
		r := reportWith([]uint64{1}, 100, 1000)
		var g, iv HistSnapshot
		gaps[k].Snapshot(&g)
		ivs[k].Snapshot(&iv)
		r.TickGap, r.SnapshotIntervalMicros = g.Summary(), iv.Summary()
		r.TickGapBuckets, r.SnapshotIntervalBuckets = bucketsOf(&g), bucketsOf(&iv)
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadReport(&buf)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, back)
	}
	m, err := Merge(reps...)
	if err != nil {
		t.Fatal(err)
	}
	var wg, wi HistSnapshot
	allGaps.Snapshot(&wg)
	allIvs.Snapshot(&wi)
	if m.TickGap != wg.Summary() || m.SnapshotIntervalMicros != wi.Summary() {
		t.Fatalf("merged tick gap %+v, snapshot interval %+v; want both processes': %+v, %+v", m.TickGap, m.SnapshotIntervalMicros, wg.Summary(), wi.Summary())
	}
}
