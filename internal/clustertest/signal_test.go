package clustertest

import (
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// TestSignalingBudgetAcrossNodes has ada on n1 and bob, her friend, on n2:
// ada sends the largest signals as fast as her own connection's limit
// allows. The bytes toward bob are capped by his node as they would be on
// one node (social.SignalInBurst): ada is refused ERROR_CODE_RATE_LIMITED
// well before her own limit, and bob gets only what was accepted.
func TestSignalingBudgetAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, adaID := connectUser(t, n1, "ada")
	bob, bobID := connectUser(t, n2, "bob")
	reachUntil(t, ada, bobID, bob) // bob's record reached Redis
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	presenceOf(ada, bobID)

	big := strings.Repeat("x", 16000)
	sent := 0
	var refusal *tickroomv1.Error
	for ; sent < social.SignalBurst; sent++ {
		r := request(ada, &tickroomv1.SendSignal{ToUserId: bobID, CallId: "call-1",
			Kind: tickroomv1.SignalKind_SIGNAL_KIND_CANDIDATE, Data: big})
		if refusal = r.GetError(); refusal != nil {
			break
		}
		ok(t, "signal across nodes", r)
	}
	if refusal.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || refusal.GetRetryAfterMs() == 0 {
		t.Fatalf("after %d signals of 16 KB to bob on another node: %v, want RATE_LIMITED with a retry hint", sent, refusal)
	}
	// The full bucket takes the first ones; a few more may pass from the
	// refill while the flood runs.
	if min, max := social.SignalInBurst/len(big), social.SignalInBurst/len(big)+2; sent < min || sent > max {
		t.Fatalf("%d signals of 16 KB reached bob, want %d to %d", sent, min, max)
	}
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < sent*len(big) && time.Now().Before(deadline) {
		for _, m := range bob.Drain(300 * time.Millisecond) {
			if s := m.GetSignal(); s != nil {
				if s.FromUserId != adaID || s.CallId != "call-1" {
					t.Fatalf("bob got %v", s)
				}
				got += len(s.Data)
			}
		}
	}
	if got != sent*len(big) {
		t.Fatalf("bob got %d bytes of signaling for %d accepted signals of %d", got, sent, len(big))
	}
	// Nothing more arrives: the refused signals were dropped by bob's node.
	for _, m := range bob.Drain(300 * time.Millisecond) {
		if m.GetSignal() != nil {
			t.Fatalf("bob got a refused signal: %v", m)
		}
	}
}
