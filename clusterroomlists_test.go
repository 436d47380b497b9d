package tickroom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRoomListsAreBoundedWhileRedisIsDown: on a node of a cluster a
// ListRooms, and a WatchRooms's first list, are asked of Redis; one the
// directory failed gave its connection's token back, so while Redis was
// down (or slow: a listing may have walked its rooms there before the
// request timed out) a connection's room lists had no bound at all, each
// a call to Redis. They are now charged as any other: past the
// connection's burst they are refused RATE_LIMITED before Redis is asked.
func TestRoomListsAreBoundedWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))})
	c := dial(t, srv, "lister")
	rdb.Stop(t)
	// Each is held to its connection's bucket (hub.Config defaults: 20 at
	// once then 4 a second, 16 then 2): however slowly the failing calls
	// come back, the UNAVAILABLE answers are no more than the bucket
	// holds in the time they took.
	for _, tc := range []struct {
		name  string
		burst float64
		rate  float64
		msg   *tickroomv1.ClientMessage
	}{
		{"ListRooms", 20, 4, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}},
		{"WatchRooms", 16, 2, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: &tickroomv1.WatchRooms{WatchId: 1}}}},
	} {
		began := time.Now()
		unavailable := 0
		for range 100 {
			m := c.Request(tc.msg)
			if errorCode(m) == tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
				unavailable++
				continue
			}
			if errorCode(m) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || m.GetError().RetryAfterMs == 0 {
				t.Fatalf("%s %d of one connection with Redis stopped: %v, want UNAVAILABLE or RATE_LIMITED", tc.name, unavailable+1, m)
			}
			break
		}
		took := time.Since(began)
		if bound := tc.burst + tc.rate*took.Seconds() + 1; unavailable == 0 || float64(unavailable) > bound {
			t.Fatalf("%s of one connection with Redis stopped: %d UNAVAILABLE in %v, each a call to Redis, before RATE_LIMITED; the bucket holds %.0f in that time", tc.name, unavailable, took.Round(time.Millisecond), bound)
		}
		t.Logf("%s: %d UNAVAILABLE in %v, the bucket's bound %.0f", tc.name, unavailable, took.Round(time.Millisecond), tc.burst+tc.rate*took.Seconds()+1)
	}
}

// TestAFifthWatchIsListFullWhileRedisIsDown: on a node of a cluster a
// WatchRooms past the connection's 4 watches was refused LIST_FULL only
// off the event loop, after it had taken one of the connection's lobby
// requests in flight and walked the cluster's rooms (or waited on
// another's walk): with Redis down, once the latest walk was older than
// a second, it was refused UNAVAILABLE, as if asking again could serve
// it. It is now refused LIST_FULL on the loop, before anything is asked.
func TestAFifthWatchIsListFullWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))})
	c := dial(t, srv, "watcher")
	watch := func(id uint32) *tickroomv1.ServerMessage {
		return c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: &tickroomv1.WatchRooms{WatchId: id}}})
	}
	for id := uint32(1); id <= 4; id++ {
		if m := watch(id); m.GetRoomList() == nil {
			t.Fatalf("watch %d of 4: %v", id, m)
		}
	}
	rdb.Stop(t)
	// The latest walk of the cluster's rooms serves a new watch for a
	// second; past it a new watch would walk again, and fail.
	for i, deadline := 1, time.Now().Add(3*time.Second); time.Now().Before(deadline); i++ {
		if m := watch(5); errorCode(m) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
			t.Fatalf("a fifth watch of a connection holding 4, asked %d times with Redis stopped: %v, want LIST_FULL", i, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A watch of a held id replaces it: not LIST_FULL (Redis is down).
	if m := watch(4); errorCode(m) != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("watch 4 again, Redis stopped: %v, want UNAVAILABLE", m)
	}
}
