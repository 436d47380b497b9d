package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// The benchmarks measure what the store sustains for the write queue's
// traffic: match results and chat lines, one transaction per batch, on
// each backend. items/s counts results or lines written.

func benchBackends(b *testing.B, run func(b *testing.B, db *DB)) {
	benchBackendsWith(b, Config{}, run)
}

// benchBackendsWith runs run on each backend opened with cfg (its Dir and
// URL set per backend).
func benchBackendsWith(b *testing.B, cfg Config, run func(b *testing.B, db *DB)) {
	b.Run("sqlite", func(b *testing.B) {
		cfg := cfg
		cfg.Dir = b.TempDir()
		db, err := Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
	b.Run("postgres", func(b *testing.B) {
		srv := pgtest.Start(b)
		cfg := cfg
		cfg.URL = srv.NewDatabase(b)
		db, err := Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
}

func BenchmarkWriteResults(b *testing.B) {
	benchBackends(b, writeResults(1000))
}

// BenchmarkWriteResultsTrimmed writes as BenchmarkWriteResults, among 100
// players with each one's history kept to its newest 20 (ResultKeep), so
// that after the first 1,000 results every result written deletes old
// ones: the cost of the bound in steady state (the default, 1,000, is
// reached only by players with that many games).
func BenchmarkWriteResultsTrimmed(b *testing.B) {
	benchBackendsWith(b, Config{ResultKeep: 20}, writeResults(100))
}

// BenchmarkWriteResultsAtTheDefaultBound writes batches of 64 among ten
// players after 12,000 results (untimed), so every one of them is at the
// default ResultKeep, 1,000, and every trim counts up to 1,000 newer
// results of each player of each result it looks at. stored is the
// results the store holds at the end: 5,000, ten players' 1,000 with two
// players to a result.
func BenchmarkWriteResultsAtTheDefaultBound(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		ctx := context.Background()
		now := time.Now()
		const players = 10
		n := 0
		rs := make([]Result, 64)
		batch := func() {
			for i := range rs {
				rs[i] = gomokuResult("r", fmt.Sprint("p", n%players), fmt.Sprint("p", (n+1)%players), now)
				n++
			}
			if err := db.WriteResults(ctx, rs); err != nil {
				b.Fatal(err)
			}
		}
		for range 12000 / len(rs) {
			batch()
		}
		b.ReportAllocs()
		b.ResetTimer()
		m := 0
		for b.Loop() {
			batch()
			m += len(rs)
		}
		b.ReportMetric(float64(m)/b.Elapsed().Seconds(), "results/s")
		var stored int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM results`).Scan(&stored); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(stored), "stored")
	})
}

// writeResults writes gomoku results between players p0..p(players-1),
// in batches of 1, 64 and 256.
func writeResults(players int) func(b *testing.B, db *DB) {
	return func(b *testing.B, db *DB) {
		for _, batch := range []int{1, 64, 256} {
			b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
				ctx := context.Background()
				now := time.Now()
				rs := make([]Result, batch)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					for i := range rs {
						// Many players, so the standings upsert both inserts and updates.
						rs[i] = gomokuResult("r", fmt.Sprint("p", n%players), fmt.Sprint("p", (n+1)%players), now)
						n++
					}
					if err := db.WriteResults(ctx, rs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "results/s")
			})
		}
	}
}

func BenchmarkAppendLines(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		for _, batch := range []int{1, 64, 256} {
			b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
				ctx := context.Background()
				lines := make([]Line, batch)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					for i := range lines {
						// Four lobby channels, trimmed to their 200 newest lines.
						lines[i] = Line{Channel: fmt.Sprint("lobby-", n%4), From: "u1", FromName: "Ada", Text: "gg, one more?", At: time.Now()}
						n++
					}
					if err := db.AppendLines(ctx, lines); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
			})
		}
	})
}

// BenchmarkWriteMarked is BenchmarkAppendLines's batch of one and 64
// lines written as a WriteQueue's batch, marked (batch_marks), and not: the
// mark's cost per batch.
func BenchmarkWriteMarked(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		for _, batch := range []int{1, 64} {
			for _, marked := range []bool{false, true} {
				b.Run(fmt.Sprintf("batch=%d/marked=%v", batch, marked), func(b *testing.B) {
					ctx := context.Background()
					var bt Batch
					bt.Lines = make([]Line, batch)
					// A queue of its own each run, as -count runs it again.
					writer := fmt.Sprint("bench-", time.Now().UnixNano())
					b.ReportAllocs()
					n := 0
					for b.Loop() {
						for i := range bt.Lines {
							bt.Lines[i] = Line{Channel: fmt.Sprint("lobby-", n%4), From: "u1", FromName: "Ada", Text: "gg, one more?", At: time.Now()}
							n++
						}
						if marked {
							bt.writer, bt.seq = writer, bt.seq+1
						}
						if err := db.Write(ctx, &bt); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
				})
			}
		}
	})
}
