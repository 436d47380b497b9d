package hub_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// stalledChannels is a channel store whose reads wait until the test
// opens the gate (or the read's deadline passes); it keeps nothing.
type stalledChannels struct{ gate chan struct{} }

func (s stalledChannels) Recent(ctx context.Context, _ string, _ int) ([]*tickroomv1.Chat, error) {
	select {
	case <-s.gate:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (stalledChannels) Keep(*tickroomv1.Chat) {}

// TestRepeatedJoinWhileTheChannelLoadsIsRefused: while a lobby channel's
// kept lines are still being read, a member that sends JoinChannel again
// and again is refused each repeat at once with
// ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT, and gets one history once the
// lines are read; another user's first join meanwhile waits and is
// answered.
func TestRepeatedJoinWhileTheChannelLoadsIsRefused(t *testing.T) {
	t.Parallel()
	s := stalledChannels{gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Channels = s }})
	ada, _ := e.connect("ada")
	bob, _ := e.connect("bob")
	ids := make([]uint32, 50)
	for i := range ids {
		ids[i] = ada.Send(joinChannel("lobby"))
	}
	bobJoin := bob.Send(joinChannel("lobby"))
	// Answered after every join before it: the refusals due at once come
	// before it.
	marker := ada.Send(leaveChannel("elsewhere"))
	mine := map[uint32]bool{marker: true}
	for _, id := range ids {
		mine[id] = true
	}
	histories, refused, gated := 0, 0, false
	for len(mine) > 0 {
		m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return mine[m.RequestId] })
		delete(mine, m.RequestId)
		switch {
		case m.RequestId == marker:
			close(s.gate)
			gated = true
		case m.GetChatHistory() != nil:
			histories++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT && !gated:
			refused++
		default:
			t.Fatalf("a join while the channel loads (gate open: %v): %v", gated, m)
		}
	}
	if histories != 1 || refused != len(ids)-1 {
		t.Fatalf("%d joins of one member while the channel loaded: %d answered with the history, %d refused at once; want 1 and %d", len(ids), histories, refused, len(ids)-1)
	}
	if bob.Reply(bobJoin).GetChatHistory() == nil {
		t.Fatal("bob's first join while the channel loaded was not answered with its history")
	}
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada's join once the channel loaded was not answered with its history")
	}
}

// TestRepeatedJoinsOfAJoinedChannelAreRateLimited: each JoinChannel of a
// lobby channel the connection is in already is answered with the whole
// history, so past ChannelRejoinBurst such joins are refused with
// ERROR_CODE_RATE_LIMITED and a retry hint; another user's first join is
// served meanwhile, and so is the same user's first join on a new
// connection (a client that reconnects joins its channels again).
func TestRepeatedJoinsOfAJoinedChannelAreRateLimited(t *testing.T) {
	t.Parallel()
	// A rate that gives no token back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.Social.ChannelRejoinRate = 0.001; c.Social.ChannelRejoinBurst = 3 }})
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada's first join was not answered with the history")
	}
	ok(t, ada.Request(channelChat("lobby", "hello")))
	ids := make([]uint32, 20)
	for i := range ids {
		ids[i] = ada.Send(joinChannel("lobby"))
	}
	histories, refused := 0, 0
	for _, id := range ids {
		m := ada.Reply(id)
		switch {
		case m.GetChatHistory() != nil:
			histories++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			// The next token comes in 1/rate, 1,000 s.
			if ms := m.GetError().GetRetryAfterMs(); ms == 0 || ms > 1_000_000 {
				t.Fatalf("a join refused for the rate had retry_after_ms %d; want within the 1,000 s a token takes", ms)
			}
			refused++
		default:
			t.Fatalf("a join of a channel joined already: %v", m)
		}
	}
	if histories != 3 || refused != len(ids)-3 {
		t.Fatalf("%d joins of a channel joined already: %d answered with the history, %d refused with a retry hint; want 3 (the burst) and %d", len(ids), histories, refused, len(ids)-3)
	}
	bob, _ := e.connect("bob")
	if h := bob.Request(joinChannel("lobby")).GetChatHistory(); len(h.GetLines()) != 1 {
		t.Fatalf("bob's first join: history %v, want the one line", h)
	}
	again, _ := e.connect("ada")
	if h := again.Request(joinChannel("lobby")).GetChatHistory(); len(h.GetLines()) != 1 {
		t.Fatalf("ada's first join on a new connection: history %v, want the one line", h)
	}
}

// TestLeavingAChannelWhileItLoadsEndsTheWaitingJoin: a member that
// leaves a lobby channel while its join still waits for the channel's
// kept lines has that join answered ERROR_CODE_CHANNEL_NOT_FOUND at once,
// and may join again, its new join answered with the history once the
// lines are read, while another member keeps the channel open.
func TestLeavingAChannelWhileItLoadsEndsTheWaitingJoin(t *testing.T) {
	t.Parallel()
	s := stalledChannels{gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Channels = s }})
	ada, _ := e.connect("ada")
	bob, _ := e.connect("bob")
	first := ada.Send(joinChannel("lobby"))
	bobJoin := bob.Send(joinChannel("lobby"))
	leave := ada.Send(leaveChannel("lobby"))
	// The leave's answer comes after the join's, if the leave answers it.
	if m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == first || m.RequestId == leave }); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND {
		t.Fatalf("ada's join, left while the channel loaded, was not answered ERROR_CODE_CHANNEL_NOT_FOUND before her leave was: %v", m)
	}
	ok(t, ada.Reply(leave))
	again := ada.Send(joinChannel("lobby"))
	marker := ada.Send(leaveChannel("elsewhere"))
	if m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == again || m.RequestId == marker }); m.RequestId != marker {
		t.Fatalf("ada's join after she left the loading channel was answered before its lines were read: %v", m)
	}
	close(s.gate)
	if ada.Reply(again).GetChatHistory() == nil {
		t.Fatal("ada's join after she left the loading channel was not answered with its history")
	}
	if bob.Reply(bobJoin).GetChatHistory() == nil {
		t.Fatal("bob's join while the channel loaded was not answered with its history")
	}
}

// TestLeavingAndJoiningAChannelAgainIsRateLimited: a LeaveChannel and a
// JoinChannel of the same lobby channel, while another member keeps it
// open, is answered with the channel's whole history each time, as a
// repeat join is; so a join of a channel the user left within the last
// minute takes from ChannelRejoinRate, and past its burst is refused
// with ERROR_CODE_RATE_LIMITED and a retry hint. A join of another
// channel is served meanwhile.
func TestLeavingAndJoiningAChannelAgainIsRateLimited(t *testing.T) {
	t.Parallel()
	// A rate that gives no token back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.Social.ChannelRejoinRate = 0.001; c.Social.ChannelRejoinBurst = 3 }})
	bob, _ := e.connect("bob")
	if bob.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("bob could not join lobby")
	}
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada's first join was not answered with the history")
	}
	ok(t, ada.Request(channelChat("lobby", "hello")))
	histories, refused := 0, 0
	for range 20 {
		// A leave after a refused join finds ada out of the channel.
		if m := ada.Request(leaveChannel("lobby")); m.GetOk() == nil && m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND {
			t.Fatalf("a leave: %v", m)
		}
		switch m := ada.Request(joinChannel("lobby")); {
		case m.GetChatHistory() != nil:
			histories++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
			refused++
		default:
			t.Fatalf("a join of a channel just left: %v", m)
		}
	}
	if histories != 3 || refused != 17 {
		t.Fatalf("20 leaves and joins of a channel another member keeps open: %d joins answered with the history, %d refused with a retry hint; want 3 (the burst) and 17", histories, refused)
	}
	if ada.Request(joinChannel("trade")).GetChatHistory() == nil {
		t.Fatal("ada's join of a channel she never left was refused")
	}
}

// TestLeavingManyChannelsKeepsTheirJoinsRateLimited: a user that leaves
// more lobby channels than the 8 remembered of it within a minute, all
// held open by another member, has its joins of them again charged all
// the same: past it every join of a channel held takes from
// ChannelRejoinRate for the minute, so none is freed by leaving others.
func TestLeavingManyChannelsKeepsTheirJoinsRateLimited(t *testing.T) {
	t.Parallel()
	const channels = 16
	e := start(t, options{hub: func(c *hub.Config) {
		c.Social.ChannelRejoinRate, c.Social.ChannelRejoinBurst = 0.001, 10
		c.Social.MaxChannelsPerUser, c.Social.ChannelOpenRate = channels, math.Inf(1)
	}})
	bob, _ := e.connect("bob")
	for i := range channels {
		if bob.Request(joinChannel(fmt.Sprint("c", i))).GetChatHistory() == nil {
			t.Fatalf("bob could not join c%d", i)
		}
	}
	ada, _ := e.connect("ada")
	// The first joins after the 9th leave (7) take from the burst of 10.
	for i := range channels {
		if ada.Request(joinChannel(fmt.Sprint("c", i))).GetChatHistory() == nil {
			t.Fatalf("ada's first join of c%d was refused", i)
		}
		ok(t, ada.Request(leaveChannel(fmt.Sprint("c", i))))
	}
	histories, refused := 0, 0
	for i := range channels {
		switch m := ada.Request(joinChannel(fmt.Sprint("c", i))); {
		case m.GetChatHistory() != nil:
			histories++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
			refused++
		default:
			t.Fatalf("a join of c%d, just left: %v", i, m)
		}
	}
	if histories != 3 || refused != channels-3 {
		t.Fatalf("joins again of %d channels just left: %d answered with the history, %d refused with a retry hint; want 3 (the burst left) and %d", channels, histories, refused, channels-3)
	}
}

// steppedClock is a hub clock that a test moves on by hand: here back,
// behind the leaves it made.
func steppedClock(c *hub.Config) (step func(time.Duration)) {
	var skew atomic.Int64
	c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	return func(d time.Duration) { skew.Add(int64(d)) }
}

// texts is the text of each line.
func texts(lines []*tickroomv1.Chat) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

// TestAClockSteppedBackChargesNoJoinOfAChannelLeft: leaves are kept by the
// wall clock; when it steps back (an NTP correction), a channel left
// "later" than now, and the joins after 9 leaves, are not charged to
// ChannelRejoinRate, and each join is answered with the whole history.
// Before, they were charged until the clock caught up again (an hour
// here), and past the rate refused.
func TestAClockSteppedBackChargesNoJoinOfAChannelLeft(t *testing.T) {
	t.Parallel()
	const channels = 9
	var step func(time.Duration)
	// A rate that gives no token back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) {
		step = steppedClock(c)
		c.Social.ChannelRejoinRate, c.Social.ChannelRejoinBurst = 0.001, 1
		c.Social.ChannelOpenRate, c.Social.ChatRate = math.Inf(1), math.Inf(1)
		c.Social.MaxChannelsPerUser = channels
	}})
	bob, _ := e.connect("bob")
	for i := range channels {
		if bob.Request(joinChannel(fmt.Sprint("c", i))).GetChatHistory() == nil {
			t.Fatalf("bob could not join c%d", i)
		}
		ok(t, bob.Request(channelChat(fmt.Sprint("c", i), "hello")))
	}
	ada, _ := e.connect("ada")
	// A repeat join takes the one token.
	for range 2 {
		if ada.Request(joinChannel("c0")).GetChatHistory() == nil {
			t.Fatal("ada could not join c0")
		}
	}
	for i := range channels {
		if i > 0 && ada.Request(joinChannel(fmt.Sprint("c", i))).GetChatHistory() == nil {
			t.Fatalf("ada's first join of c%d was refused", i)
		}
		ok(t, ada.Request(leaveChannel(fmt.Sprint("c", i))))
	}
	step(-time.Hour)
	// c0's leave is forgotten past the 9th, c8's is remembered.
	for _, name := range []string{"c0", "c8"} {
		m := ada.Request(joinChannel(name))
		if got := texts(m.GetChatHistory().GetLines()); !slices.Equal(got, []string{"hello"}) {
			t.Fatalf("ada's join of %s, left an hour ahead of the clock stepped back: history %q (%v); want the whole [hello]", name, got, m)
		}
	}
}
