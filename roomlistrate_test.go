package tickroom_test

import (
	"math"
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRoomListRatePerIPOption: Options.RoomListRatePerIP sets the rate of
// the room lists the connections of one client address share (their
// burst is 5 × MaxConnsPerIP, here 5): at a list every 1,000 s the sixth
// ListRooms is refused with a hint of about that long, where the default
// 64 a second would hint a few milliseconds; +Inf turns the budget off.
func TestRoomListRatePerIPOption(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		rate    float64
		refused bool
	}{
		{"slow", 0.001, true},
		{"off", math.Inf(1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) {
				o.TrustedProxies = []string{"127.0.0.1"}
				o.MaxConnsPerIP = 1
				o.RoomListRatePerIP = tc.rate
			})
			c := connectFrom(t, srv, a, newGuest(t, a, "lister"), "203.0.113.21")
			for i := 1; i <= 10; i++ {
				m := c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}})
				if m.GetRoomList() != nil {
					if tc.refused && i > 5 {
						t.Fatalf("ListRooms %d of one address, a burst of 5 at %v a second: served", i, tc.rate)
					}
					continue
				}
				if !tc.refused || i <= 5 || errorCode(m) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || m.GetError().RetryAfterMs < 100_000 {
					t.Fatalf("ListRooms %d of one address, a burst of 5 at %v a second: %v", i, tc.rate, m)
				}
				return
			}
			if tc.refused {
				t.Fatalf("10 ListRooms of one address at %v a second served", tc.rate)
			}
		})
	}
}
