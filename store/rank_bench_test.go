package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// fillStandings gives game n players' standings, most of them with no
// win and a low score, as a game's many casual players have, in one
// transaction. It returns a player with no win and no score (the last
// rank) and the leader.
func fillStandings(tb testing.TB, db *DB, game string, n int) (last, leader string) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		wins, score := 0, r.IntN(4)
		if r.IntN(10) >= 7 {
			wins = 1 + r.IntN(5)
		}
		switch i {
		case 0:
			wins, score = 0, 0
		case 1:
			wins, score = 100, 1000
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO standings (game, user_id, name, wins, losses, draws, played, score) VALUES ($1, $2, $3, $4, 0, 0, $5, $6)`,
			game, fmt.Sprintf("p%07d", i), "n", wins, wins+1, score); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if db.backend != BackendSQLite {
		// As autovacuum would after such a load.
		if _, err := db.w.ExecContext(ctx, `ANALYZE standings`); err != nil {
			tb.Fatal(err)
		}
	}
	return "p0000000", "p0000001"
}

// BenchmarkLeaderboardOf200k: what a GetLeaderboard costs the store when
// the game has 200,000 players' standings: the top 10, and the caller's
// own line (its rank) when it is not among them.
func BenchmarkLeaderboardOf200k(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		last, leader := fillStandings(b, db, "arena", 200_000)
		ctx := context.Background()
		b.Run("top10", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if top, err := db.Leaderboard(ctx, "arena", 10); err != nil || len(top) != 10 {
					b.Fatal(len(top), err)
				}
			}
		})
		for _, who := range []string{last, leader} {
			b.Run("standing-"+who, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := db.Standing(ctx, "arena", who); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}
