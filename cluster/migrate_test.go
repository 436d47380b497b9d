package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestMovedRoomStaysListed: a room saved on node a and restored on node b
// under the same id is listed on b with its seats; neither a's sync
// (which sees the room gone from a), nor a's leaving, nor the sweep of a's
// expired registration unlists it.
func TestMovedRoomStaysListed(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := a.create(t, game.RoomOptions{Game: "gomoku"}, "gomoku/2")
	id := room.ID()
	saved := make(chan *tickroomv1.SavedRoom, 1)
	if err := room.Handoff(func(s *tickroomv1.SavedRoom, err error) {
		if err != nil {
			t.Error(err)
		}
		saved <- s
	}); err != nil {
		t.Fatal(err)
	}
	var s *tickroomv1.SavedRoom
	select {
	case s = <-saved:
	case <-time.After(5 * time.Second):
		t.Fatal("the room did not save")
	}
	s.Members = []*tickroomv1.SavedMember{{Seat: 1, UserId: "u1", Name: "one"}}
	moved, err := b.rt.RestoreRoom(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.dir.Publish(ctx, moved, a.dir.Pool(id)); err != nil {
		t.Fatal(err)
	}
	listedOnB := func(when string) {
		t.Helper()
		r, err := a.dir.Locate(ctx, id)
		if err != nil || r.NodeID != "b" {
			t.Fatalf("%s: room located on %q (%v), want b", when, r.NodeID, err)
		}
		n, err := rs.Client(t).ZScore(ctx, a.keys.Seats(id), "u1").Result()
		if err != nil || n < 1e15 {
			t.Fatalf("%s: u1's seat scored %v (%v), want seated", when, n, err)
		}
	}
	// a's sync runs every 50 ms and finds the room gone from a; its
	// removal may come after b's listing, as here.
	if err := a.dir.pipelined(ctx, func(p redis.Pipeliner) { a.dir.unpublish(ctx, p, id) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	listedOnB("after a's sync")

	// a crashes with the room still in its set: the sweep of its expired
	// registration leaves the room to b.
	rdb := rs.Client(t)
	rdb.SAdd(ctx, a.keys.NodeRooms("a"), id)
	rdb.SAdd(ctx, a.keys.RoomNodes(), "a")
	if err := a.Node.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.dir.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	listedOnB("after a left and was swept")
	if n, _ := rdb.Exists(ctx, a.keys.NodeRooms("a")).Result(); n != 0 {
		t.Fatal("the sweep left a's room set")
	}
	if n, _ := rs.Client(t).Exists(ctx, a.keys.Lost(id)).Result(); n != 0 {
		t.Fatal("a tombstone was left for a room that moved")
	}
}

// TestReclaimSaveOnlyWhenReturned: a draining node whose target did not
// answer restores a room itself only when its own GETDEL returned the
// save. A save another node took reads as taken, and a Redis that does
// not answer as unknown, never as reclaimed: in both the target's copy
// wins, so a room never runs on two nodes.
func TestReclaimSaveOnlyWhenReturned(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	key := Keys{Prefix: "tickroom:"}.Saved("r1")
	if err := rdb.Set(ctx, key, "save", SavedTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if got := reclaimSave(rdb, key, time.Second); got != saveReclaimed {
		t.Fatalf("save still there: %v, want reclaimed", got)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("a reclaimed save is still in Redis: the target could take it too")
	}
	// As after the target's GETDEL.
	if got := reclaimSave(rdb, key, time.Second); got != saveTaken {
		t.Fatalf("save taken by another node: %v, want taken", got)
	}
	if err := rdb.Set(ctx, key, "save", SavedTTL).Err(); err != nil {
		t.Fatal(err)
	}
	rs.Stop(t)
	if got := reclaimSave(rdb, key, 200*time.Millisecond); got != saveUnknown {
		t.Fatalf("Redis down: %v, want unknown", got)
	}
}
