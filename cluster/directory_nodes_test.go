package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// TestRestartedNodeDropsItsOldRooms: a node that crashes and starts again
// under the same id before its registration expired (a supervisor that
// restarts it at once, with a fixed -node-id) registers once that
// registration lapsed; the rooms its previous process listed leave the
// listings and pools by then (its republish drops those the sweep has
// not), and a player of one of them learns it was lost.
func TestRestartedNodeDropsItsOldRooms(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	old := b.create(t, game.RoomOptions{Game: "arena"}, "p")
	// b crashes: its heartbeat and sync stop without a goodbye, and it
	// starts again at once under the same id, with no rooms.
	b.dir.mu.Lock()
	close(b.dir.stop)
	b.dir.stop = nil
	b.dir.mu.Unlock()
	b.Node.mu.Lock()
	close(b.Node.stop)
	b.Node.running = false
	b.Node.mu.Unlock()
	<-b.Node.done
	b2 := startDirNode(t, rs, "b")
	waitFor(t, 5*time.Second, "the old process's room unlisted", func() bool {
		rooms, _, _ := a.dir.List(ctx, hub.RoomQuery{Limit: 10})
		return len(rooms) == 0
	})
	if _, ok, _ := a.dir.Match(ctx, "p", "u", nil, nil); ok {
		t.Fatal("matched into a room of the restarted node's previous process")
	}
	if _, err := a.dir.Reserve(ctx, old.ID(), "u", ""); code(err) != protocol.ErrorRoomLost {
		t.Fatalf("reserve in the old process's room: %v, want ROOM_LOST", err)
	}
	if _, err := a.dir.Locate(ctx, old.ID()); code(err) != protocol.ErrorRoomLost {
		t.Fatalf("locate the old process's room: %v, want ROOM_LOST", err)
	}
	// With no room listed, b is in no key the sweep walks.
	if rs.Client(t).SIsMember(ctx, a.keys.RoomNodes(), "b").Val() {
		t.Fatal("b, whose old rooms were dropped and which lists none, is still in roomnodes")
	}
	// The new process's own rooms are listed as ever.
	r := b2.create(t, game.RoomOptions{Game: "arena"}, "p")
	waitFor(t, 5*time.Second, "the new room listed", func() bool {
		rooms, _, _ := a.dir.List(ctx, hub.RoomQuery{Limit: 10})
		return len(rooms) == 1 && rooms[0].ID == r.ID()
	})
}

// TestSecondProcessUnderALiveNodesIDStaysOut: a second process started
// under the id of a node that runs (two replicas given the same
// -node-id) neither takes over its registration, so that the others
// would redirect its players to the wrong process, nor drops its rooms as
// a previous process's, their players told ROOM_LOST: it stays
// unregistered and not ready, saying why, and its leaving removes nothing
// of the live node's. It registers once that node is gone.
func TestSecondProcessUnderALiveNodesIDStaysOut(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := b.create(t, game.RoomOptions{Game: "arena"}, "p")
	bURL := b.WebSocketURL()

	twin := dirNodeOver(t, startNodeUnregistered(t, rs, "b"), DirectoryConfig{})
	waitFor(t, 5*time.Second, "the second process's first heartbeats", func() bool {
		err := twin.Ready()
		return err == nil || strings.Contains(err.Error(), "in use")
	})
	time.Sleep(time.Second) // five heartbeats and twenty syncs of the second process
	if r, err := a.dir.Locate(ctx, room.ID()); err != nil || r.NodeID != "b" || r.URL != bURL {
		t.Fatalf("locate b's room once a second process runs under b's id: %+v %v, want on b at %s", r, err, bURL)
	}
	if err := twin.Ready(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("the second process under b's id is ready: %v, want an error saying the id is in use", err)
	}
	// It lists no room of its own meanwhile, as a node cut off from
	// Redis would not: listed under b's id, the room would send players
	// to the live b, which has no such room.
	own, err := twin.rt.CreateRoom(game.RoomOptions{Game: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	if err := twin.dir.Publish(ctx, own, "p"); code(err) != protocol.ErrorUnavailable {
		t.Fatalf("a room published by the second process under b's id: %v, want UNAVAILABLE", err)
	}
	if _, err := a.dir.Locate(ctx, own.ID()); code(err) != protocol.ErrorRoomNotFound {
		t.Fatalf("locate the second process's room: %v, want ROOM_NOT_FOUND", err)
	}
	twin.dir.Close(ctx)
	if err := twin.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, a.Node); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("nodes once the second process under b's id left: %v, want [a b]", got)
	}
	if r, err := a.dir.Locate(ctx, room.ID()); err != nil || r.URL != bURL {
		t.Fatalf("locate b's room once the second process left: %+v %v", r, err)
	}

	// Once b is gone, a process under its id registers.
	again := startNodeUnregistered(t, rs, "b")
	_ = b.dir.Close(ctx)
	_ = b.Close(ctx)
	waitFor(t, 5*time.Second, "a process under b's id registered once b left", func() bool { return again.Ready() == nil })
	if got := ids(t, a.Node); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("nodes: %v, want [a b]", got)
	}
}

// TestFailedPublishOfAnEndedRoomLeavesNoListing: a room's Publish fails
// and the room is closed, as the hub closes a room it could not list.
// With Redis down, the directory forgets the room once Redis is back (it
// kept every such room's id and pool for as long as the node ran). With
// Redis stalled, Redis runs the write it had received when it answers
// again: the listing of a room that no longer exists is removed, as any
// ended room's, instead of staying in the lobby for as long as the node
// runs. The periodic sync is kept out of the way (it may write the room
// while it lives, and then remove it as ended): the re-registration after
// the failed heartbeats must clean up alone.
func TestFailedPublishOfAnEndedRoomLeavesNoListing(t *testing.T) {
	// Not parallel: it stops and freezes Redis (SIGSTOP) past a failed
	// heartbeat, timed by sleeps; it runs alone, before the parallel tests.
	rs := redistest.Start(t)
	a := startDirNodeWith(t, rs, "a", DirectoryConfig{SyncInterval: time.Hour})
	rdb := rs.Client(t)
	ctx := context.Background()
	a.create(t, game.RoomOptions{Game: "gomoku"}, "p") // the scripts are loaded

	failPublish := func(outage func(), back func()) *game.Room {
		t.Helper()
		r, err := a.rt.CreateRoom(game.RoomOptions{Game: "gomoku"})
		if err != nil {
			t.Fatal(err)
		}
		outage()
		if err := a.dir.Publish(ctx, r, "p"); code(err) != protocol.ErrorUnavailable {
			back()
			t.Fatalf("publish without Redis: %v, want UNAVAILABLE", err)
		}
		r.Close("could not be listed")
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, ok := a.rt.Room(r.ID()); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the room did not close")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Past a failed heartbeat: the node registers again (and writes
		// its rooms from memory) once Redis answers.
		time.Sleep(500 * time.Millisecond)
		back()
		return r
	}
	cleared := func(what string, r *game.Room) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, err := rdb.Exists(ctx, a.keys.Room(r.ID())).Result()
			inPool, perr := rdb.ZScore(ctx, a.keys.Pool("p"), r.ID()).Result()
			a.dir.mu.Lock()
			_, known := a.dir.pools[r.ID()]
			a.dir.mu.Unlock()
			if err == nil && n == 0 && errors.Is(perr, redis.Nil) && !known {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s, 5 s after Redis answered again: ended room listed %v (%v), in its pool %v (score %v), the directory keeps it %v", what, n == 1, err, perr == nil, inPool, known)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	r := failPublish(func() { rs.Stop(t) }, func() { rs.Restart(t) })
	cleared("Redis down", r)
	r = failPublish(func() { rs.Pause(t) }, func() { rs.Resume(t) })
	cleared("Redis stalled", r)
}

// TestNodeWithoutRoomsLeavesTheSweepsSet: tickroom:roomnodes names the
// nodes that have rooms listed, which the sweep walks. A node whose last
// room ended, or that closed, is no longer in it: the set used to keep
// every node that ever listed a room until another node swept it as
// dead, so the last node of a cluster that stopped left its id there for
// good.
func TestNodeWithoutRoomsLeavesTheSweepsSet(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	rdb := rs.Client(t)
	ra := a.create(t, game.RoomOptions{Game: "arena"}, "p")
	b.create(t, game.RoomOptions{Game: "arena"}, "p")
	if got := rdb.SMembers(ctx, a.keys.RoomNodes()).Val(); len(got) != 2 {
		t.Fatalf("roomnodes %v, want a and b", got)
	}
	ra.Close("test")
	waitFor(t, 5*time.Second, "a's ended room unlisted", func() bool { return rdb.Exists(ctx, a.keys.Room(ra.ID())).Val() == 0 })
	if rdb.SIsMember(ctx, a.keys.RoomNodes(), "a").Val() {
		t.Fatal("a, with no room listed, is still in roomnodes")
	}
	if err := b.dir.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rdb.SMembers(ctx, a.keys.RoomNodes()).Val(); len(got) != 0 {
		t.Fatalf("after b closed, roomnodes holds %v", got)
	}
	// A new room lists its node again.
	a.create(t, game.RoomOptions{Game: "arena"}, "p")
	if !rdb.SIsMember(ctx, a.keys.RoomNodes(), "a").Val() {
		t.Fatal("a, listing a room again, is not in roomnodes")
	}
}
