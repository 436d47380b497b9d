package tickroom_test

import (
	"strings"
	"testing"

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
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
	}{
		{"ListRooms", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}},
		{"WatchRooms", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: &tickroomv1.WatchRooms{WatchId: 1}}}},
	} {
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
		if unavailable == 0 || unavailable == 100 {
			t.Fatalf("100 %s of one connection with Redis stopped: %d UNAVAILABLE, each a call to Redis, before RATE_LIMITED", tc.name, unavailable)
		}
	}
}
