package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// testQueueRetryOfACommittedBatchStoresItsChatOnce: the WriteQueue retries
// whole a batch whose commit succeeded but reported an error; its channel
// lines are once in the channel's history, its direct message once in
// the recipient's inbox, and its result, keyless, once in its players'
// history.
func testQueueRetryOfACommittedBatchStoresItsChatOnce(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	w := &commitThenFail{DB: db}
	q, err := NewWriteQueue(QueueConfig{Writer: w, RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Shutdown(context.Background()) })
	at := time.UnixMilli(1_700_000_000_000)
	// Queued before the queue starts, so that they are one batch.
	for _, l := range []Line{
		{Channel: "lobby", From: "amy", FromName: "amy", Text: "hello", At: at},
		{Channel: "lobby", From: "bob", FromName: "bob", Text: "hi amy", At: at.Add(time.Second)},
		{To: "cat", From: "amy", FromName: "amy", Text: "are you there?", At: at.Add(2 * time.Second)},
	} {
		if !q.AddLine(l) {
			t.Fatalf("line %q dropped", l.Text)
		}
	}
	if !q.AddResult(gomokuResult("room-1", "amy", "bob", at)) { // no Key
		t.Fatal("the result was dropped")
	}
	q.Start()
	waitFor(t, "the retried batch written", func() bool { return q.Stats().Batches == 1 })
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); !w.failed.Load() || s.Errors != 1 || s.Batches != 1 || s.LinesWritten != 3 {
		t.Fatalf("queue stats = %+v; want one failed write, then one written batch of 3 lines", s)
	}
	lines, err := db.ChannelLines(ctx, "lobby", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Text)
	}
	if want := []string{"hi amy", "hello"}; !slices.Equal(texts, want) {
		t.Errorf("the channel's history: %q, want %q", texts, want)
	}
	inbox, err := db.Inbox(ctx, "cat")
	if err != nil {
		t.Fatal(err)
	}
	texts = nil
	for _, l := range inbox {
		texts = append(texts, l.Text)
	}
	if want := []string{"are you there?"}; !slices.Equal(texts, want) {
		t.Errorf("cat's inbox: %q, want %q", texts, want)
	}
	if h, err := db.History(ctx, "amy", 0, 10); err != nil || len(h) != 1 {
		t.Errorf("amy's history = %d results, %v; want the keyless match once", len(h), err)
	}
}

// testAMarkedBatchWrittenAgainWritesNothing: a queue's batch written again
// (the retry, its IDs filled in by the write that committed) writes
// nothing and keeps its IDs; the same number from another queue, and the
// next batch of the same queue, are written.
func testAMarkedBatchWrittenAgainWritesNothing(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	batch := func(writer string, seq int64, text string) *Batch {
		return &Batch{
			Lines: []Line{
				{Channel: "lobby", From: "amy", FromName: "amy", Text: text, At: at},
				{To: "cat", From: "amy", FromName: "amy", Text: text, At: at},
			},
			Graph:  []GraphOp{{Kind: GraphBlock, A: "amy", B: "dan", At: at}},
			writer: writer, seq: seq,
		}
	}
	texts := func() (channel, inbox []string) {
		t.Helper()
		lines, err := db.ChannelLines(ctx, "lobby", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			channel = append(channel, l.Text)
		}
		kept, err := db.Inbox(ctx, "cat")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range kept {
			inbox = append(inbox, l.Text)
		}
		return channel, inbox
	}
	b := batch("q1", 1, "one")
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	ids := []int64{b.Lines[0].ID, b.Lines[1].ID}
	// dan unblocked by another node in between: the retry does not undo it.
	if err := db.Write(ctx, &Batch{Graph: []GraphOp{{Kind: GraphUnblock, A: "amy", B: "dan"}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Write(ctx, b); err != nil {
			t.Fatalf("the batch written again: %v", err)
		}
	}
	if got := []int64{b.Lines[0].ID, b.Lines[1].ID}; !slices.Equal(got, ids) {
		t.Fatalf("IDs after the batch was written again: %v, want %v", got, ids)
	}
	channel, inbox := texts()
	if !slices.Equal(channel, []string{"one"}) || !slices.Equal(inbox, []string{"one"}) {
		t.Fatalf("after the batch written again: channel %q, inbox %q; want each line once", channel, inbox)
	}
	if blocks, err := db.Blocks(ctx, "amy"); err != nil || len(blocks) != 0 {
		t.Fatalf("amy's blocks = %v, %v; want none: the retry undid a later unblock", blocks, err)
	}
	// Another queue's first batch, and the first queue's next one.
	for _, b := range []*Batch{batch("q2", 1, "two"), batch("q1", 2, "three"), batch("q1", 2, "three")} {
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	channel, inbox = texts()
	if want := []string{"three", "two", "one"}; !slices.Equal(channel, want) {
		t.Fatalf("channel %q, want %q", channel, want)
	}
	if want := []string{"one", "two", "three"}; !slices.Equal(inbox, want) {
		t.Fatalf("inbox %q, want %q", inbox, want)
	}
	// An unmarked batch (AppendLines) is written each time.
	lines := []Line{{Channel: "lobby", From: "bob", FromName: "bob", Text: "four", At: at}}
	for range 2 {
		if err := db.AppendLines(ctx, lines); err != nil {
			t.Fatal(err)
		}
	}
	if channel, _ = texts(); len(channel) != 5 {
		t.Fatalf("channel %q, want the unmarked line twice", channel)
	}
}

// testBatchMarksExpire: the first batch of a queue deletes up to
// markBacklog marks of queues that wrote nothing for markTTL, oldest
// first, and no other.
func testBatchMarksExpire(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	now := time.UnixMilli(1_700_000_000_000)
	cfg.now = func() time.Time { return now }
	db := open(t, cfg)
	write := func(writer string, seq int64) {
		t.Helper()
		b := Batch{Lines: []Line{{To: "cat", From: "amy", Text: "x", At: now}}, writer: writer, seq: seq}
		if err := db.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	marks := func() []string {
		t.Helper()
		rows, err := db.w.QueryContext(ctx, `SELECT writer FROM batch_marks ORDER BY writer`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var w string
			if err := rows.Scan(&w); err != nil {
				t.Fatal(err)
			}
			out = append(out, w)
		}
		return out
	}
	for i := range markBacklog + 2 {
		write(fmt.Sprintf("old-%02d", i), 1)
		now = now.Add(time.Millisecond)
	}
	write("old-00", 2) // old-00 wrote again since
	now = now.Add(markTTL)
	write("busy", 5) // not a first batch: deletes nothing
	if got := len(marks()); got != markBacklog+3 {
		t.Fatalf("%d marks, want %d", got, markBacklog+3)
	}
	write("new", 1)
	// old-01 … old-16 expired and went; old-17 expired too, past the bound.
	want := []string{"busy", "new", "old-00", "old-17"}
	if got := marks(); !slices.Equal(got, want) {
		t.Fatalf("marks %q, want %q", got, want)
	}
}
