package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickroom/tickroom/internal/syncbuf"
)

// TestSQLiteDiskFullMidRun fills the database up to a size limit (SQLite's
// max_page_count, as a full disk would): writes fail with a plain "disk
// full", the queue keeps taking items up to its bound and then drops and
// counts them, Ready says why the store is not usable, and the log says
// "disk full". Once there is room again, what was queued is written.
func TestSQLiteDiskFullMidRun(t *testing.T) {
	t.Parallel()
	db := open(t, Config{Dir: t.TempDir(), ChannelKeep: 100_000})
	var pages int
	if err := db.w.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(fmt.Sprint(`PRAGMA max_page_count = `, pages+8)); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	q, err := NewWriteQueue(QueueConfig{
		Writer: db, Capacity: 40, RetryInterval: 20 * time.Millisecond, PingInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(q)
	q.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Shutdown(ctx)
	})
	text := strings.Repeat("x", MaxLineLen)
	added := 0
	waitFor(t, "writes to fail with disk full", func() bool {
		if q.AddLine(Line{Channel: "general", From: "amy", Text: text}) {
			added++
		}
		err := q.Ready()
		return err != nil && strings.Contains(err.Error(), "disk full")
	})
	if err := q.Ready(); !strings.Contains(err.Error(), "store writes failing") {
		t.Fatalf("Ready = %v", err)
	}
	// The log line follows the state change by a moment (it is written
	// outside the queue's lock).
	waitFor(t, "the log to say disk full", func() bool { return strings.Contains(logs.String(), "disk full") })
	// Play goes on: adding never blocks; past the bound items are dropped
	// and counted.
	for range 100 {
		if q.AddLine(Line{Channel: "general", From: "amy", Text: "one more"}) {
			added++
		}
	}
	s := q.Stats()
	if s.Depth != 30 || s.LinesDropped == 0 {
		t.Fatalf("with the disk full: %+v, want 30 lines queued (three quarters of 40) and some dropped", s)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP tickroom_store_dropped_total Items dropped because the store write queue was full or shut down, by kind.
# TYPE tickroom_store_dropped_total counter
tickroom_store_dropped_total{kind="graph"} 0
tickroom_store_dropped_total{kind="line"} %d
tickroom_store_dropped_total{kind="result"} 0
# HELP tickroom_store_up 1 while the last store write or ping worked, 0 otherwise.
# TYPE tickroom_store_up gauge
tickroom_store_up 0
`, s.LinesDropped)), "tickroom_store_dropped_total", "tickroom_store_up"); err != nil {
		t.Fatal(err)
	}

	// Room again: the queue drains and the store is ready.
	if _, err := db.w.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return q.Stats().Depth == 0 && q.Ready() == nil })
	lines, err := db.ChannelLines(context.Background(), "general", 0, MaxPage)
	if err != nil || len(lines) != int(q.Stats().LinesWritten) || len(lines) != added {
		t.Fatalf("stored %d lines (%v); queue wrote %d, took %d", len(lines), err, q.Stats().LinesWritten, added)
	}
}
