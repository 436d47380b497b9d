package tickroom

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// TestMergeWaiting: the lines waiting in the write queue join the store's
// lines once each, in time order, the newest n kept; a waiting line the
// store already holds (written between the two reads) is not repeated.
func TestMergeWaiting(t *testing.T) {
	line := func(from, text string, at int64) *tickroomv1.Chat {
		return &tickroomv1.Chat{Channel: "lobby", FromUserId: from, Text: text, SentAtMs: at}
	}
	for _, tc := range []struct {
		name          string
		kept, waiting []*tickroomv1.Chat
		n             int
		want          []string
	}{
		{"none waiting", []*tickroomv1.Chat{line("a", "1", 1)}, nil, 10, []string{"1"}},
		{"waiting after kept", []*tickroomv1.Chat{line("a", "1", 1)}, []*tickroomv1.Chat{line("a", "2", 2), line("b", "3", 3)}, 10, []string{"1", "2", "3"}},
		{"written meanwhile", []*tickroomv1.Chat{line("a", "1", 1), line("a", "2", 2)}, []*tickroomv1.Chat{line("a", "2", 2), line("b", "3", 3)}, 10, []string{"1", "2", "3"}},
		{"the same line twice, one written", []*tickroomv1.Chat{line("a", "hi", 5)}, []*tickroomv1.Chat{line("a", "hi", 5), line("a", "hi", 5)}, 10, []string{"hi", "hi"}},
		{"in time order", []*tickroomv1.Chat{line("a", "1", 1), line("a", "4", 4)}, []*tickroomv1.Chat{line("b", "3", 3)}, 10, []string{"1", "3", "4"}},
		{"the newest n", []*tickroomv1.Chat{line("a", "1", 1), line("a", "2", 2)}, []*tickroomv1.Chat{line("b", "3", 3), line("b", "4", 4)}, 3, []string{"2", "3", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waiting := slices.Clone(tc.waiting)
			var got []string
			for _, l := range mergeWaiting(tc.kept, tc.waiting, tc.n) {
				got = append(got, l.Text)
				if slices.Contains(waiting, l) {
					t.Errorf("line %q is the queue's own, not a copy", l.Text)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("merged %q, want %q", got, tc.want)
			}
		})
	}
}

// gatedWriter writes a batch once given a token.
type gatedWriter struct {
	*store.DB
	gate chan struct{}
}

func (g gatedWriter) Write(ctx context.Context, b *store.Batch) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.DB.Write(ctx, b)
}

// lobbyStore opens a store in a temporary directory holding texts as the
// lobby's lines of ann, a second apart from an hour ago (at, returned).
func lobbyStore(t *testing.T, texts ...string) (db *store.DB, at time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at = time.Now().Add(-time.Hour)
	for i, text := range texts {
		if err := db.AppendLines(ctx, []store.Line{{Channel: "lobby", From: "ann", FromName: "ann", Text: text, At: at.Add(time.Duration(i) * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
	return db, at
}

// lobbyLine is ann's line text in the lobby, sent i seconds after at.
func lobbyLine(at time.Time, text string, i int) *tickroomv1.Chat {
	return &tickroomv1.Chat{Channel: "lobby", FromUserId: "ann", FromName: "ann", Text: text, SentAtMs: at.Add(time.Duration(i) * time.Second).UnixMilli()}
}

// startQueue starts a write queue of a line a batch onto w, shut down at
// the test's end.
func startQueue(t *testing.T, w store.BatchWriter) *store.WriteQueue {
	t.Helper()
	q, err := store.NewWriteQueue(store.QueueConfig{Writer: w, MaxBatch: 1, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	t.Cleanup(func() { q.Shutdown(context.Background()) })
	return q
}

// waitWaiting waits until n of c's lobby lines wait in its write queue.
func waitWaiting(t *testing.T, c *storeChannels, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		got := len(c.pending["lobby"])
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines waiting, want %d", got, n)
		}
	}
}

// TestChannelLinesPagesThroughWaitingLines: paging back through a channel
// whose newest lines wait in the write queue, as the hub pages
// (GetChannelHistory), gives every line once, in order, whatever the page
// size and however many of the waiting lines are written between pages.
func TestChannelLinesPagesThroughWaitingLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	all := []string{"s1", "s2", "s3", "w1", "w2", "w3", "w4", "w5"}
	for _, limit := range []int{1, 2, 3, 5, 9} {
		// written[k]: how many more waiting lines are written before page k.
		for _, written := range [][]int{{0}, {5}, {0, 1}, {0, 2, 3}, {1, 1, 1, 1, 1}, {0, 0, 4, 1}} {
			t.Run(fmt.Sprintf("limit %d written %v", limit, written), func(t *testing.T) {
				t.Parallel()
				db, at := lobbyStore(t, all[:3]...)
				gate := make(chan struct{}, 8)
				q := startQueue(t, gatedWriter{db, gate})
				t.Cleanup(func() { close(gate) })
				c := newStoreChannels(db, q)
				for i, text := range all[3:] {
					c.Keep(lobbyLine(at, text, 10+i))
				}
				waiting := 5
				var got []string
				var before int64
				for page := 0; page == 0 || before != 0; page++ {
					if page < len(written) && written[page] > 0 {
						for range written[page] {
							gate <- struct{}{}
						}
						waiting -= written[page]
						waitWaiting(t, c, waiting)
					}
					// As the hub pages: one more line tells whether another
					// page follows.
					ls, err := c.ChannelLines(ctx, "lobby", before, limit+1)
					if err != nil {
						t.Fatal(err)
					}
					before = 0
					if len(ls) > limit {
						ls = ls[:limit]
						before = ls[limit-1].ID
					}
					for i, l := range ls {
						if i > 0 && l.ID >= ls[i-1].ID {
							t.Fatalf("page %d: ids %d then %d, want newest first", page, ls[i-1].ID, l.ID)
						}
						got = append(got, l.Text)
					}
					if page > len(all) {
						t.Fatalf("still paging after %d pages: %q", page, got)
					}
				}
				slices.Reverse(got)
				if !slices.Equal(got, all) {
					t.Fatalf("the pages together: %q, want %q", got, all)
				}
			})
		}
	}
}

// TestChannelLinesCursorOfAnotherNode: a cursor a node gave for a line
// still waiting in its write queue, brought to another node (the client's
// connection moved, or the node restarted), reads there as the newest page:
// it may repeat lines, never skip them.
func TestChannelLinesCursorOfAnotherNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, at := lobbyStore(t, "s1", "s2", "s3")
	line := func(text string, i int) *tickroomv1.Chat { return lobbyLine(at, text, i) }
	node := func(w store.BatchWriter) *storeChannels { return newStoreChannels(db, startQueue(t, w)) }
	// Node a's lines wait (its writer never writes); node b writes its own.
	// The gate opens at the test's end before the queues shut down (the
	// cleanups run last first), or node a's would wait on it.
	gate := make(chan struct{})
	a, b := node(gatedWriter{db, gate}), node(db)
	t.Cleanup(func() { close(gate) })
	if b.epoch == a.epoch { // one run in 65,536
		b.epoch = (a.epoch + 1) % epochs
	}
	a.Keep(line("a1", 10))
	a.Keep(line("a2", 11))
	for i, text := range []string{"b1", "b2", "b3"} {
		b.Keep(line(text, 20+i))
	}
	waitWaiting(t, b, 0)
	ls, err := a.ChannelLines(ctx, "lobby", 0, 2)
	if err != nil || len(ls) != 2 || ls[0].Text != "a2" {
		t.Fatalf("node a's newest page: %v (%v), want a2 first", ls, err)
	}
	cursor := ls[0].ID // as a page of one line would lead on
	ls, err = b.ChannelLines(ctx, "lobby", cursor, 10)
	var got []string
	for _, l := range ls {
		got = append(got, l.Text)
	}
	if want := []string{"b3", "b2", "b1", "s3", "s2", "s1"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("node b, before node a's cursor %d: %q (%v), want the newest page %q", cursor, got, err, want)
	}
}

// TestChannelLinesLinePostedDuringTheRead: a line posted and written while
// a page is being read, after the waiting lines were taken and before the
// store answers, is newer than the page's cursor and is not in the page.
func TestChannelLinesLinePostedDuringTheRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, at := lobbyStore(t, "s1", "s2", "s3")
	line := func(text string, i int) *tickroomv1.Chat { return lobbyLine(at, text, i) }
	gate := make(chan struct{}, 8)
	q := startQueue(t, gatedWriter{db, gate})
	t.Cleanup(func() { close(gate) })
	c := newStoreChannels(db, q)
	c.Keep(line("w1", 10))
	c.Keep(line("w2", 11))
	ls, err := c.ChannelLines(ctx, "lobby", 0, 2)
	if err != nil || len(ls) != 2 || ls[0].Text != "w2" {
		t.Fatalf("the newest page: %v (%v), want w2 first", ls, err)
	}
	cursor := ls[0].ID // as a page of one line would lead on
	c.beforeRead = func() {
		// NEW is posted, and it and the waiting lines are written.
		c.Keep(line("NEW", 12))
		for range 3 {
			gate <- struct{}{}
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			c.mu.Lock()
			n := len(c.pending["lobby"])
			c.mu.Unlock()
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d lines still waiting", n)
				return
			}
		}
	}
	ls, err = c.ChannelLines(ctx, "lobby", cursor, 3)
	var got []string
	for _, l := range ls {
		got = append(got, l.Text)
	}
	if want := []string{"w1", "s3", "s2"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("the page before w2: %q (%v), want %q", got, err, want)
	}
}

// TestWrittenLinesKeepsTheLastWrittenKept: the table of written lines
// remembers the last writtenKept lines written, no fewer, so a cursor of a
// line written that recently leads to the stored lines before it exactly.
func TestWrittenLinesKeepsTheLastWrittenKept(t *testing.T) {
	var w writtenLines
	for n := uint64(1); n <= writtenKept+1; n++ {
		w.add(n, int64(100+n))
		if n > 2 {
			// The oldest remembered line, numbered n-writtenKept+1 or 2.
			oldest := max(2, int64(n)-writtenKept+1)
			if got := w.idFrom(uint64(oldest)); got != 100+oldest {
				t.Fatalf("%d lines written: the first written from line %d is id %d, want %d", n, oldest, got, 100+oldest)
			}
		}
	}
	if got := w.idFrom(1); got != 102 {
		t.Fatalf("line 1 forgotten: id %d, want the oldest remembered, 102", got)
	}
	if got := w.idFrom(writtenKept + 1); got != 100+writtenKept+1 {
		t.Fatalf("the last line: id %d, want %d", got, 100+writtenKept+1)
	}
	if got := w.idFrom(writtenKept + 2); got != 0 {
		t.Fatalf("a line not written: id %d, want 0", got)
	}
}

// TestChannelLinesPageCopiesAPageOfWaitingLines: a page of lines that all
// wait copies the page's lines, not every waiting line below its cursor.
func TestChannelLinesPageCopiesAPageOfWaitingLines(t *testing.T) {
	ctx := context.Background()
	db, _ := lobbyStore(t)
	gate := make(chan struct{})
	q := startQueue(t, gatedWriter{db, gate})
	t.Cleanup(func() { close(gate) })
	// The lines still waiting at the test's end are given up rather than
	// written, a line a write (2,000 writes took 9 s).
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = q.Shutdown(ctx)
	})
	c := newStoreChannels(db, q)
	const waiting = 2000
	for i := range waiting {
		c.Keep(&tickroomv1.Chat{Channel: "lobby", FromUserId: "ann", FromName: "ann", Text: fmt.Sprint(i), SentAtMs: int64(1000 + i)})
	}
	cursor := int64(c.pendingID(waiting - 10))
	allocs := testing.AllocsPerRun(20, func() {
		ls, err := c.ChannelLines(ctx, "lobby", cursor, 3)
		if err != nil || len(ls) != 3 || ls[0].ID != cursor-1 {
			t.Fatalf("the page before line %d: %v (%v)", waiting-10, ls, err)
		}
	})
	if allocs > 20 {
		t.Fatalf("a page of 3 of %d waiting lines: %.0f allocations, want a few", waiting, allocs)
	}
}
