package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tickroom/tickroom/internal/pgtest"
)

func newQueue(t *testing.T, cfg QueueConfig) *WriteQueue {
	t.Helper()
	q, err := NewWriteQueue(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	t.Cleanup(func() { q.Shutdown(context.Background()) })
	return q
}

func TestWriteQueueBatchesAndFlushesOnShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, Config{Dir: t.TempDir(), ChannelKeep: 5000})
	q := newQueue(t, QueueConfig{Writer: db, MaxBatch: 100})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 250 {
				if !q.AddLine(Line{Channel: "general", From: fmt.Sprint("u", w), Text: fmt.Sprint(w, "/", i), At: time.Now()}) {
					t.Error("line dropped by a queue with room")
				}
			}
		})
	}
	for i := range 50 {
		q.AddResult(gomokuResult(fmt.Sprint("r", i), "amy", "bob", time.Now()))
	}
	wg.Wait()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s := q.Stats()
	if s.LinesWritten != 1000 || s.ResultsWritten != 50 || s.Depth != 0 || s.LinesDropped+s.ResultsDropped != 0 {
		t.Fatalf("stats after shutdown = %+v", s)
	}
	if s.Batches < 11 || s.Batches >= 1050 {
		t.Fatalf("%d batches for 1,050 items of at most 100 a batch", s.Batches)
	}
	lines, err := db.ChannelLines(ctx, "general", 0, MaxPage)
	if err != nil || len(lines) != MaxPage {
		t.Fatalf("stored lines = %d, %v", len(lines), err)
	}
	if st, err := db.Standing(ctx, "gomoku", "amy"); err != nil || st.Wins != 50 {
		t.Fatalf("amy's standing = %+v, %v; want 50 wins", st, err)
	}
	if q.AddLine(Line{Channel: "general", From: "late", Text: "x"}) {
		t.Fatal("a line was taken after Shutdown")
	}
	if got := q.Stats().LinesDropped; got != 1 {
		t.Fatalf("lines dropped after shutdown = %d, want 1", got)
	}
}

func TestWriteQueueBoundedWhileDatabaseIsLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	db := open(t, Config{URL: srv.NewDatabase(t), ConnectTimeout: 2 * time.Second})
	q := newQueue(t, QueueConfig{Writer: db, Capacity: 100, MaxBatch: 30, RetryInterval: 20 * time.Millisecond,
		PingInterval: 50 * time.Millisecond, WriteTimeout: time.Second})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(q)

	if !q.AddLine(Line{Channel: "general", From: "amy", Text: "before"}) {
		t.Fatal("dropped with the database up")
	}
	waitFor(t, "the first line written", func() bool { return q.Stats().LinesWritten == 1 })
	if err := q.Ready(); err != nil {
		t.Fatalf("Ready with the database up: %v", err)
	}

	srv.Stop(t)
	waitFor(t, "Ready to report the lost database", func() bool { return q.Ready() != nil })
	if err := q.Ready(); !strings.Contains(err.Error(), "store writes failing") {
		t.Fatalf("Ready = %v", err)
	}
	taken := 0
	for i := range 150 {
		if q.AddLine(Line{Channel: "general", From: "amy", Text: fmt.Sprint("during ", i)}) {
			taken++
		}
	}
	s := q.Stats()
	if taken != 75 || s.Depth != 75 || s.LinesDropped != 75 {
		t.Fatalf("took %d lines of 150 with capacity 100; stats %+v", taken, s)
	}
	// The chat of the outage leaves a quarter of the queue to results
	// (and bans, kicks and friends): a match that ends now is kept.
	taken = 0
	for i := range 30 {
		if q.AddResult(gomokuResult(fmt.Sprint("during-", i), "amy", "bob", time.Now())) {
			taken++
		}
	}
	s = q.Stats()
	if taken != 25 || s.Depth != 100 || s.ResultsDropped != 5 {
		t.Fatalf("took %d results of 30 after the lines; stats %+v", taken, s)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tickroom_store_dropped_total Items dropped because the store write queue was full or shut down, by kind.
# TYPE tickroom_store_dropped_total counter
tickroom_store_dropped_total{kind="graph"} 0
tickroom_store_dropped_total{kind="line"} 75
tickroom_store_dropped_total{kind="result"} 5
# HELP tickroom_store_queue_depth Items waiting to be written to the store (results, chat lines and kept direct messages, friend and block changes), a batch being retried included.
# TYPE tickroom_store_queue_depth gauge
tickroom_store_queue_depth 100
# HELP tickroom_store_up 1 while the last store write or ping worked, 0 otherwise.
# TYPE tickroom_store_up gauge
tickroom_store_up 0
`), "tickroom_store_dropped_total", "tickroom_store_queue_depth", "tickroom_store_up"); err != nil {
		t.Fatal(err)
	}

	srv.Restart(t)
	waitFor(t, "the queue to drain once the database is back", func() bool { return q.Stats().Depth == 0 })
	waitFor(t, "Ready once the database is back", func() bool { return q.Ready() == nil })
	lines, err := db.ChannelLines(ctx, "general", 0, MaxPage)
	if err != nil || len(lines) != 76 {
		t.Fatalf("stored lines = %d, %v; want the 76 the queue took", len(lines), err)
	}
	if s := q.Stats(); s.Errors == 0 || s.LinesWritten != 76 || s.ResultsWritten != 25 {
		t.Fatalf("stats after recovery = %+v", s)
	}
	if st, err := db.Standing(ctx, "gomoku", "amy"); err != nil || st.Wins != 25 {
		t.Fatalf("amy's standing = %+v, %v; want the 25 wins of the outage", st, err)
	}
}

func TestWriteQueueShutdownWhileDatabaseIsLostCountsTheLoss(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	db := open(t, Config{URL: srv.NewDatabase(t), ConnectTimeout: 2 * time.Second})
	q := newQueue(t, QueueConfig{Writer: db, RetryInterval: 10 * time.Millisecond, WriteTimeout: time.Second})
	srv.Stop(t)
	for i := range 10 {
		q.AddResult(gomokuResult(fmt.Sprint("r", i), "amy", "bob", time.Now()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if s := q.Stats(); s.ResultsDropped != 10 || s.ResultsWritten != 0 || s.Depth != 0 {
		t.Fatalf("stats = %+v, want 10 dropped", s)
	}
}

// TestWriteQueueShutdownOnceTheDatabaseIsBackWritesWhatItHolds: a queue
// whose writes failed waits before its next try (up to 8 times
// RetryInterval, 2 s by default); a shutdown within that wait, the
// database answering again (a failover ended, another program's lock let
// go), writes what the queue holds rather than dropping it untried.
func TestWriteQueueShutdownOnceTheDatabaseIsBackWritesWhatItHolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := open(t, Config{Dir: dir, BusyTimeout: 100 * time.Millisecond})
	lock := lockSQLite(t, dir)
	q := newQueue(t, QueueConfig{Writer: db, RetryInterval: time.Hour, WriteTimeout: 5 * time.Second})
	for i := range 3 {
		q.AddResult(gomokuResult(fmt.Sprint("r", i), "amy", "bob", time.Now()))
	}
	waitFor(t, "a write to fail", func() bool { return q.Stats().Errors > 0 })
	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if s := q.Stats(); s.ResultsWritten != 3 || s.ResultsDropped != 0 {
		t.Fatalf("stats after a shutdown with the database back = %+v; want the 3 results written, none dropped", s)
	}
	if st, err := db.Standing(context.Background(), "gomoku", "amy"); err != nil || st.Wins != 3 {
		t.Fatalf("amy's standing = %+v, %v; want 3 wins", st, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A graph change's Done runs once the change can be read back, and at
// once when the queue drops it.
func TestWriteQueueGraphDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, Config{Dir: t.TempDir()})
	q := newQueue(t, QueueConfig{Writer: db, Capacity: 1, Linger: 50 * time.Millisecond})
	at := time.UnixMilli(1_700_000_000_000)
	stored := make(chan []Friendship, 1)
	dropped := make(chan struct{}, 1)
	if !q.AddGraph(GraphOp{Kind: GraphPutFriendship, Friendship: Friendship{From: "ann", To: "bob", State: FriendPending, Since: at},
		Done: func() {
			fs, err := db.Friendships(ctx, "bob")
			if err != nil {
				t.Error(err)
			}
			stored <- fs
		}}) {
		t.Fatal("dropped by an empty queue")
	}
	// The queue holds one item: the next is dropped, and told so at once.
	if q.AddGraph(GraphOp{Kind: GraphBlock, A: "ann", B: "cy", Done: func() { dropped <- struct{}{} }}) {
		t.Fatal("taken past the queue's capacity")
	}
	select {
	case <-dropped:
	default:
		t.Fatal("a dropped change's Done did not run before AddGraph returned")
	}
	select {
	case fs := <-stored:
		if len(fs) != 1 || fs[0].From != "ann" || fs[0].State != FriendPending {
			t.Fatalf("bob's edges when Done ran: %+v, want ann's request", fs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Done never ran for a written change")
	}
}

// TestWriteQueueLineDone: a line's Done runs once the line is in the
// store (an offline direct message in its recipient's inbox), given the
// line's id there, and at once, given 0, for a line AddLine drops.
func TestWriteQueueLineDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, Config{Dir: t.TempDir()})
	q := newQueue(t, QueueConfig{Writer: db, Capacity: 1, Linger: 50 * time.Millisecond})
	stored := make(chan []Line, 1)
	var storedID int64
	dropped := make(chan int64, 1)
	if !q.AddLine(Line{To: "bob", From: "ann", FromName: "ann", Text: "hi", At: time.Now(), Done: func(id int64) {
		ls, err := db.Inbox(ctx, "bob")
		if err != nil {
			t.Error(err)
		}
		storedID = id
		stored <- ls
	}}) {
		t.Fatal("dropped by an empty queue")
	}
	if q.AddLine(Line{To: "bob", From: "cy", Text: "me too", Done: func(id int64) { dropped <- id }}) {
		t.Fatal("taken past the queue's capacity")
	}
	select {
	case id := <-dropped:
		if id != 0 {
			t.Fatalf("a dropped line's Done was given id %d, want 0", id)
		}
	default:
		t.Fatal("a dropped line's Done did not run before AddLine returned")
	}
	select {
	case ls := <-stored:
		if len(ls) != 1 || ls[0].Text != "hi" || ls[0].ID != storedID {
			t.Fatalf("bob's inbox when Done ran (given id %d): %+v, want ann's message with that id", storedID, ls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Done never ran for a written line")
	}
}

// TestWriteQueueKeepsRoomForResultsWhenSmall: a queue of fewer than four
// items keeps one for results and graph changes too (a quarter of it
// rounded down was none).
func TestWriteQueueKeepsRoomForResultsWhenSmall(t *testing.T) {
	for _, capacity := range []int{2, 3, 7} {
		q, err := NewWriteQueue(QueueConfig{Writer: open(t, Config{Dir: t.TempDir()}), Capacity: capacity}) // not started: items stay queued
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for range capacity {
			if q.AddLine(Line{Channel: "general", From: "amy", Text: "hi"}) {
				lines++
			}
		}
		if want := capacity - max(capacity/4, 1); lines != want {
			t.Fatalf("capacity %d: %d lines taken, want %d", capacity, lines, want)
		}
		if !q.AddResult(gomokuResult("r", "amy", "bob", time.Now())) {
			t.Fatalf("capacity %d: a result was dropped behind %d lines", capacity, lines)
		}
	}
}

// hangingWriter stands for a database that does not answer: each write
// waits until its context ends. entered is told of each write.
type hangingWriter struct{ entered chan struct{} }

func (w hangingWriter) Write(ctx context.Context, b *Batch) error {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (hangingWriter) Ping(ctx context.Context) error { return errors.New("no answer") }

// A shutdown whose time runs out while the database does not answer
// ends the write in flight and drops what is queued then, within its
// deadline: the writer no longer went on for a whole WriteTimeout (its
// last try too), past the shutdown, to find the database closed under it
// and log each batch left as refused.
func TestWriteQueueShutdownEndsTheWriteInFlightAtItsDeadline(t *testing.T) {
	t.Parallel()
	w := hangingWriter{entered: make(chan struct{}, 1)}
	// Not newQueue: its cleanup's Shutdown would wait for the writer.
	q, err := NewWriteQueue(QueueConfig{Writer: w, WriteTimeout: time.Hour, RetryInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	q.AddResult(gomokuResult("r", "amy", "bob", time.Now()))
	<-w.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := q.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with the database silent and its time out: no error, want one naming the items lost")
	}
	waitFor(t, "the result in flight to be dropped once the shutdown gave up", func() bool {
		return q.Stats().ResultsDropped == 1
	})
}
