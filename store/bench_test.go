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
	b.Run("sqlite", func(b *testing.B) {
		db, err := Open(context.Background(), Config{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
	b.Run("postgres", func(b *testing.B) {
		srv := pgtest.Start(b)
		db, err := Open(context.Background(), Config{URL: srv.NewDatabase(b)})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
}

func BenchmarkWriteResults(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		for _, batch := range []int{1, 64, 256} {
			b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
				ctx := context.Background()
				now := time.Now()
				rs := make([]Result, batch)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					for i := range rs {
						// 1,000 players, so the standings upsert both inserts and updates.
						rs[i] = gomokuResult("r", fmt.Sprint("p", n%1000), fmt.Sprint("p", (n+1)%1000), now)
						n++
					}
					if err := db.WriteResults(ctx, rs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "results/s")
			})
		}
	})
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
