package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkGuestRequestSendersOf100k: what the friend request check of a
// guest's request costs the store (GuestRequestSendersTo) when the
// recipient has 500 standing requests and the store 100,000 accounts,
// every tenth a guest.
func BenchmarkGuestRequestSendersOf100k(b *testing.B) {
	benchBackends(b, func(b *testing.B, db *DB) {
		ctx := context.Background()
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 100_000 {
			id := fmt.Sprintf("u%06d", i)
			var key any = id
			if i%10 == 0 {
				key = nil // a guest
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, name_key, created_ms) VALUES ($1, $1, $2, 0)`, id, key); err != nil {
				b.Fatal(err)
			}
			if i < 500 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO friendships (user_a, user_b, from_id, to_id, state, since_ms) VALUES ($1, 'v', $1, 'v', 'pending', 0)`, id); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, name_key, created_ms) VALUES ('v', 'v', 'v', 0)`); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		if db.backend != BackendSQLite {
			if _, err := db.w.ExecContext(ctx, `ANALYZE users; ANALYZE friendships`); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if got, err := db.GuestRequestSendersTo(ctx, "v", ""); err != nil || len(got) != 50 {
				b.Fatalf("%d senders, %v; want 50", len(got), err)
			}
		}
	})
}
