package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// testGuestTTL: guests not seen for GuestTTL go as new guests come, the
// oldest first and a few at a time, with their devices, friendships,
// blocks, inbox, standings and sanctions; a guest seen since, a claimed
// account and a linked one stay, and so does the other players' history.
func testGuestTTL(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.GuestTTL = 24 * time.Hour
	now, advance := manualClock(&cfg)
	db := open(t, cfg)

	guest := func(id string) {
		t.Helper()
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: "guest", DeviceHash: []byte("dev-" + id)}); err != nil {
			t.Fatal(err)
		}
		advance(time.Millisecond)
	}
	var old []string
	for i := range 6 {
		old = append(old, fmt.Sprint("old", i))
		guest(old[i])
	}
	guest("named")
	if err := db.ClaimName(ctx, "named", "Named", "hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateLinked(ctx, "linked", "Linked", "sub-1"); err != nil {
		t.Fatal(err)
	}
	guest("back")
	// old0 has a friend, blocks, is blocked, has mail, a standing and a ban.
	t0 := time.UnixMilli(1_700_000_000_000)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.PutFriendship(ctx, Friendship{From: "old0", To: "named", State: FriendAccepted, Since: t0}))
	must(db.PutFriendship(ctx, Friendship{From: "linked", To: "old0", State: FriendPending, Since: t0}))
	must(db.Block(ctx, "old0", "back"))
	must(db.Block(ctx, "named", "old1"))
	must(db.AppendLines(ctx, []Line{{To: "old0", From: "named", FromName: "Named", Text: "hi", At: t0}}))
	must(db.WriteResults(ctx, []Result{{Game: "gomoku", Room: "r", Outcome: "five", Started: t0, Ended: t0.Add(time.Minute), Players: []ResultPlayer{
		{UserID: "old0", Name: "Old", Seat: 0, Outcome: "win", Score: 1},
		{UserID: "named", Name: "Named", Seat: 1, Outcome: "loss"},
	}}}))
	must(db.PutSanction(ctx, Sanction{UserID: "old0", Kind: SanctionBan, Reason: "r", At: t0}))
	// old0 and old1 also played each other, and old1 alone.
	must(db.WriteResults(ctx, []Result{
		{Game: "gomoku", Room: "r2", Outcome: "five", Started: t0, Ended: t0.Add(time.Minute), Players: []ResultPlayer{
			{UserID: "old0", Name: "Old", Seat: 0, Outcome: "win"}, {UserID: "old1", Name: "Old1", Seat: 1, Outcome: "loss"}}},
		{Game: "gomoku", Room: "r3", Outcome: "alone", Started: t0, Ended: t0.Add(time.Minute), Players: []ResultPlayer{
			{UserID: "old1", Name: "Old1", Seat: 0, Outcome: "draw"}}},
	}))
	results := func() int {
		t.Helper()
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM results`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	advance(12 * time.Hour)
	must(db.Seen(ctx, "back"))
	if err := db.Seen(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Seen of an unknown user = %v, want ErrNotFound", err)
	}
	advance(13 * time.Hour) // the old guests: 25 h; back: 13 h

	exists := func(id string) bool {
		t.Helper()
		_, err := db.UserByID(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	guest("new0") // deletes old0..old3
	for i, id := range old {
		if want := i >= guestPruneBatch; exists(id) != want {
			t.Fatalf("after one new guest: %s stored = %v, want %v", id, !want, want)
		}
	}
	if _, err := db.UserByDevice(ctx, []byte("dev-old0")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old0's device after it went: %v", err)
	}
	for _, u := range []string{"named", "linked", "old0"} {
		if fs, err := db.Friendships(ctx, u); err != nil || len(fs) != 0 {
			t.Fatalf("%s's friendships after old0 went: %+v %v", u, fs, err)
		}
	}
	if bs, err := db.Blocks(ctx, "old0"); err != nil || len(bs) != 0 {
		t.Fatalf("old0's blocks: %v %v", bs, err)
	}
	if bs, err := db.Blocks(ctx, "named"); err != nil || len(bs) != 0 {
		t.Fatalf("named's block of old1, gone: %v %v", bs, err)
	}
	if ls, err := db.Inbox(ctx, "old0"); err != nil || len(ls) != 0 {
		t.Fatalf("old0's inbox: %+v %v", ls, err)
	}
	if s, err := db.Standing(ctx, "gomoku", "old0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old0's standing: %+v %v", s, err)
	}
	if ss, err := db.Sanctions(ctx, now()); err != nil || len(ss) != 0 {
		t.Fatalf("sanctions after old0 went: %+v %v", ss, err)
	}
	if h, err := db.History(ctx, "named", 0, 10); err != nil || len(h) != 1 || len(h[0].Players) != 2 {
		t.Fatalf("named's history keeps the game with old0: %+v %v", h, err)
	}
	// old0..old3 went together: the games among them only went too.
	if n := results(); n != 1 {
		t.Fatalf("%d results stored after the guests who played them went, want 1 (named's)", n)
	}
	guest("new1") // the last two old ones
	for _, id := range old {
		if exists(id) {
			t.Fatalf("after two new guests: %s is still stored", id)
		}
	}
	for _, id := range []string{"named", "linked", "back", "new0", "new1"} {
		if !exists(id) {
			t.Fatalf("%s went", id)
		}
	}
	// back goes once not seen for GuestTTL either.
	advance(12 * time.Hour)
	guest("new2")
	if exists("back") || !exists("new0") {
		t.Fatalf("25 h after back's last login: back %v, new0 %v", exists("back"), exists("new0"))
	}
}

// testGuestsAtTheUpgrade: a store made before logins were recorded gives
// every account a whole GuestTTL from the upgrade: a guest made long ago
// (who may have logged in yesterday) is not deleted by the first new
// guest after it, only once GuestTTL has passed since.
func testGuestsAtTheUpgrade(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	backendName := BackendSQLite
	if cfg.URL != "" {
		backendName = BackendPostgres
	}
	all, err := fs.Sub(migrationFiles, "migrations/"+backendName)
	if err != nil {
		t.Fatal(err)
	}
	before := fstest.MapFS{}
	for _, name := range []string{"00001_init.sql", "00002_channel_heads.sql", "00003_friend_requests_to.sql"} {
		b, err := fs.ReadFile(all, name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: b}
	}
	cfg.migrations = before
	old, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-90 * 24 * time.Hour).UnixMilli()
	if _, err := old.w.ExecContext(ctx, `INSERT INTO users (id, name, created_ms) VALUES ('early', 'Early', $1)`, long); err != nil {
		t.Fatal(err)
	}
	old.Close()

	cfg.migrations = nil
	db := open(t, cfg)
	if db.SchemaVersion() < 4 {
		t.Fatalf("schema %d after the upgrade", db.SchemaVersion())
	}
	if _, err := db.CreateGuest(ctx, Guest{ID: "new", Name: "New", DeviceHash: []byte("dev-new")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByID(ctx, "early"); err != nil {
		t.Fatalf("a guest made 90 days before the upgrade, right after it: %v", err)
	}
	db.Close()
	cfg.now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	db = open(t, cfg)
	if _, err := db.CreateGuest(ctx, Guest{ID: "later", Name: "Later", DeviceHash: []byte("dev-later")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByID(ctx, "early"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the same guest 31 days after the upgrade: %v, want it gone", err)
	}
}

// testGuestsOfAnOlderNode: in a rolling upgrade of nodes sharing one
// PostgreSQL database, the first new node migrates it while older nodes,
// from before logins were recorded, still run and make guests with no
// seen_ms: the column's default, 0 ("not seen since 1970"), was the oldest
// possible, and the first guest made on a new node deleted a guest an
// older node had made seconds before (its device secret then "not
// recognized"). Such a guest counts as seen when it is made, and one made
// so before this fix counts as seen at the migration that came with it.
func testGuestsOfAnOlderNode(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	if cfg.URL == "" {
		t.Skip("SQLite: one process at a time, so no older node writes beside a newer one")
	}
	all, err := fs.Sub(migrationFiles, "migrations/"+BackendPostgres)
	if err != nil {
		t.Fatal(err)
	}
	upTo4 := fstest.MapFS{}
	for _, name := range []string{"00001_init.sql", "00002_channel_heads.sql", "00003_friend_requests_to.sql", "00004_guest_seen.sql"} {
		b, err := fs.ReadFile(all, name)
		if err != nil {
			t.Fatal(err)
		}
		upTo4[name] = &fstest.MapFile{Data: b}
	}
	// What an older node writes for a new guest: no seen_ms.
	older := func(db *DB, id string) {
		t.Helper()
		if _, err := db.w.ExecContext(ctx, `INSERT INTO users (id, name, created_ms) VALUES ($1, $1, $2)`, id, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	cfg.migrations = upTo4
	db4, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	older(db4, "made-before-the-fix")
	db4.Close()

	cfg.migrations = nil
	db := open(t, cfg)
	older(db, "made-beside-a-new-node")
	if _, err := db.CreateGuest(ctx, Guest{ID: "new", Name: "New", DeviceHash: []byte("dev-new")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"made-before-the-fix", "made-beside-a-new-node"} {
		if _, err := db.UserByID(ctx, id); err != nil {
			t.Fatalf("guest %s, just made by an older node, after a new guest: %v", id, err)
		}
	}
}

// testGuestWithManyResultsGoesWhole: a guest deleted with more results
// than one deletion takes (pruneResultsPerGuest), none of whose other
// players has an account left, takes them all, over the next new guests'
// deletions: none stays behind, held by no one and never looked at again.
func testGuestWithManyResultsGoesWhole(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.GuestTTL, cfg.ResultKeep = 24*time.Hour, 3
	now, advance := manualClock(&cfg)
	db := open(t, cfg)
	guest := func(id string) {
		t.Helper()
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte("dev-" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	// gil plays one game with each of n new guests, who each have only
	// that game, so it is someone's newest and stays.
	const n = pruneResultsPerGuest + 20
	guest("gil")
	var batch []Result
	for i := range n {
		h := fmt.Sprint("h", i)
		guest(h)
		batch = append(batch, gomokuResult(fmt.Sprint("r", i), "gil", h, now()))
		if len(batch) == 64 || i == n-1 {
			if err := db.WriteResults(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	advance(time.Millisecond)
	if err := db.Seen(ctx, "gil"); err != nil { // gil is seen last
		t.Fatal(err)
	}
	results := func() int {
		t.Helper()
		var c int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM results`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := results(); c != n {
		t.Fatalf("%d results stored, want %d", c, n)
	}
	advance(25 * time.Hour)
	// Enough new guests to delete every old one (h0.. first, gil last),
	// and a few more.
	for i := range (n+1)/guestPruneBatch + 4 {
		guest(fmt.Sprint("new", i))
	}
	if _, err := db.UserByID(ctx, "gil"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gil after GuestTTL: %v, want it deleted", err)
	}
	if c := results(); c != 0 {
		t.Fatalf("%d results stored after every player of them was deleted, want 0", c)
	}
}

// manualClock gives cfg a clock that stands still from now (to the
// millisecond) until advance moves it; now reads it.
func manualClock(cfg *Config) (now func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	at := time.Now().Truncate(time.Millisecond)
	cfg.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	return cfg.now, func(d time.Duration) { mu.Lock(); at = at.Add(d); mu.Unlock() }
}
