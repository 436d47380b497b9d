package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// TestSQLiteCacheSize opens the SQLite backend with the default page cache
// and with one of 512 KiB: the writer and every reader keep at most that
// much of the database in memory (PRAGMA cache_size, negative in KiB),
// and a size SQLite would take as next to nothing (under 64 KiB, or past
// the 2^31 KiB its 32-bit setting holds) is refused.
func TestSQLiteCacheSize(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ size, want int }{{0, -2000}, {512 << 10, -512}} {
		db := open(t, Config{Dir: t.TempDir(), CacheSize: tc.size})
		for name, pool := range map[string]*sql.DB{"writer": db.w, "reader": db.r} {
			var got int
			if err := pool.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&got); err != nil || got != tc.want {
				t.Fatalf("CacheSize %d: the %s's cache_size is %d (%v), want %d", tc.size, name, got, err, tc.want)
			}
		}
	}
	for _, size := range []int{-1, 1 << 10, 63 << 10, 1 << 51} {
		if _, err := Open(ctx, Config{Dir: t.TempDir(), CacheSize: size}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("CacheSize %d: %v, want ErrInvalid", size, err)
		}
	}
}
