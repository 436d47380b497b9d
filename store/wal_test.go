package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSQLiteWALIsBoundedUnderBusyReaders: the hub keeps up to four store
// readers busy as long as clients ask (GetLeaderboard, GetMatchHistory,
// GetChannelHistory: 4 in flight a connection, 256 in all), and while
// one of them always reads, SQLite's automatic checkpoint never finishes
// and the -wal file grows with every write, never given back (17.4 MB
// in a minute of this test's earlier writes, with the bound taken out). Writes then bound it: past walLimit the writer
// checkpoints the whole log, waiting for the readers, and truncates it.
func TestSQLiteWALIsBoundedUnderBusyReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	const limit = 1 << 20
	db := open(t, Config{Dir: dir, walLimit: limit})
	// A leaderboard of a few thousand players, which the readers read a
	// page of (MaxPage rows, as a GetLeaderboard may ask). Not the rank of
	// one's own line: since ranks are counted to RankCounted (52c2921) that
	// read is too short to keep SQLite's checkpoint from finishing, and the
	// file stayed at ~5 MB without the bound. The standings of 4,000
	// gomoku results, a{i} beating b{i}, are written with one statement:
	// written as results (WriteResults, 500 a batch) they took 70 s of
	// this test under the race detector, SQLite's parse of statements of
	// thousands of numbered parameters growing with their square.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO standings (game, user_id, name, wins, losses, draws, played, score)
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 3999)
		SELECT 'gomoku', 'a' || i, 'a' || i, 1, 0, 0, 1, 1 FROM n
		UNION ALL SELECT 'gomoku', 'b' || i, 'b' || i, 0, 1, 0, 1, 0 FROM n`); err != nil {
		t.Fatal(err)
	}
	if top, err := db.Leaderboard(ctx, "gomoku", MaxPage); err != nil || len(top) != MaxPage || top[0].Wins != 1 {
		t.Fatalf("the leaderboard's first page: %d lines (%v), want %d", len(top), err, MaxPage)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := db.Leaderboard(ctx, "gomoku", MaxPage); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wal := func() int64 {
		fi, err := os.Stat(sqlitePath(dir) + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// Lobby lines until the bound has truncated the file three times;
	// without it the file only grows, past 3 × limit.
	const bound = 3 * limit
	var most, last int64
	truncated := 0
	deadline := time.Now().Add(time.Minute)
	for i := 0; truncated < 3; i++ {
		if err := db.AppendLines(ctx, []Line{{Channel: fmt.Sprint("c", i%50), From: "u", FromName: "U", Text: "a line of lobby chat, as guests send them", At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		size := wal()
		if size < last {
			truncated++
		}
		last, most = size, max(most, size)
		if most > bound {
			t.Fatalf("the -wal file reached %.1f MB while readers were busy; want at most %d MB", float64(most)/(1<<20), bound>>20)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the -wal file, now %.1f MB, truncated %d times in a minute of writes with readers busy; want 3 times", float64(size)/(1<<20), truncated)
		}
	}
	t.Logf("the -wal file reached %.1f MB at most", float64(most)/(1<<20))
}
