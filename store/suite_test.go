package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// backend hands the suite a fresh, empty location (a data directory or a
// PostgreSQL database) as a Config; Open on the same Config after Close
// reopens the same data.
type backend func(t *testing.T) Config

// suite is the one test suite every backend runs.
var suite = []struct {
	name string
	fn   func(t *testing.T, fresh backend)
}{
	{"GuestAccountsComeBackByDevice", testGuestByDevice},
	{"AnAccountKeepsItsNewestDevices", testDeviceKeep},
	{"ANewPasswordSignsTheOtherDevicesOut", testClaimSigningOut},
	{"GuestsNotSeenForGuestTTLGo", testGuestTTL},
	{"AGuestWithManyResultsGoesWhole", testGuestWithManyResultsGoesWhole},
	{"GuestsGetAWholeGuestTTLFromTheUpgrade", testGuestsAtTheUpgrade},
	{"GuestsOfAnOlderNodeAreKept", testGuestsOfAnOlderNode},
	{"NamesAreUniqueCaseInsensitively", testNamesUnique},
	{"NamesClaimedBeforeNFKCAreRekeyed", testNameKeysMigrated},
	{"CompatibilityNamesAreOneName", testCompatibilityNames},
	{"CompatibilityNamesClaimedBeforeAreRekeyed", testCompatibilityKeysMigrated},
	{"IdentityLinksToOneAccount", testIdentity},
	{"SanctionsApplyUntilTheyEnd", testSanctions},
	{"FriendRequestsAcceptAndBlocks", testSocial},
	{"GraphChangesApplyInOrderInABatch", testGraphBatch},
	{"FriendRequestsToAUserAreCountedAndReadWithABound", testRequestsTo},
	{"FriendRequestsKeepTheirSendersAddress", testRequestsFromAddr},
	{"FriendRequestsFromGuestsAreCounted", testRequestsFromGuests},
	{"ResultsHistoryAndLeaderboard", testResults},
	{"ScoresAreBounded", testScoresAreBounded},
	{"RanksAreCountedToABound", testRankCounted},
	{"EachPlayerKeepsItsNewestResults", testResultKeep},
	{"ResultsAreTrimmedOnOneWriteInEight", testResultKeepAmortized},
	{"ResultsOfTablesEndingInTurnAreTrimmed", testResultKeepInTurns},
	{"ResultsOfBigBatchesAreTrimmed", testResultKeepInBigBatches},
	{"ResultsOfDeletedGuestsAreTrimmed", testResultsOfDeletedGuestsAreTrimmed},
	{"AResultWrittenTwiceIsRecordedOnce", testResultWrittenTwice},
	{"AQueueRetryOfACommittedBatchCountsItsResultsOnce", testQueueRetryOfACommittedBatch},
	{"ResultsRecordedTwiceBeforeKeysMigrate", testResultKeysMigrated},
	{"AQueueRetryOfACommittedBatchStoresItsChatOnce", testQueueRetryOfACommittedBatchStoresItsChatOnce},
	{"AMarkedBatchWrittenAgainWritesNothing", testAMarkedBatchWrittenAgainWritesNothing},
	{"BatchMarksOfQueuesGoneQuietExpire", testBatchMarksExpire},
	{"ChannelHistoryIsBoundedAndPaged", testChannelHistory},
	{"ChannelHistoriesAreBoundedInNumber", testChannelHistories},
	{"ChannelHistoriesOverTheBoundAtOpenAreEvicted", testChannelHistoriesBacklog},
	{"ChannelHistoryExpiresAfterItsLastLine", testChannelTTL},
	{"InboxIsBoundedAndAcknowledged", testInbox},
	{"InboxKeepsAFewOfEachSender", testInboxPerSender},
	{"InboxKeepsAFewOfStrangers", testInboxStrangers},
	{"SecretIsMadeOnceAndShared", testSecret},
	{"EverythingSurvivesAReopen", testReopen},
	{"RefusesASchemaNewerThanTheBinary", testSchemaNewer},
	{"MigrationFailingHalfwayLeavesTheLastGoodVersion", testMigrationHalfway},
	{"BadInputIsRefused", testBadInput},
	{"ALineWithANulByteStopsNoOtherWrite", testNulLine},
	{"AnItemThatIsNotUTF8StopsNoOtherWrite", testNotUTF8},
	{"TiesAreOrderedByTheBytesOfUserIDs", testBytewiseTies},
}

func runSuite(t *testing.T, fresh backend) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh)
		})
	}
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) Config { return Config{Dir: t.TempDir()} })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	runSuite(t, func(t *testing.T) Config { return Config{URL: srv.NewDatabase(t)} })
}

// TestPostgresWithALinguisticCollation: on a database whose text sorts by
// a linguistic collation (made on a server with a locale such as
// en_US.UTF-8: "a" before "B"), tied rows still come back in the order of
// their user ids' bytes ("B" before "a"), as on SQLite and on a database
// made with the C locale, so that the nodes of a cluster, whatever
// database they share, and both backends, agree.
func TestPostgresWithALinguisticCollation(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	testBytewiseTies(t, func(t *testing.T) Config { return Config{URL: srv.NewICUDatabase(t, "en-US")} })
}

func open(t *testing.T, cfg Config) *DB {
	t.Helper()
	db, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testGuestByDevice(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	u, err := db.CreateGuest(ctx, Guest{ID: "g-1", Name: "Ada", DeviceHash: []byte("device-1")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByDevice(ctx, []byte("device-1"))
	if err != nil || got.ID != "g-1" || got.Name != "Ada" || got.Claimed || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("UserByDevice = %+v, %v; want g-1 Ada unclaimed created %v", got, err, u.CreatedAt)
	}
	if _, err := db.UserByDevice(ctx, []byte("device-2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown device: %v, want ErrNotFound", err)
	}
	if err := db.AddDevice(ctx, "g-1", []byte("device-2")); err != nil {
		t.Fatal(err)
	}
	if got, err := db.UserByDevice(ctx, []byte("device-2")); err != nil || got.ID != "g-1" {
		t.Fatalf("second device = %+v, %v", got, err)
	}
	// Guests do not reserve their display names.
	if _, err := db.CreateGuest(ctx, Guest{ID: "g-2", Name: "Ada", DeviceHash: []byte("device-3")}); err != nil {
		t.Fatalf("second guest named Ada: %v", err)
	}
	if _, err := db.CreateGuest(ctx, Guest{ID: "g-1", Name: "Bob", DeviceHash: []byte("device-4")}); err == nil {
		t.Fatal("a second account with id g-1 was stored")
	}
}

// testDeviceKeep adds devices to one account past DeviceKeep, some in the
// same millisecond: the newest ones log in, the oldest do not, and the
// device just added always does.
func testDeviceKeep(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.DeviceKeep = 3
	base := time.Now().Add(time.Hour).UnixMilli() // after the guest's own device
	now := time.UnixMilli(base)
	cfg.now = func() time.Time { return now }
	db := open(t, cfg)
	if _, err := db.CreateGuest(ctx, Guest{ID: "g", Name: "Ada", DeviceHash: []byte("d0")}); err != nil {
		t.Fatal(err)
	}
	// d1 and d2 share a millisecond, as do d4 and d5.
	for i, ms := range []int64{1, 1, 2, 3, 3} {
		now = time.UnixMilli(base + ms)
		d := []byte(fmt.Sprint("d", i+1))
		if err := db.AddDevice(ctx, "g", d); err != nil {
			t.Fatal(err)
		}
		if u, err := db.UserByDevice(ctx, d); err != nil || u.ID != "g" {
			t.Fatalf("the device just added, d%d: %+v, %v", i+1, u, err)
		}
	}
	var kept []string
	for i := range 6 {
		if _, err := db.UserByDevice(ctx, []byte(fmt.Sprint("d", i))); err == nil {
			kept = append(kept, fmt.Sprint("d", i))
		} else if !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	if len(kept) != 3 || kept[0] < "d3" || !slices.Contains(kept, "d5") {
		t.Fatalf("devices that log in: %v, want the newest three (d5 with them)", kept)
	}
}

func testClaimSigningOut(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for _, g := range []Guest{{ID: "g", Name: "Ada", DeviceHash: []byte("d0")}, {ID: "h", Name: "Bob", DeviceHash: []byte("e0")}} {
		if _, err := db.CreateGuest(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"d1", "d2"} {
		if err := db.AddDevice(ctx, "g", []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	logsIn := func(want map[string]string) {
		t.Helper()
		for d, id := range want {
			u, err := db.UserByDevice(ctx, []byte(d))
			switch {
			case id == "" && !errors.Is(err, ErrNotFound):
				t.Fatalf("device %s: %+v, %v; want ErrNotFound", d, u, err)
			case id != "" && (err != nil || u.ID != id):
				t.Fatalf("device %s: %+v, %v; want account %s", d, u, err, id)
			}
		}
	}
	// A plain claim keeps every device.
	if err := db.ClaimName(ctx, "g", "Ada", "hash-1"); err != nil {
		t.Fatal(err)
	}
	logsIn(map[string]string{"d0": "g", "d1": "g", "d2": "g", "e0": "h"})
	// A claim signing out replaces every device of the account with the
	// new one; another account's are untouched.
	if err := db.ClaimNameSigningOut(ctx, "g", "Ada", "hash-2", []byte("n1")); err != nil {
		t.Fatal(err)
	}
	logsIn(map[string]string{"d0": "", "d1": "", "d2": "", "n1": "g", "e0": "h"})
	if u, err := db.UserByID(ctx, "g"); err != nil || u.PasswordHash != "hash-2" || u.Name != "Ada" || !u.Claimed {
		t.Fatalf("after the claim: %+v, %v", u, err)
	}
	// A refused claim deletes nothing.
	if err := db.ClaimNameSigningOut(ctx, "h", "ADA", "hash-3", []byte("n2")); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("claim of a taken name: %v, want ErrNameTaken", err)
	}
	logsIn(map[string]string{"n1": "g", "n2": "", "e0": "h"})
	if err := db.ClaimNameSigningOut(ctx, "nobody", "Cal", "hash-4", []byte("n3")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claim of an unknown account: %v, want ErrNotFound", err)
	}
	logsIn(map[string]string{"n3": ""})
	// Without a new device, none is left.
	if err := db.ClaimNameSigningOut(ctx, "g", "Ada", "hash-5", nil); err != nil {
		t.Fatal(err)
	}
	logsIn(map[string]string{"n1": "", "e0": "h"})
}

func testSanctions(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	now := time.UnixMilli(time.Now().UnixMilli())
	put := []Sanction{
		{UserID: "u1", Kind: SanctionKick, Reason: "spam", At: now, Until: now.Add(time.Hour)},
		{UserID: "u2", Kind: SanctionKick, Reason: "old", At: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)},
		{UserID: "u3", Kind: SanctionBan, Reason: "cheat", At: now},
		{UserID: "u4", Kind: SanctionRevoke, At: now},
	}
	for _, s := range put {
		if err := db.PutSanction(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Sanctions(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []Sanction{put[0], put[2], put[3]}
	if !sameSanctions(got, want) {
		t.Fatalf("Sanctions = %+v, want %+v", got, want)
	}
	// A kick that has run out no longer shows; a new kick replaces the old.
	if got, _ := db.Sanctions(ctx, now.Add(2*time.Hour)); len(got) != 2 {
		t.Fatalf("after the kick ends: %+v, want the ban and the revocation", got)
	}
	put[0].Until = now.Add(3 * time.Hour)
	if err := db.PutSanction(ctx, put[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Sanctions(ctx, now.Add(2*time.Hour)); len(got) != 3 {
		t.Fatalf("after extending the kick: %+v", got)
	}
	// A shorter kick after it, or a ban with an end after one without,
	// leaves the later end: each refuses what it refuses until then, and
	// the server's memory holds both.
	shorter := Sanction{UserID: "u1", Kind: SanctionKick, Reason: "again", At: now.Add(time.Minute), Until: now.Add(2 * time.Minute)}
	forever := Sanction{UserID: "u5", Kind: SanctionBan, Reason: "cheat", At: now}
	lapsing := Sanction{UserID: "u5", Kind: SanctionBan, Reason: "again", At: now.Add(time.Minute), Until: now.Add(time.Hour)}
	for _, s := range []Sanction{shorter, forever, lapsing} {
		if err := db.PutSanction(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = db.Sanctions(ctx, now.Add(2*time.Hour))
	want = []Sanction{put[2], put[3], {UserID: "u1", Kind: SanctionKick, Reason: "again", At: shorter.At, Until: put[0].Until}, {UserID: "u5", Kind: SanctionBan, Reason: "again", At: lapsing.At}}
	if !sameSanctions(got, want) {
		t.Fatalf("after a shorter kick and a ban with an end: %+v, want %+v", got, want)
	}
	if err := db.LiftSanction(ctx, "u3", SanctionBan); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Sanctions(ctx, now)
	for _, s := range got {
		if s.UserID == "u3" {
			t.Fatalf("lifted ban still listed: %+v", got)
		}
	}
	// A reason is kept on both backends, a NUL and bytes that are not
	// UTF-8 as U+FFFD.
	if err := db.PutSanction(ctx, Sanction{UserID: "u6", Kind: SanctionBan, Reason: "a\x00b\xffc", At: now}); err != nil {
		t.Fatalf("ban whose reason holds a NUL: %v", err)
	}
	got, _ = db.Sanctions(ctx, now)
	if i := slices.IndexFunc(got, func(s Sanction) bool { return s.UserID == "u6" }); i < 0 || got[i].Reason != "a\uFFFDb\uFFFDc" {
		t.Fatalf("ban whose reason held a NUL: %+v, want it kept with U+FFFD", got)
	}
}

func sameSanctions(a, b []Sanction) bool {
	return slices.EqualFunc(a, b, func(x, y Sanction) bool {
		return x.UserID == y.UserID && x.Kind == y.Kind && x.Reason == y.Reason && x.At.Equal(y.At) && x.Until.Equal(y.Until)
	})
}

func testSocial(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	t0 := time.UnixMilli(1_700_000_000_000)
	if err := db.PutFriendship(ctx, Friendship{From: "zed", To: "amy", State: FriendPending, Since: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFriendship(ctx, Friendship{From: "amy", To: "bob", State: FriendPending, Since: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	fs, err := db.Friendships(ctx, "amy")
	if err != nil || len(fs) != 2 || fs[0].From != "zed" || fs[0].State != FriendPending || fs[1].To != "bob" {
		t.Fatalf("amy's edges = %+v, %v", fs, err)
	}
	// amy accepts zed: one accepted edge, whichever way it is stored.
	if err := db.PutFriendship(ctx, Friendship{From: "zed", To: "amy", State: FriendAccepted, Since: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	fs, _ = db.Friendships(ctx, "zed")
	if len(fs) != 1 || fs[0].State != FriendAccepted || !fs[0].Since.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("zed's edges = %+v", fs)
	}
	// A request stored after the acceptance (two nodes' write queues, the
	// request's behind) does not undo the friendship.
	if err := db.PutFriendship(ctx, Friendship{From: "zed", To: "amy", State: FriendPending, Since: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if fs, _ = db.Friendships(ctx, "zed"); len(fs) != 1 || fs[0].State != FriendAccepted || !fs[0].Since.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("zed's edges after a late request = %+v", fs)
	}
	// bob declines: the request is gone for both.
	if err := db.DeleteFriendship(ctx, "bob", "amy"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := db.Friendships(ctx, "bob"); len(fs) != 0 {
		t.Fatalf("bob's edges after decline = %+v", fs)
	}
	if err := db.PutFriendship(ctx, Friendship{From: "amy", To: "amy", State: FriendPending}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self friendship: %v, want ErrInvalid", err)
	}
	for _, b := range []string{"mal", "eve", "mal"} {
		if err := db.Block(ctx, "amy", b); err != nil {
			t.Fatal(err)
		}
	}
	if bs, err := db.Blocks(ctx, "amy"); err != nil || len(bs) != 2 {
		t.Fatalf("blocks = %v, %v; want mal and eve once each", bs, err)
	}
	if err := db.Unblock(ctx, "amy", "mal"); err != nil {
		t.Fatal(err)
	}
	if bs, _ := db.Blocks(ctx, "amy"); !slices.Equal(bs, []string{"eve"}) {
		t.Fatalf("blocks after unblock = %v", bs)
	}
	if err := db.Block(ctx, "amy", "zed"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		except      string
		limit, want int
	}{{"", 10, 2}, {"", 2, 2}, {"", 1, 1}, {"zed", 10, 1}, {"mal", 10, 2}} {
		if n, err := db.CountBlocks(ctx, "amy", tc.except, tc.limit); err != nil || n != tc.want {
			t.Errorf("CountBlocks(amy, except %q, %d) = %d, %v; want %d", tc.except, tc.limit, n, err, tc.want)
		}
	}
}

func testInbox(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.InboxKeep = 3
	db := open(t, cfg)
	var lines []Line
	for i := range 5 {
		lines = append(lines, Line{To: "bob", From: "amy", FromName: "Amy", Text: fmt.Sprint("dm ", i)})
	}
	lines = append(lines, Line{To: "cat", From: "amy", Text: "hi cat"})
	if err := db.AppendLines(ctx, lines); err != nil {
		t.Fatal(err)
	}
	in, err := db.Inbox(ctx, "bob")
	if err != nil || len(in) != 3 || in[0].Text != "dm 2" || in[2].Text != "dm 4" || in[0].To != "bob" {
		t.Fatalf("bob's inbox = %+v, %v; want the newest 3, oldest first", in, err)
	}
	if err := db.AckInbox(ctx, "bob", inboxIDs(in[:2])); err != nil {
		t.Fatal(err)
	}
	if in, _ := db.Inbox(ctx, "bob"); len(in) != 1 || in[0].Text != "dm 4" {
		t.Fatalf("after ack = %+v", in)
	}
	if in, _ := db.Inbox(ctx, "cat"); len(in) != 1 {
		t.Fatalf("cat's inbox = %+v", in)
	}
}

// testInboxPerSender: a sender that writes more than its share of a
// recipient's inbox loses its own oldest messages, never a friend's,
// however many it writes, in one batch or in several.
func testInboxPerSender(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	if err := db.PutFriendship(ctx, Friendship{From: "amy", To: "bob", State: FriendAccepted}); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLines(ctx, []Line{{To: "bob", From: "amy", Text: "see you tonight"}}); err != nil {
		t.Fatal(err)
	}
	for batch := range 3 {
		var lines []Line
		for i := range 50 {
			lines = append(lines, Line{To: "bob", From: "spam", Text: fmt.Sprint("spam ", batch*50+i)})
		}
		if err := db.AppendLines(ctx, lines); err != nil {
			t.Fatal(err)
		}
	}
	in, err := db.Inbox(ctx, "bob")
	if err != nil || len(in) < 2 || in[0].Text != "see you tonight" {
		t.Fatalf("bob's inbox after 150 messages of one sender: %d messages, %v; the oldest is %q, want amy's kept", len(in), err, in[0].Text)
	}
	if n := len(in) - 1; n != defaultInboxPerSender || in[1].Text != fmt.Sprint("spam ", 150-defaultInboxPerSender) || in[n].Text != "spam 149" {
		t.Fatalf("bob's inbox kept %d of the sender's 150, from %q to %q; want its newest %d", n, in[1].Text, in[n].Text, defaultInboxPerSender)
	}
}

// testInboxStrangers: senders who are not the recipient's friends, each
// within its own share, together hold at most defaultInboxStrangers of
// its inbox, their own oldest going first, so that the guests of one
// address cannot push a friend's message out; a friend request standing
// makes no friend.
func testInboxStrangers(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for _, f := range []Friendship{{From: "amy", To: "bob", State: FriendAccepted}, {From: "guest0", To: "bob", State: FriendPending}} {
		if err := db.PutFriendship(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendLines(ctx, []Line{{To: "bob", From: "amy", Text: "see you tonight"}}); err != nil {
		t.Fatal(err)
	}
	const guests = 5
	for g := range guests {
		var lines []Line
		for i := range defaultInboxPerSender {
			lines = append(lines, Line{To: "bob", From: fmt.Sprint("guest", g), Text: fmt.Sprint("spam ", g*defaultInboxPerSender+i)})
		}
		if err := db.AppendLines(ctx, lines); err != nil {
			t.Fatal(err)
		}
	}
	in, err := db.Inbox(ctx, "bob")
	if err != nil || len(in) < 2 || in[0].Text != "see you tonight" {
		t.Fatalf("bob's inbox after %d senders of %d messages: %d messages, %v; the oldest is %q, want amy's kept", guests, defaultInboxPerSender, len(in), err, in[0].Text)
	}
	last := guests*defaultInboxPerSender - 1
	if n := len(in) - 1; n != defaultInboxStrangers || in[1].Text != fmt.Sprint("spam ", last+1-defaultInboxStrangers) || in[n].Text != fmt.Sprint("spam ", last) {
		t.Fatalf("bob's inbox kept %d of the strangers' %d, from %q to %q; want their newest %d", n, last+1, in[1].Text, in[n].Text, defaultInboxStrangers)
	}
}

func testSecret(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	db := open(t, cfg)
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte(fmt.Sprint("secret-", calls)), nil }
	s1, err := db.Secret(ctx, "token-key", gen)
	if err != nil || string(s1) != "secret-1" {
		t.Fatalf("first Secret = %q, %v", s1, err)
	}
	s2, err := db.Secret(ctx, "token-key", gen)
	if err != nil || string(s2) != "secret-1" || calls != 1 {
		t.Fatalf("second Secret = %q, %v after %d generations; want the first, generated once", s2, err, calls)
	}
	// Racing callers all get one value.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			s, err := db.Secret(ctx, "race", func() ([]byte, error) { return []byte(fmt.Sprint("r", i)), nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = string(s)
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatalf("racing Secret calls disagree: %q", got)
		}
	}
	if _, err := db.Secret(ctx, "../escape", gen); !errors.Is(err, ErrInvalid) {
		t.Fatalf("secret name with a path: %v, want ErrInvalid", err)
	}
}

func testReopen(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGuest(ctx, Guest{ID: "g", Name: "Ada", DeviceHash: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimName(ctx, "g", "Ada", "h"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFriendship(ctx, Friendship{From: "g", To: "h", State: FriendAccepted}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteResults(ctx, []Result{gomokuResult("r", "g", "h", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSanction(ctx, Sanction{UserID: "h", Kind: SanctionBan}); err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "k", func() ([]byte, error) { return []byte("kept"), nil })
	if err != nil {
		t.Fatal(err)
	}
	version := db.SchemaVersion()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := db.UserByID(ctx, "g"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v, want ErrClosed", err)
	}
	db = open(t, cfg)
	if db.SchemaVersion() != version || version < 1 {
		t.Fatalf("schema version %d after reopen, %d before", db.SchemaVersion(), version)
	}
	if u, err := db.UserByDevice(ctx, []byte("d")); err != nil || u.Name != "Ada" || !u.Claimed {
		t.Fatalf("account after reopen = %+v, %v", u, err)
	}
	if fs, _ := db.Friendships(ctx, "g"); len(fs) != 1 {
		t.Fatalf("friends after reopen = %+v", fs)
	}
	if s, err := db.Standing(ctx, "gomoku", "g"); err != nil || s.Wins != 1 {
		t.Fatalf("standing after reopen = %+v, %v", s, err)
	}
	if ss, _ := db.Sanctions(ctx, time.Now()); len(ss) != 1 {
		t.Fatalf("sanctions after reopen = %+v", ss)
	}
	if k, _ := db.Secret(ctx, "k", func() ([]byte, error) { return []byte("new"), nil }); string(k) != string(key) {
		t.Fatalf("secret after reopen = %q, want %q", k, key)
	}
}

func testSchemaNewer(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	db := open(t, cfg)
	// A newer binary ran here: it recorded version 999.
	if _, err := db.exec(ctx, "test", `INSERT INTO `+versionTable+` (version_id, is_applied) VALUES (999, true)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(ctx, cfg)
	if !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("Open on a newer schema: %v, want ErrSchemaNewer", err)
	}
	t.Logf("error: %v", err)
}

func testMigrationHalfway(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.migrations = fstest.MapFS{
		"00001_one.sql": {Data: []byte("-- +goose Up\nCREATE TABLE one (id INTEGER PRIMARY KEY);\n")},
		// The first statement works, the second does not: the whole
		// migration must roll back.
		"00002_two.sql": {Data: []byte("-- +goose Up\nCREATE TABLE two (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n")},
	}
	_, err := Open(ctx, cfg)
	if !errors.Is(err, ErrMigration) {
		t.Fatalf("Open with a failing migration: %v, want ErrMigration", err)
	}
	t.Logf("error: %v", err)
	// Fixed migrations apply from the last good version: 1 stayed, 2's
	// first table was rolled back with it.
	cfg.migrations = fstest.MapFS{
		"00001_one.sql": cfg.migrations.(fstest.MapFS)["00001_one.sql"],
		"00002_two.sql": {Data: []byte("-- +goose Up\nCREATE TABLE two (id INTEGER PRIMARY KEY);\n")},
	}
	db := open(t, cfg)
	if db.SchemaVersion() != 2 {
		t.Fatalf("version after the fix = %d, want 2", db.SchemaVersion())
	}
}

func testBadInput(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	long := string(make([]byte, MaxLineLen+1))
	for name, err := range map[string]error{
		"guest without device": func() error { _, err := db.CreateGuest(ctx, Guest{ID: "x", Name: "x"}); return err }(),
		"line to nowhere":      db.AppendLines(ctx, []Line{{From: "a", Text: "t"}}),
		"line too long":        db.AppendLines(ctx, []Line{{Channel: "c", From: "a", Text: long}}),
		"line with a NUL byte": db.AppendLines(ctx, []Line{{Channel: "c", From: "a", Text: "a\x00"}}),
		"block of a NUL id":    db.Write(ctx, &Batch{Graph: []GraphOp{{Kind: GraphUnblock, A: "a", B: "b\x00"}}}),
		"result without game":  db.WriteResults(ctx, []Result{{Room: "r"}}),
		"page of zero":         func() error { _, err := db.History(ctx, "a", 0, 0); return err }(),
		"page too big":         func() error { _, err := db.ChannelLines(ctx, "c", 0, MaxPage+1); return err }(),
		"unknown sanction":     db.PutSanction(ctx, Sanction{UserID: "u", Kind: "exile"}),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func testGraphBatch(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	b := Batch{Graph: []GraphOp{
		{Kind: GraphPutFriendship, Friendship: Friendship{From: "ann", To: "bob", State: FriendPending, Since: at}},
		{Kind: GraphPutFriendship, Friendship: Friendship{From: "bob", To: "ann", State: FriendAccepted, Since: at.Add(time.Second)}},
		{Kind: GraphPutFriendship, Friendship: Friendship{From: "ann", To: "cy", State: FriendPending, Since: at}},
		{Kind: GraphDeleteFriendship, A: "cy", B: "ann"},
		{Kind: GraphPutFriendship, Friendship: Friendship{From: "dee", To: "ann", State: FriendPending, Since: at}},
		{Kind: GraphBlock, A: "ann", B: "eve"},
		{Kind: GraphBlock, A: "ann", B: "fay"},
		{Kind: GraphUnblock, A: "ann", B: "fay"},
	}}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	fs, err := db.Friendships(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	want := []Friendship{
		{From: "dee", To: "ann", State: FriendPending, Since: at},
		{From: "bob", To: "ann", State: FriendAccepted, Since: at.Add(time.Second)},
	}
	if !slices.EqualFunc(fs, want, func(a, b Friendship) bool {
		return a.From == b.From && a.To == b.To && a.State == b.State && a.Since.Equal(b.Since)
	}) {
		t.Fatalf("ann's edges = %+v, want %+v", fs, want)
	}
	if bl, err := db.Blocks(ctx, "ann"); err != nil || !slices.Equal(bl, []string{"eve"}) {
		t.Fatalf("ann's blocks = %v, %v; want [eve]", bl, err)
	}
	bad := Batch{Graph: []GraphOp{{Kind: GraphBlock, A: "ann", B: "ann"}}}
	if err := db.Write(ctx, &bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self-block: %v, want ErrInvalid", err)
	}
}

func testRequestsTo(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	u, err := db.CreateGuest(ctx, Guest{ID: "bo", Name: "Bo", DeviceHash: []byte("device-of-bo")})
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	for i, f := range []Friendship{
		{From: "cy", To: "amy", State: FriendPending, Since: at.Add(2 * time.Second)},
		{From: u.ID, To: "amy", State: FriendPending, Since: at.Add(time.Second)},
		{From: "dee", To: "amy", State: FriendPending, Since: at.Add(3 * time.Second)},
		{From: "amy", To: "eve", State: FriendPending, Since: at},
		{From: "fay", To: "amy", State: FriendAccepted, Since: at},
	} {
		if err := db.PutFriendship(ctx, f); err != nil {
			t.Fatal(i, err)
		}
	}
	for _, tc := range []struct {
		except      string
		limit, want int
	}{{"", 2, 2}, {"", 3, 3}, {"", 10, 3}, {"cy", 10, 2}, {"cy", 2, 2}, {"fay", 10, 3}} {
		if n, err := db.CountFriendRequestsTo(ctx, "amy", tc.except, tc.limit); err != nil || n != tc.want {
			t.Errorf("CountFriendRequestsTo(amy, except %q, %d) = %d, %v; want %d", tc.except, tc.limit, n, err, tc.want)
		}
	}
	rs, err := db.FriendRequestsTo(ctx, "amy", 2)
	if err != nil || len(rs) != 2 || rs[0].From != u.ID || rs[0].FromName != "Bo" || !rs[0].Since.Equal(at.Add(time.Second)) || rs[1].From != "cy" || rs[1].FromName != "" {
		t.Fatalf("FriendRequestsTo(amy, 2) = %+v, %v; want Bo's then cy's (no account)", rs, err)
	}
	own, err := db.OwnFriendships(ctx, "amy")
	if err != nil || len(own) != 2 || own[0].To != "eve" && own[1].To != "eve" || own[0].State != FriendAccepted && own[1].State != FriendAccepted {
		t.Fatalf("OwnFriendships(amy) = %+v, %v; want the request to eve and the friendship with fay", own, err)
	}
	// As many as OwnFriendships lists, up to the limit.
	for _, tc := range []struct {
		except      string
		limit, want int
	}{{"", 10, 2}, {"", 2, 2}, {"", 1, 1}, {"eve", 10, 1}, {"fay", 10, 1}, {"cy", 10, 2}} {
		if n, err := db.CountOwnFriendships(ctx, "amy", tc.except, tc.limit); err != nil || n != tc.want {
			t.Errorf("CountOwnFriendships(amy, except %q, %d) = %d, %v; want %d", tc.except, tc.limit, n, err, tc.want)
		}
	}
}
