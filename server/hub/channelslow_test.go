package hub_test

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/hub"
)

// TestLobbyNonReadersAreClosedWhileOthersKeepChatting: members of a lobby
// channel that never read while others chat are closed with
// CLOSE_CODE_SLOW_CLIENT, each once its output passes the hard cap or
// stays over its budget, while the reading members get every line in
// order; what the server holds for them all stays under their hard caps.
func TestLobbyNonReadersAreClosedWhileOthersKeepChatting(t *testing.T) {
	const (
		stalled  = 6
		reliable = 64 << 10
		hardCap  = 256 << 10
		lineSize = 8 << 10
	)
	e := start(t, options{
		server: func(c *server.Config) {
			c.ReliableBudget, c.HardCap = reliable, hardCap
			c.MaxFrameSize, c.MaxMessageSize = 16<<10, 16<<10
			c.MessageRate = 10000
			c.SlowDeadline = 200 * time.Millisecond
			c.SweepInterval = 20 * time.Millisecond
			c.SlowCloseCode = server.StatusCode(protocol.CloseSlowClient)
		},
		hub: func(c *hub.Config) {
			c.Social = hub.SocialConfig{MaxTextBytes: lineSize, ChatRate: 10000, ChatBurst: 10000, ChannelLineRate: math.Inf(1)}
		},
	})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	for _, x := range []*client{a, b} {
		if x.Request(joinChannel("lobby")).GetChatHistory() == nil {
			t.Fatalf("%s could not join the lobby", x.user)
		}
	}
	for i := 0; i < stalled; i++ {
		dialStalledOn(t, e, "zed"+string(rune('a'+i)), joinChannel("lobby"))
	}

	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := e.srv.OutboundBytes(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	closed := func() uint64 { return e.hub.Closes()[int(protocol.CloseSlowClient)] }
	line := strings.Repeat("z", lineSize)
	sent := 0
	for ; sent < 4000 && closed() < stalled; sent++ {
		ok(t, a.Request(channelChat("lobby", line)))
		if l := b.nextChat(); l.FromUserId != "ann" || l.Channel != "lobby" || len(l.Text) != lineSize {
			t.Fatalf("line %d: bob got %v", sent, l)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); closed() < stalled && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	got := e.hub.Closes()
	var all uint64
	for _, n := range got {
		all += n
	}
	if got[int(protocol.CloseSlowClient)] != stalled || all != stalled {
		t.Fatalf("closes by code %v after %d lines, want %d with %d and nothing else", got, sent, stalled, protocol.CloseSlowClient)
	}
	// The readers were not touched: both keep chatting.
	ok(t, b.Request(channelChat("lobby", "still here")))
	for {
		if l := a.nextChat(); l.FromUserId == "bob" {
			break
		}
	}
	// Each non-reader held at most its hard cap; the readers little.
	if p, bound := peak.Load(), int64(stalled*hardCap+2*2*reliable); p > bound {
		t.Fatalf("outbound bytes peaked at %d, over %d", p, bound)
	}
	t.Logf("%d lines of %d B; outbound bytes peaked at %d", sent, lineSize, peak.Load())
}
