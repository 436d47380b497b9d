package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

func signal(to, call string, kind tickroomv1.SignalKind, data string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendSignal{SendSignal: &tickroomv1.SendSignal{ToUserId: to, CallId: call, Kind: kind, Data: data}}}
}

// TestSignalingBetweenSeatsOfARoom: an offer, an answer and a candidate go
// between two players of one room untouched and named by the server.
func TestSignalingBetweenSeatsOfARoom(t *testing.T) {
	e := start(t, options{})
	_, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
	ok(t, a.Request(signal("bob", "call-1", tickroomv1.SignalKind_SIGNAL_KIND_OFFER, offer)))
	got := b.Next(isKind[*tickroomv1.ServerMessage_Signal]).GetSignal()
	if got.FromUserId != "ann" || got.CallId != "call-1" || got.Kind != tickroomv1.SignalKind_SIGNAL_KIND_OFFER || got.Data != offer {
		t.Fatalf("bob got %v", got)
	}
	ok(t, b.Request(signal("ann", "call-1", tickroomv1.SignalKind_SIGNAL_KIND_ANSWER, "answer")))
	if got := a.Next(isKind[*tickroomv1.ServerMessage_Signal]).GetSignal(); got.FromUserId != "bob" || got.Data != "answer" {
		t.Fatalf("ann got %v", got)
	}
}

// TestSignalingRefusals: someone outside the room cannot inject signaling
// into a call, a blocked user cannot signal, and size and rate are capped.
func TestSignalingRefusals(t *testing.T) {
	e := start(t, options{})
	_, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	eve, _ := e.connect("eve")
	cand := tickroomv1.SignalKind_SIGNAL_KIND_CANDIDATE
	if got := errCode(t, eve.Request(signal("bob", "call-1", cand, `{"candidate":"evil"}`))); got != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("a stranger's candidate: %v, want FORBIDDEN", got)
	}
	if got := errCode(t, a.Request(signal("bob", "call-1", cand, strings.Repeat("x", 17<<10)))); got != tickroomv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LONG {
		t.Fatalf("17 KiB of data: %v, want MESSAGE_TOO_LONG", got)
	}
	if got := errCode(t, a.Request(signal("bob", "", cand, "x"))); got != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("no call id: %v, want BAD_REQUEST", got)
	}
	ok(t, b.Request(block("ann", false)))
	if got := errCode(t, a.Request(signal("bob", "call-1", cand, "x"))); got != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("signal to a user who blocked the sender: %v, want BLOCKED", got)
	}
	// Nothing of the above reached bob.
	for _, m := range b.Drain(200 * time.Millisecond) {
		if m.GetSignal() != nil {
			t.Fatalf("bob received %v", m)
		}
	}
	ok(t, b.Request(block("ann", true)))
	limited := false
	for i := 0; i < 200 && !limited; i++ {
		if r := a.Request(signal("bob", "call-1", cand, "c")); r.GetError() != nil {
			if r.GetError().Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.GetError().RetryAfterMs == 0 {
				t.Fatalf("signal %d: %v, want RATE_LIMITED with a retry hint", i, r.GetError())
			}
			limited = true
		}
	}
	if !limited {
		t.Fatal("200 signals at once were never rate-limited")
	}
}

// TestSignalingRefusesSpectators: anyone may watch a public room, so a
// spectator shares it with its players without being one: it cannot call
// them (an offer would ring a stranger's call through), nor they it, and
// nothing reaches either side. The players still signal each other.
func TestSignalingRefusesSpectators(t *testing.T) {
	e := start(t, options{})
	id, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	cat, _ := e.connect("cat")
	if j := joined(t, cat.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: id, Spectate: true}}})); !j.Spectator {
		t.Fatalf("cat joined %v, want a spectator", j)
	}
	offer := tickroomv1.SignalKind_SIGNAL_KIND_OFFER
	for _, tc := range []struct {
		name     string
		from     *client
		to, call string
	}{{"spectator to player", cat, "bob", "call-s"}, {"player to spectator", a, "cat", "call-p"}} {
		if got := errCode(t, tc.from.Request(signal(tc.to, tc.call, offer, "sdp"))); got != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
			t.Fatalf("%s: %v, want FORBIDDEN", tc.name, got)
		}
	}
	ok(t, a.Request(signal("bob", "call-1", offer, "sdp")))
	if got := b.Next(isKind[*tickroomv1.ServerMessage_Signal]).GetSignal(); got.FromUserId != "ann" || got.CallId != "call-1" {
		t.Fatalf("bob got %v, want ann's offer (and nothing of cat's before it)", got)
	}
	for _, m := range cat.Drain(200 * time.Millisecond) {
		if m.GetSignal() != nil {
			t.Fatalf("the spectator received %v", m)
		}
	}
}

// TestSignalingBetweenFriends: two friends who share no room can call each
// other; once one blocks the other (which also ends the friendship), the
// blocked one's signals are refused and reach nobody.
func TestSignalingBetweenFriends(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	ok(t, a.Request(addFriend("bob")))
	befriend(t, a, b)
	offer := tickroomv1.SignalKind_SIGNAL_KIND_OFFER
	ok(t, a.Request(signal("bob", "call-f", offer, "sdp")))
	if got := b.Next(isKind[*tickroomv1.ServerMessage_Signal]).GetSignal(); got.FromUserId != "ann" || got.CallId != "call-f" || got.Data != "sdp" {
		t.Fatalf("bob got %v", got)
	}
	ok(t, b.Request(block("ann", false)))
	if got := errCode(t, a.Request(signal("bob", "call-f", offer, "sdp"))); got != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("signal from a blocked friend: %v, want BLOCKED", got)
	}
	for _, m := range b.Drain(200 * time.Millisecond) {
		if m.GetSignal() != nil {
			t.Fatalf("bob received %v after blocking ann", m)
		}
	}
}

// TestSignalingFloodOfARoommate: a roommate sending the largest signals
// as fast as its own limit allows would fill a slow-link recipient's
// reliable budget and get it closed. The bytes toward one user are
// capped (social.SignalInBurst): the flood is refused well before the
// sender's own limit, and the recipient gets no more than the cap.
func TestSignalingFloodOfARoommate(t *testing.T) {
	e := start(t, options{})
	_, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	big := strings.Repeat("x", 16000)
	cand := tickroomv1.SignalKind_SIGNAL_KIND_CANDIDATE
	sent := 0
	for ; sent < social.SignalBurst; sent++ {
		r := a.Request(signal("bob", "call-1", cand, big))
		if r.GetError() != nil {
			if r.GetError().Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.GetError().RetryAfterMs == 0 {
				t.Fatalf("signal %d: %v, want RATE_LIMITED with a retry hint", sent, r.GetError())
			}
			break
		}
	}
	// A few may pass from the refill while the flood runs.
	if max := social.SignalInBurst/len(big) + 2; sent > max {
		t.Fatalf("%d signals of 16 KB reached bob, want at most %d", sent, max)
	}
	got := 0
	for _, m := range b.Drain(300 * time.Millisecond) {
		if m.GetSignal() != nil {
			got += len(m.GetSignal().Data)
		}
	}
	if got != sent*len(big) || got > social.SignalInBurst+2*len(big) {
		t.Fatalf("bob got %d bytes of signaling for %d accepted signals", got, sent)
	}
}
