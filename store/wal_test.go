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
// and the -wal file grows with every write (hundreds of MB in seconds,
// never given back). Writes then bound it: past walLimit the writer
// checkpoints the whole log, waiting for the readers, and truncates it.
func TestSQLiteWALIsBoundedUnderBusyReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, Config{Dir: dir, walLimit: 8 << 20})
	// A leaderboard of a few thousand players, which the readers read a
	// page of (MaxPage rows, as a GetLeaderboard may ask). Not the rank of
	// one's own line: since ranks are counted to RankCounted (52c2921) that
	// read is too short to keep SQLite's checkpoint from finishing, and the
	// file stayed at ~5 MB without the bound.
	var batch []Result
	for i := range 4000 {
		batch = append(batch, gomokuResult(fmt.Sprint("r", i), fmt.Sprint("a", i), fmt.Sprint("b", i), time.Now()))
		if len(batch) == 500 {
			if err := db.WriteResults(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
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
	var most int64
	end := time.Now().Add(4 * time.Second)
	for i := 0; time.Now().Before(end); i++ { // a few seconds of lobby lines
		if err := db.AppendLines(ctx, []Line{{Channel: fmt.Sprint("c", i%50), From: "u", FromName: "U", Text: "a line of lobby chat, as guests send them", At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		most = max(most, wal())
	}
	const bound = 3 * (8 << 20)
	if most > bound {
		t.Fatalf("the -wal file reached %d MB while readers were busy; want at most %d MB", most>>20, bound>>20)
	}
	t.Logf("the -wal file reached %.1f MB at most", float64(most)/(1<<20))
}
