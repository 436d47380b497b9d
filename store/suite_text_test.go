package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// testNulLine queues, on one write queue, a chat line and a direct message
// whose text holds a NUL byte (valid UTF-8, which chat accepts, but which a
// PostgreSQL text column cannot hold) between a result and other lines:
// both backends write everything else, keep the lines alike, and the queue
// goes on writing.
func testNulLine(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	q, err := NewWriteQueue(QueueConfig{Writer: db, Linger: 50 * time.Millisecond, WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	defer q.Shutdown(ctx)
	at := time.UnixMilli(1_700_000_000_000)
	q.AddLine(Line{Channel: "general", From: "amy", Text: "before", At: at})
	q.AddLine(Line{Channel: "general", From: "eve", Text: "a\x00b", At: at})
	q.AddLine(Line{To: "bob", From: "eve", Text: "\x00", At: at})
	q.AddResult(gomokuResult("r1", "amy", "bob", at))
	q.AddLine(Line{Channel: "general", From: "amy", Text: "after", At: at})
	waitDrained(q)
	s := q.Stats()
	if s.Depth != 0 || s.LastError != nil || s.ResultsWritten != 1 || s.LinesWritten != 2 || s.LinesDropped != 2 {
		t.Fatalf("queue stats = %+v; want everything taken, 1 result and 2 lines written, the 2 NUL lines dropped, no error", s)
	}
	texts := channelTexts(t, db, "general")
	if !slices.Contains(texts, "before") || !slices.Contains(texts, "after") {
		t.Fatalf("general holds %q; want the lines around the NUL one", texts)
	}
	if st, err := db.Standing(ctx, "gomoku", "amy"); err != nil || st.Wins != 1 {
		t.Fatalf("amy's standing = %+v, %v; want the result written", st, err)
	}
	laterLineWritten(t, q, db, at)
}

// testNotUTF8 queues, on one write queue, a chat line, a direct message, a
// result and a friend request holding bytes that are not UTF-8 (which a
// PostgreSQL text column refuses) between other items: both backends
// refuse those alike, as one holding a NUL, write everything else, and the
// queue goes on writing.
func testNotUTF8(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	q, err := NewWriteQueue(QueueConfig{Writer: db, Linger: 50 * time.Millisecond, WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	defer q.Shutdown(ctx)
	at := time.UnixMilli(1_700_000_000_000)
	bad := gomokuResult("r2", "amy", "bob", at)
	bad.Players[1].Name = "b\xffb"
	q.AddLine(Line{Channel: "general", From: "amy", Text: "before", At: at})
	q.AddLine(Line{Channel: "general", From: "eve", Text: "a\xffb", At: at})
	q.AddLine(Line{To: "bob", From: "eve", Text: "\xc3", At: at})
	q.AddResult(gomokuResult("r1", "amy", "bob", at))
	q.AddResult(bad)
	q.AddGraph(GraphOp{Kind: GraphPutFriendship, Friendship: Friendship{From: "eve\xff", To: "amy", State: FriendPending, Since: at}})
	q.AddLine(Line{Channel: "general", From: "amy", Text: "after", At: at})
	waitDrained(q)
	s := q.Stats()
	if s.Depth != 0 || s.LastError != nil || s.ResultsWritten != 1 || s.ResultsDropped != 1 || s.LinesWritten != 2 || s.LinesDropped != 2 || s.GraphDropped != 1 {
		t.Fatalf("queue stats = %+v; want everything taken, 1 result and 2 lines written, the items that are not UTF-8 dropped, no error", s)
	}
	texts := channelTexts(t, db, "general")
	if !slices.Equal(texts, []string{"after", "before"}) && !slices.Equal(texts, []string{"before", "after"}) {
		t.Fatalf("general holds %q; want the lines around the one that is not UTF-8", texts)
	}
	if st, err := db.Standing(ctx, "gomoku", "amy"); err != nil || st.Wins != 1 {
		t.Fatalf("amy's standing = %+v, %v; want the one good result written", st, err)
	}
	for name, err := range map[string]error{
		"line not UTF-8":   db.AppendLines(ctx, []Line{{Channel: "c", From: "a", Text: "a\xff"}}),
		"result not UTF-8": db.WriteResults(ctx, []Result{bad}),
		"block not UTF-8":  db.Write(ctx, &Batch{Graph: []GraphOp{{Kind: GraphBlock, A: "a", B: "b\xff"}}}),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	laterLineWritten(t, q, db, at)
}

// testBytewiseTies reads rows tied but for their user ids ("Bob" and
// "amy", which a linguistic collation sorts the other way): a leaderboard's
// players with the same wins and score, a result's players in the same
// seat, the friend requests to a user, its friendships and its blocks
// made in the same millisecond. Each comes back in the order of the ids'
// bytes.
func testBytewiseTies(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	want := []string{"Bob", "amy"}
	if err := db.WriteResults(ctx, []Result{{Game: "arena", Room: "r1", Started: at, Ended: at,
		Players: []ResultPlayer{{UserID: "amy", Name: "amy", Score: 5}, {UserID: "Bob", Name: "Bob", Score: 5}}}}); err != nil {
		t.Fatal(err)
	}
	board, err := db.Leaderboard(ctx, "arena", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range board {
		ids = append(ids, s.UserID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("leaderboard of two tied players: %q, want %q", ids, want)
	}
	hist, err := db.History(ctx, "amy", 0, 10)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history = %+v, %v; want one result", hist, err)
	}
	ids = nil
	for _, p := range hist[0].Players {
		ids = append(ids, p.UserID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("players of a result in the same seat: %q, want %q", ids, want)
	}

	b := &Batch{}
	for _, from := range []string{"amy", "Bob"} {
		b.Graph = append(b.Graph, GraphOp{Kind: GraphPutFriendship, Friendship: Friendship{From: from, To: "cy", State: FriendPending, Since: at}},
			GraphOp{Kind: GraphBlock, A: "dee", B: from, At: at},
			GraphOp{Kind: GraphPutFriendship, Friendship: Friendship{From: "eve", To: from, State: FriendAccepted, Since: at}})
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	reqs, err := db.FriendRequestsTo(ctx, "cy", 10)
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, r := range reqs {
		ids = append(ids, r.From)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("friend requests to cy made in the same millisecond: %q, want %q", ids, want)
	}
	friends, err := db.Friendships(ctx, "eve")
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, f := range friends {
		ids = append(ids, f.To)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("eve's friendships made in the same millisecond: %q, want %q", ids, want)
	}
	if friends, err = db.OwnFriendships(ctx, "eve"); err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, f := range friends {
		ids = append(ids, f.To)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("eve's own friendships made in the same millisecond: %q, want %q", ids, want)
	}
	blocks, err := db.Blocks(ctx, "dee")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(blocks, want) {
		t.Errorf("dee's blocks made in the same millisecond: %q, want %q", blocks, want)
	}
}

// waitDrained waits, 10 s at most, until q holds nothing.
func waitDrained(q *WriteQueue) {
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().Depth > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// channelTexts returns the texts of channel's newest 10 lines in db.
func channelTexts(t *testing.T, db *DB, channel string) []string {
	t.Helper()
	lines, err := db.ChannelLines(context.Background(), channel, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Text)
	}
	return texts
}

// laterLineWritten queues one more line on q and checks that db has it:
// the queue goes on writing.
func laterLineWritten(t *testing.T, q *WriteQueue, db *DB, at time.Time) {
	t.Helper()
	q.AddLine(Line{Channel: "general", From: "amy", Text: "later", At: at})
	waitDrained(q)
	if lines, err := db.ChannelLines(context.Background(), "general", 0, 1); err != nil || len(lines) != 1 || lines[0].Text != "later" {
		t.Fatalf("newest line = %+v, %v; want \"later\"", lines, err)
	}
}
