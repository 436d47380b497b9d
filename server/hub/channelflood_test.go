package hub_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Each guest is held to the chat rate, but a lobby channel took as many
// lines as its members sent together: guests that joined one channel
// each posting their burst and then their rate multiplied the lines every
// member got (and the server's deliveries) by their number, so that a few
// dozen guests sent each reader of a public channel more than a slow
// connection keeps up with, and got it closed. A channel now takes its own
// line rate, and a line past it is refused with ERROR_CODE_RATE_LIMITED
// and a retry_after_ms.
func TestALobbyChannelTakesABoundedLineRate(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	reader, _ := e.connect("reader")
	if reader.Request(joinChannel("general")).GetChatHistory() == nil {
		t.Fatal("reader's join refused")
	}
	const guests = 20
	var cs []*client
	for i := range guests {
		c, _ := e.connect(fmt.Sprint("guest", i))
		if c.Request(joinChannel("general")).GetChatHistory() == nil {
			t.Fatalf("guest %d's join refused", i)
		}
		cs = append(cs, c)
	}
	// Every guest sends its chat burst (10 lines) at once: 200 lines.
	text := strings.Repeat("x", 400)
	ids := make([][]uint32, guests)
	for i, c := range cs {
		for range 10 {
			ids[i] = append(ids[i], c.Send(channelChat("general", text)))
		}
	}
	accepted, limited := 0, 0
	for i, c := range cs {
		for _, id := range ids[i] {
			m := c.Reply(id)
			switch {
			case m.GetOk() != nil:
				accepted++
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
				if m.GetError().RetryAfterMs == 0 {
					t.Fatalf("refused without a retry_after_ms: %v", m)
				}
				limited++
			default:
				t.Fatalf("guest %d: %v", i, m)
			}
		}
	}
	if accepted > 60 { // a burst of 40, and 20 a second
		t.Fatalf("the channel took %d of %d lines sent at once (%d refused)", accepted, guests*10, limited)
	}
	got := 0
	for _, m := range reader.Drain(300 * time.Millisecond) {
		if m.GetChat() != nil {
			got++
		}
	}
	if got != accepted {
		t.Fatalf("the reader got %d lines, %d were accepted", got, accepted)
	}
	// The channel takes lines again once its rate refills, from anyone.
	time.Sleep(time.Second)
	ok(t, reader.Request(channelChat("general", "still here")))
}
