package store

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"
)

// The channel-history cases of the suite: lines kept per channel, the
// bound on channels that keep lines, and their expiry.

func testChannelHistory(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.ChannelKeep = 5
	db := open(t, cfg)
	at := time.UnixMilli(1_700_000_000_000)
	var lines []Line
	for i := range 8 {
		lines = append(lines, Line{Channel: "general", From: "amy", FromName: "Amy", Text: fmt.Sprint("line ", i), At: at.Add(time.Duration(i) * time.Second)})
	}
	lines = append(lines, Line{Channel: "other", From: "bob", Text: "elsewhere", At: at})
	if err := db.AppendLines(ctx, lines[:3]); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLines(ctx, lines[3:]); err != nil {
		t.Fatal(err)
	}
	got, err := db.ChannelLines(ctx, "general", 0, 3)
	if err != nil || len(got) != 3 || got[0].Text != "line 7" || got[2].Text != "line 5" || got[0].FromName != "Amy" || !got[0].At.Equal(lines[7].At) {
		t.Fatalf("newest 3 = %+v, %v", got, err)
	}
	older, err := db.ChannelLines(ctx, "general", got[2].ID, 10)
	if err != nil || len(older) != 2 || older[0].Text != "line 4" || older[1].Text != "line 3" {
		t.Fatalf("older lines = %+v, %v; want lines 4 and 3 (the channel keeps 5)", older, err)
	}
	if other, _ := db.ChannelLines(ctx, "other", 0, 10); len(other) != 1 {
		t.Fatalf("other channel = %+v", other)
	}
}

// channelCounts returns how many lines each channel keeps, and checks
// that channel_heads names exactly the channels with lines.
func channelCounts(t *testing.T, db *DB) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := db.r.QueryContext(ctx, `SELECT channel, COUNT(*) FROM channel_lines GROUP BY channel`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			t.Fatal(err)
		}
		got[c] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var heads int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_heads`).Scan(&heads); err != nil {
		t.Fatal(err)
	}
	if heads != len(got) {
		t.Fatalf("channel_heads has %d rows, %d channels keep lines (%v)", heads, len(got), got)
	}
	return got
}

func postLines(t *testing.T, db *DB, channel string, n int) {
	t.Helper()
	var lines []Line
	for i := range n {
		lines = append(lines, Line{Channel: channel, From: "mallory", Text: fmt.Sprint(channel, " ", i), At: time.Now()})
	}
	if err := db.AppendLines(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
}

// testChannelHistories: a client that posts into ever new channel names
// leaves at most ChannelHistories channel histories, the most recently
// written ones, each still at most ChannelKeep lines.
func testChannelHistories(t *testing.T, fresh backend) {
	cfg := fresh(t)
	cfg.ChannelKeep = 3
	cfg.ChannelHistories = 4
	db := open(t, cfg)
	postLines(t, db, "general", 5)
	for i := range 10 {
		postLines(t, db, fmt.Sprint("junk-", i), 2+i%3)
		if i%3 == 0 {
			// Written again: among the most recently written, however
			// old the channel.
			postLines(t, db, "general", 1)
		}
		if got := channelCounts(t, db); len(got) > 4 {
			t.Fatalf("after junk-%d: %d channels keep lines, want at most 4: %v", i, len(got), got)
		}
	}
	want := map[string]int{"general": 3, "junk-7": 3, "junk-8": 3, "junk-9": 2}
	if got := channelCounts(t, db); !maps.Equal(got, want) {
		t.Fatalf("channels kept = %v, want %v", got, want)
	}
	// An evicted channel replays nothing; a kept one its newest lines.
	if ls, err := db.ChannelLines(context.Background(), "junk-3", 0, 10); err != nil || len(ls) != 0 {
		t.Fatalf("evicted junk-3 = %+v, %v; want none", ls, err)
	}
	if ls, err := db.ChannelLines(context.Background(), "general", 0, 10); err != nil || len(ls) != 3 || ls[2].Text != "general 0" {
		t.Fatalf("general = %+v, %v; want its 3 newest lines", ls, err)
	}

	// One write into more new channels than the bound keeps the last
	// ones it wrote.
	var lines []Line
	for i := range 6 {
		lines = append(lines, Line{Channel: fmt.Sprint("burst-", i), From: "mallory", Text: "x", At: time.Now()})
	}
	if err := db.AppendLines(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"burst-2": 1, "burst-3": 1, "burst-4": 1, "burst-5": 1}
	if got := channelCounts(t, db); !maps.Equal(got, want) {
		t.Fatalf("after one write into 6 new channels: %v, want %v", got, want)
	}
}

// testChannelHistoriesBacklog: a database holding more channel histories
// than the bound it is opened with (a smaller ChannelHistories, or
// history written before the bound) sheds them as channel lines are
// written, a bounded slice a write.
func testChannelHistoriesBacklog(t *testing.T, fresh backend) {
	cfg := fresh(t)
	cfg.ChannelHistories = 100
	db := open(t, cfg)
	for i := range 40 {
		postLines(t, db, fmt.Sprint("old-", i), 1)
	}
	db.Close()
	cfg.ChannelHistories = 4
	db = open(t, cfg)
	if got := channelCounts(t, db); len(got) != 40 {
		t.Fatalf("reopened with 40 channels kept: %d", len(got))
	}
	postLines(t, db, "old-39", 1) // not a new channel: evicts the backlog only
	if got := channelCounts(t, db); len(got) != 40-evictBacklog {
		t.Fatalf("after one write: %d channels, want %d (one slice of the backlog gone)", len(got), 40-evictBacklog)
	}
	for range 3 {
		postLines(t, db, "old-39", 1)
	}
	want := map[string]int{"old-36": 1, "old-37": 1, "old-38": 1, "old-39": 5}
	if got := channelCounts(t, db); !maps.Equal(got, want) {
		t.Fatalf("after the backlog went: %v, want %v", got, want)
	}
	if db.channelsOver.Load() {
		t.Fatal("still evicting a backlog with none left")
	}
}

// testChannelTTL: a channel's history goes once ChannelTTL has passed
// since its last line, at a later write of channel lines.
func testChannelTTL(t *testing.T, fresh backend) {
	cfg := fresh(t)
	cfg.ChannelTTL = time.Hour
	var mu sync.Mutex
	now := time.UnixMilli(1_700_000_000_000)
	cfg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	db := open(t, cfg)
	postLines(t, db, "quiet", 2)
	advance(30 * time.Minute)
	postLines(t, db, "busy", 2)
	advance(40 * time.Minute) // quiet's last line is 70 min old, busy's 40
	postLines(t, db, "new", 1)
	want := map[string]int{"busy": 2, "new": 1}
	if got := channelCounts(t, db); !maps.Equal(got, want) {
		t.Fatalf("after the TTL passed for quiet: %v, want %v", got, want)
	}
	advance(10 * time.Minute)
	postLines(t, db, "busy", 1) // written again: its hour starts again
	advance(55 * time.Minute)
	postLines(t, db, "new", 1) // new's line is 65 min old, busy's 55
	want = map[string]int{"busy": 3, "new": 2}
	if got := channelCounts(t, db); !maps.Equal(got, want) {
		t.Fatalf("channels written within the TTL: %v, want %v", got, want)
	}
}
