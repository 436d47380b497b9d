package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

func gomokuResult(room, winner, loser string, at time.Time) Result {
	return Result{Game: "gomoku", Room: room, Outcome: "five in a row", Started: at.Add(-time.Minute), Ended: at,
		Players: []ResultPlayer{{UserID: winner, Name: winner, Seat: 0, Outcome: OutcomeWin, Score: 1}, {UserID: loser, Name: loser, Seat: 1, Outcome: OutcomeLoss}}}
}

func testResults(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	rs := []Result{
		gomokuResult("r1", "amy", "bob", at),
		gomokuResult("r2", "amy", "cat", at.Add(time.Minute)),
		gomokuResult("r3", "bob", "amy", at.Add(2*time.Minute)),
		{Game: "arena", Room: "r4", Ended: at, Players: []ResultPlayer{{UserID: "amy", Score: 40}, {UserID: "bob", Score: 70}}},
	}
	if err := db.WriteResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].ID <= rs[i-1].ID {
			t.Fatalf("result IDs not increasing: %d then %d", rs[i-1].ID, rs[i].ID)
		}
	}
	// amy's history, two at a time, newest first.
	page1, err := db.History(ctx, "amy", 0, 2)
	if err != nil || len(page1) != 2 || page1[0].Room != "r4" || page1[1].Room != "r3" {
		t.Fatalf("history page 1 = %+v, %v", page1, err)
	}
	page2, err := db.History(ctx, "amy", page1[1].ID, 2)
	if err != nil || len(page2) != 2 || page2[0].Room != "r2" || page2[1].Room != "r1" {
		t.Fatalf("history page 2 = %+v, %v", page2, err)
	}
	r1 := page2[1]
	if r1.Game != "gomoku" || r1.Outcome != "five in a row" || !r1.Ended.Equal(at) || len(r1.Players) != 2 ||
		r1.Players[0] != (ResultPlayer{UserID: "amy", Name: "amy", Seat: 0, Outcome: OutcomeWin, Score: 1}) {
		t.Fatalf("r1 = %+v", r1)
	}
	if p3, _ := db.History(ctx, "amy", page2[1].ID, 2); len(p3) != 0 {
		t.Fatalf("history past the oldest = %+v", p3)
	}
	board, err := db.Leaderboard(ctx, "gomoku", 10)
	if err != nil || len(board) != 3 {
		t.Fatalf("leaderboard = %+v, %v", board, err)
	}
	want := []Standing{
		{UserID: "amy", Name: "amy", Rank: 1, Wins: 2, Losses: 1, Played: 3, Score: 2},
		{UserID: "bob", Name: "bob", Rank: 2, Wins: 1, Losses: 1, Played: 2, Score: 1},
		{UserID: "cat", Name: "cat", Rank: 3, Losses: 1, Played: 1},
	}
	if !slices.Equal(board, want) {
		t.Fatalf("leaderboard = %+v\nwant %+v", board, want)
	}
	if top, _ := db.Leaderboard(ctx, "gomoku", 1); len(top) != 1 || top[0].UserID != "amy" {
		t.Fatalf("top 1 = %+v", top)
	}
	if s, err := db.Standing(ctx, "gomoku", "cat"); err != nil || s != want[2] {
		t.Fatalf("cat's standing = %+v, %v", s, err)
	}
	if s, err := db.Standing(ctx, "arena", "bob"); err != nil || s.Rank != 1 || s.Score != 70 {
		t.Fatalf("bob's arena standing = %+v, %v", s, err)
	}
	if _, err := db.Standing(ctx, "gomoku", "dan"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("standing of a player with no result: %v, want ErrNotFound", err)
	}
}

// testResultKeep: with ResultKeep 3 a result goes once every one of its
// players has 3 newer ones, so each player keeps its newest 3, a result
// another player still needs stays, and the standings still count all.
func testResultKeep(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ResultKeep, cfg.trimEvery = 3, 1
	db := open(t, cfg)
	for _, id := range []string{"amy", "bob", "cat", "dee", "eve", "fay", "hal", "ivy", "jon"} {
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte("dev-" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.UnixMilli(1_700_000_000_000)
	rooms := func(user string) []string {
		t.Helper()
		rs, err := db.History(ctx, user, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Room)
		}
		return out
	}
	for i := range 5 { // r0..r4, amy and bob
		if err := db.WriteResults(ctx, []Result{gomokuResult(fmt.Sprint("r", i), "amy", "bob", at.Add(time.Duration(i)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := rooms("amy"), []string{"r4", "r3", "r2"}; !slices.Equal(got, want) {
		t.Fatalf("amy's history after 5 games with bob: %v, want %v", got, want)
	}
	// r5 with cat: r2 is past amy's newest 3, but bob still has it among his.
	if err := db.WriteResults(ctx, []Result{gomokuResult("r5", "amy", "cat", at.Add(5*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if got, want := rooms("bob"), []string{"r4", "r3", "r2"}; !slices.Equal(got, want) {
		t.Fatalf("bob's history: %v, want %v", got, want)
	}
	// r6, bob with dee: now neither needs r2.
	if err := db.WriteResults(ctx, []Result{gomokuResult("r6", "bob", "dee", at.Add(6*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if got, want := rooms("amy"), []string{"r5", "r4", "r3"}; !slices.Equal(got, want) {
		t.Fatalf("amy's history: %v, want %v", got, want)
	}
	if got, want := rooms("bob"), []string{"r6", "r4", "r3"}; !slices.Equal(got, want) {
		t.Fatalf("bob's history: %v, want %v", got, want)
	}
	// One batch of many results for one pair keeps the newest 3 too.
	var batch []Result
	for i := range 6 {
		batch = append(batch, gomokuResult(fmt.Sprint("b", i), "eve", "fay", at.Add(time.Duration(10+i)*time.Minute)))
	}
	if err := db.WriteResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, want := rooms("fay"), []string{"b5", "b4", "b3"}; !slices.Equal(got, want) {
		t.Fatalf("fay's history after a batch of 6: %v, want %v", got, want)
	}
	// A player with fewer than 3 results in all still needs each of them:
	// h0 stays for ivy, although it is past hal's newest 3; h1 goes.
	for i, pair := range [][2]string{{"hal", "ivy"}, {"hal", "jon"}, {"hal", "jon"}, {"hal", "jon"}, {"hal", "jon"}} {
		if err := db.WriteResults(ctx, []Result{gomokuResult(fmt.Sprint("h", i), pair[0], pair[1], at.Add(time.Duration(20+i)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := rooms("hal"), []string{"h4", "h3", "h2", "h0"}; !slices.Equal(got, want) {
		t.Fatalf("hal's history: %v, want %v (h0 kept for ivy, who has only it)", got, want)
	}
	if got, want := rooms("ivy"), []string{"h0"}; !slices.Equal(got, want) {
		t.Fatalf("ivy's history: %v, want %v", got, want)
	}
	st, err := db.Leaderboard(ctx, "gomoku", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.UserID == "amy" && s.Played != 6 {
			t.Fatalf("amy's standing counts %d games, want 6 (the ones gone too)", s.Played)
		}
	}
}

// testResultKeepAmortized: with the default of trimming a player on one
// result in eight, a pair that plays on keeps at most about ResultKeep +
// 8 results each, and never fewer than ResultKeep.
func testResultKeepAmortized(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ResultKeep = 5
	db := open(t, cfg)
	at := time.UnixMilli(1_700_000_000_000)
	for i := range 100 {
		if err := db.WriteResults(ctx, []Result{gomokuResult(fmt.Sprint("r", i), "amy", "bob", at.Add(time.Duration(i)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
		rs, err := db.History(ctx, "amy", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rs); n < min(i+1, 5) || n > 5+8 {
			t.Fatalf("after %d results amy's history holds %d, want %d to %d", i+1, n, min(i+1, 5), 5+8)
		}
	}
}

// testResultKeepInTurns: two tables whose matches end in turn (two
// pairs of guests playing gomoku side by side) have their results
// written alternately, so each table's results take every other id. A
// player was looked at for ResultKeep only with a result whose id is a
// multiple of eight: one table's players never got one, and kept every
// result they played. Each player is looked at with every eighth result
// of its own.
func testResultKeepInTurns(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ResultKeep = 5
	db := open(t, cfg)
	at := time.UnixMilli(1_700_000_000_000)
	for i := range 60 {
		for _, pair := range [][2]string{{"amy", "bob"}, {"cat", "dan"}} {
			if err := db.WriteResults(ctx, []Result{gomokuResult(fmt.Sprint(pair[0], i), pair[0], pair[1], at.Add(time.Duration(i)*time.Minute))}); err != nil {
				t.Fatal(err)
			}
		}
		for _, who := range []string{"amy", "cat"} {
			rs, err := db.History(ctx, who, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(rs); n < min(i+1, 5) || n > 5+8 {
				t.Fatalf("after %d results of each table %s's history holds %d, want %d to %d", i+1, who, n, min(i+1, 5), 5+8)
			}
		}
	}
}

// testResultKeepInBigBatches: the queue writes up to 64 results at once,
// so a player may pass several eighths of its own results in one write.
// A write looked at such a player once and deleted at most 16 of its
// results, so one with more than 16 results in every write (with those
// its opponents' looks delete) grew without bound. amy plays bob, cat
// and dan in turn, 64 results a write: all of them hers.
func testResultKeepInBigBatches(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ResultKeep = 5
	db := open(t, cfg)
	at := time.UnixMilli(1_700_000_000_000)
	n := 0
	for w := range 10 {
		rs := make([]Result, 0, 64)
		for range 64 {
			rs = append(rs, gomokuResult(fmt.Sprint("r", n), "amy", []string{"bob", "cat", "dan"}[n%3], at.Add(time.Duration(n)*time.Minute)))
			n++
		}
		if err := db.WriteResults(ctx, rs); err != nil {
			t.Fatal(err)
		}
		h, err := db.History(ctx, "amy", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(h); got < 5 || got > 5+8 {
			t.Fatalf("after write %d of 64 results amy's history holds %d, want 5 to %d", w+1, got, 5+8)
		}
	}
}

// testRankCounted: a player's rank is exact within the first RankCounted
// ranks, ties sharing one; past them it reads RankCounted+1 with
// RankBeyond, and the players past it cost the count nothing. Counting
// every player ahead took ~100 ms of the database at 200,000 players, as
// often as a client asked for its leaderboard.
func testRankCounted(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	fillStandings(t, db, "arena", RankCounted+500)
	// The fill's first player has no win and no score: the last rank,
	// with more than RankCounted players ahead.
	last, err := db.Standing(ctx, "arena", "p0000000")
	if err != nil || last.Rank != RankCounted+1 || !last.RankBeyond {
		t.Fatalf("the last player's standing %+v, %v; want rank %d, beyond", last, err, RankCounted+1)
	}
	// Exact ranks within the bound, as the leaderboard lists them.
	top, err := db.Leaderboard(ctx, "arena", 100)
	if err != nil || len(top) != 100 {
		t.Fatal(len(top), err)
	}
	for _, want := range top {
		got, err := db.Standing(ctx, "arena", want.UserID)
		if err != nil || got.Rank != want.Rank || got.RankBeyond {
			t.Fatalf("%s: standing %+v, %v; the leaderboard ranks it %d", want.UserID, got, err, want.Rank)
		}
	}
	if top[0].UserID != "p0000001" || top[0].Rank != 1 {
		t.Fatalf("leader %+v", top[0])
	}
	// A tie group straddling nothing: the rank of a player with a win
	// and the most common score is the count of those strictly ahead.
	var ahead int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM standings WHERE game = 'arena' AND (wins > 1 OR (wins = 1 AND score > 2))`).Scan(&ahead); err != nil {
		t.Fatal(err)
	}
	var who string
	if err := db.r.QueryRowContext(ctx, `SELECT user_id FROM standings WHERE game = 'arena' AND wins = 1 AND score = 2 LIMIT 1`).Scan(&who); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Standing(ctx, "arena", who); err != nil || (ahead < RankCounted && (got.Rank != ahead+1 || got.RankBeyond)) || (ahead >= RankCounted && !got.RankBeyond) {
		t.Fatalf("%s with %d ahead: %+v, %v", who, ahead, got, err)
	}
}

// testResultsOfDeletedGuestsAreTrimmed: a claimed account that played
// each of its games with a new guest keeps its newest ResultKeep once
// those guests are deleted (not seen for GuestTTL): a deleted player no
// longer holds a result, though its name stays in the others' history.
func testResultsOfDeletedGuestsAreTrimmed(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ResultKeep, cfg.trimEvery, cfg.GuestTTL = 3, 1, 24*time.Hour
	now, advance := manualClock(&cfg)
	db := open(t, cfg)
	guest := func(id string) {
		t.Helper()
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte("dev-" + id)}); err != nil {
			t.Fatal(err)
		}
		advance(time.Millisecond)
	}
	play := func(room, a, b string) {
		t.Helper()
		if err := db.WriteResults(ctx, []Result{gomokuResult(room, a, b, now())}); err != nil {
			t.Fatal(err)
		}
	}
	history := func(user string) int {
		t.Helper()
		rs, err := db.History(ctx, user, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	guest("amy")
	if err := db.ClaimName(ctx, "amy", "Amy", "hash"); err != nil {
		t.Fatal(err)
	}
	guest("bob")
	if err := db.ClaimName(ctx, "bob", "Bob", "hash"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		g := fmt.Sprint("g", i)
		guest(g)
		play(fmt.Sprint("r", i), "amy", g)
	}
	// Each guest has only its game: all ten are still someone's newest.
	if n := history("amy"); n != 10 {
		t.Fatalf("amy's history with ten live guests: %d, want 10", n)
	}
	advance(25 * time.Hour)
	for i := range 3 { // each deletes up to 4 guests not seen for a day
		guest(fmt.Sprint("new", i))
	}
	if _, err := db.UserByID(ctx, "g9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("g9 after GuestTTL: %v, want it deleted", err)
	}
	// amy plays on with bob: the games with the deleted guests go.
	for i := range 10 {
		play(fmt.Sprint("b", i), "amy", "bob")
	}
	if n := history("amy"); n != 3 {
		t.Fatalf("amy's history after 10 more games: %d results, want her newest 3 (the games with deleted guests held by no one)", n)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM results`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d results stored, want 3", n)
	}
}

// testScoresAreBounded: a result whose score is past ±MaxScore is refused
// as invalid, and a queue drops it on its own; scores at the bound add up
// in the standings. Unbounded, two scores of a game that reported one near
// 2^63 wrapped the standing below zero in one batch, and across batches
// PostgreSQL refused the sum ("bigint out of range") and the queue tried
// that batch again for ever, every line and change behind it unwritten,
// while SQLite stored it as a REAL its reads then failed on.
func testScoresAreBounded(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	scored := func(room string, score int64) Result {
		return Result{Game: "g", Room: room, Ended: at, Players: []ResultPlayer{{UserID: "amy", Name: "amy", Outcome: OutcomeWin, Score: score}}}
	}
	for _, s := range []int64{MaxScore + 1, -MaxScore - 1, math.MaxInt64, math.MinInt64} {
		if err := db.WriteResults(ctx, []Result{scored("over", s)}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a result scored %d: %v, want ErrInvalid", s, err)
		}
	}
	if err := db.WriteResults(ctx, []Result{scored("r1", MaxScore), scored("r2", MaxScore)}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteResults(ctx, []Result{scored("r3", MaxScore)}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.Standing(ctx, "g", "amy"); err != nil || st.Score != 3*MaxScore || st.Played != 3 {
		t.Fatalf("amy's standing after three results at the bound = %+v, %v; want score %d", st, err, 3*MaxScore)
	}
	if board, err := db.Leaderboard(ctx, "g", 10); err != nil || len(board) != 1 {
		t.Fatalf("leaderboard = %+v, %v", board, err)
	}
	q := newQueue(t, QueueConfig{Writer: db})
	if q.AddResult(scored("over", math.MaxInt64)) {
		t.Fatal("the queue took a result scored past the bound")
	}
	if !q.AddLine(Line{Channel: "general", From: "amy", Text: "after", At: at}) {
		t.Fatal("a line was dropped")
	}
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.LinesWritten != 1 || s.ResultsDropped != 1 {
		t.Fatalf("queue stats = %+v; want the line written and the result dropped", s)
	}
}

// testResultWrittenTwice: a WriteQueue writes a batch again, whole, when
// its write reported an error, and a write whose commit reached the
// database can still report one (the connection lost during the commit, a
// timeout once the server had it). A result has no unique column of its
// own, so the match was recorded twice: twice in its players' history, and
// added twice to their standings. A result with a Key is recorded once
// however often it is written, in one batch or across batches, and gets
// the recorded one's ID; one without a Key is recorded by each write.
func testResultWrittenTwice(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	keyed := func(room, winner, loser string, at time.Time) Result {
		r := gomokuResult(room, winner, loser, at)
		r.Key = room
		return r
	}
	standing := func(user string, want Standing) {
		t.Helper()
		s, err := db.Standing(ctx, "gomoku", user)
		s.Rank, s.RankBeyond = 0, false
		if err != nil || s != want {
			t.Fatalf("%s's standing = %+v, %v; want %+v", user, s, err, want)
		}
	}
	history := func(user string, want ...string) []Result {
		t.Helper()
		rs, err := db.History(ctx, user, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Room)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s's history: %v, want %v", user, got, want)
		}
		return rs
	}

	b := Batch{Results: []Result{keyed("room-1", "amy", "bob", at)}}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	first := b.Results[0].ID
	// The queue's retry: the same batch, its IDs filled in by the write
	// that committed.
	if err := db.Write(ctx, &b); err != nil {
		t.Fatalf("the same batch written again: %v", err)
	}
	h := history("amy", "room-1")
	history("bob", "room-1")
	standing("amy", Standing{UserID: "amy", Name: "amy", Wins: 1, Played: 1, Score: 1})
	standing("bob", Standing{UserID: "bob", Name: "bob", Losses: 1, Played: 1})
	if h[0].ID != first || h[0].Key != "room-1" || b.Results[0].ID != first {
		t.Fatalf("recorded %+v, written again with ID %d; want ID %d and key room-1 for both", h[0], b.Results[0].ID, first)
	}

	// A batch holding the recorded match and a new one, twice: the new
	// one is recorded once.
	b = Batch{Results: []Result{keyed("room-1", "amy", "bob", at), keyed("room-2", "bob", "amy", at.Add(time.Minute)), keyed("room-2", "bob", "amy", at.Add(time.Minute))}}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if b.Results[0].ID != first || b.Results[1].ID != b.Results[2].ID || b.Results[1].ID <= first {
		t.Fatalf("IDs %d, %d, %d; want %d, then one new ID twice", b.Results[0].ID, b.Results[1].ID, b.Results[2].ID, first)
	}
	history("amy", "room-2", "room-1")
	standing("amy", Standing{UserID: "amy", Name: "amy", Wins: 1, Losses: 1, Played: 2, Score: 1})
	standing("bob", Standing{UserID: "bob", Name: "bob", Wins: 1, Losses: 1, Played: 2, Score: 1})

	// Without a key, each write records the result.
	b = Batch{Results: []Result{gomokuResult("room-3", "cat", "dan", at.Add(2*time.Minute))}}
	for range 2 {
		if err := db.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	history("cat", "room-3", "room-3")
	standing("cat", Standing{UserID: "cat", Name: "cat", Wins: 2, Played: 2, Score: 2})
}

// commitThenFail is a BatchWriter whose first write commits and then
// reports an error, as a connection lost once the commit reached the
// server does.
type commitThenFail struct {
	*DB
	failed atomic.Bool
}

func (w *commitThenFail) Write(ctx context.Context, b *Batch) error {
	err := w.DB.Write(ctx, b)
	if err == nil && w.failed.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: connection lost after the commit", ErrUnavailable)
	}
	return err
}

// testQueueRetryOfACommittedBatch: the WriteQueue retries whole a batch
// whose commit succeeded but reported an error; the match it holds is in
// its players' history and standings once.
func testQueueRetryOfACommittedBatch(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	w := &commitThenFail{DB: db}
	q := newQueue(t, QueueConfig{Writer: w, RetryInterval: 10 * time.Millisecond})
	r := gomokuResult("room-1", "amy", "bob", time.UnixMilli(1_700_000_000_000))
	r.Key = "room-1"
	if !q.AddResult(r) {
		t.Fatal("the result was dropped")
	}
	waitFor(t, "the retried batch written", func() bool { return q.Stats().ResultsWritten == 1 })
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); !w.failed.Load() || s.Errors != 1 || s.Batches != 1 {
		t.Fatalf("queue stats = %+v; want one failed write, then one written batch", s)
	}
	if h, err := db.History(ctx, "amy", 0, 10); err != nil || len(h) != 1 {
		t.Fatalf("amy's history = %+v, %v; want the match once", h, err)
	}
	if s, err := db.Standing(ctx, "gomoku", "amy"); err != nil || s.Wins != 1 || s.Played != 1 || s.Score != 1 {
		t.Fatalf("amy's standing = %+v, %v; want the match counted once", s, err)
	}
}

// sqlMigrationsBefore returns the backend's SQL migrations numbered below
// version, without the Go ones: a test's schema from before version.
func sqlMigrationsBefore(t *testing.T, backendName string, version int64) fstest.MapFS {
	t.Helper()
	all, err := fs.Sub(migrationFiles, "migrations/"+backendName)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(all, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, name := range names {
		v, err := strconv.ParseInt(strings.SplitN(name, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		if v >= version {
			continue
		}
		b, err := fs.ReadFile(all, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

// testResultKeysMigrated: a database from before version 8 may hold a match
// twice, as the queue's retry recorded it; the migration keys no result
// before it (their key is NULL, which the unique index lets repeat), so it
// does not fail on them, and they stay as they were, in history and in
// the standings. A node of an older version, writing beside a newer one
// on PostgreSQL, still writes keyless results; the newer node's keyed
// results are recorded once.
func testResultKeysMigrated(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	backendName := BackendSQLite
	if cfg.URL != "" {
		backendName = BackendPostgres
	}
	// Schema 6: the SQL migrations before 7 (the Go one) run here; 7 and
	// 8 at the upgrade.
	cfg.migrations = sqlMigrationsBefore(t, backendName, 7)
	old, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// What an older binary writes: one result, and the same again.
	older := func(db *DB, room string) {
		t.Helper()
		var id int64
		if err := db.w.QueryRowContext(ctx, `INSERT INTO results (game, room, outcome, started_ms, ended_ms) VALUES ('gomoku', $1, 'five', 1, 2) RETURNING id`, room).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.ExecContext(ctx, `INSERT INTO result_players (result_id, user_id, name, seat, outcome, score) VALUES ($1, 'amy', 'amy', 0, 'win', 1)`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.ExecContext(ctx, `INSERT INTO standings (game, user_id, name, wins, losses, draws, played, score) VALUES ('gomoku', 'amy', 'amy', 1, 0, 0, 1, 1)
			ON CONFLICT (game, user_id) DO UPDATE SET wins = standings.wins + 1, played = standings.played + 1, score = standings.score + 1`); err != nil {
			t.Fatal(err)
		}
	}
	older(old, "room-1")
	older(old, "room-1")
	old.Close()

	cfg.migrations = nil
	db := open(t, cfg)
	if v := db.SchemaVersion(); v < 8 {
		t.Fatalf("schema %d after the upgrade", v)
	}
	rooms := func() []string {
		t.Helper()
		rs, err := db.History(ctx, "amy", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			if r.Key != "" && r.Key != r.Room {
				t.Fatalf("result %+v keyed %q", r, r.Key)
			}
			out = append(out, r.Room)
		}
		return out
	}
	if got, want := rooms(), []string{"room-1", "room-1"}; !slices.Equal(got, want) {
		t.Fatalf("amy's history after the upgrade: %v, want %v: what was recorded stays", got, want)
	}
	// docs/store.md's query for such copies finds it.
	var room string
	var copies int
	if err := db.r.QueryRowContext(ctx, `SELECT game, room, started_ms, ended_ms, COUNT(*) FROM results WHERE match_key IS NULL GROUP BY game, room, started_ms, ended_ms HAVING COUNT(*) > 1`).Scan(new(string), &room, new(int64), new(int64), &copies); err != nil || room != "room-1" || copies != 2 {
		t.Fatalf("the documented query for copies: %q ×%d, %v; want room-1 ×2", room, copies, err)
	}
	older(db, "room-2") // a node of the older version, after the upgrade
	b := Batch{Results: []Result{gomokuResult("room-3", "amy", "bob", time.UnixMilli(3))}}
	b.Results[0].Key = "room-3"
	for range 2 {
		if err := db.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := rooms(), []string{"room-3", "room-2", "room-1", "room-1"}; !slices.Equal(got, want) {
		t.Fatalf("amy's history: %v, want %v", got, want)
	}
	if s, err := db.Standing(ctx, "gomoku", "amy"); err != nil || s.Wins != 4 || s.Played != 4 {
		t.Fatalf("amy's standing = %+v, %v; want 4 wins: the 3 from before and room-3 once", s, err)
	}
}
