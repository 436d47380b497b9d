package cluster

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/auth"
)

// userToken is a token of user, signed with testAuthKey.
func userToken(t *testing.T, user string) string {
	t.Helper()
	iss, err := auth.New(auth.Config{Keys: []auth.Key{testAuthKey}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := iss.Issue(auth.Claims{UserID: user, Name: user, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSecondProcessUnderALiveNodesIDTakesNoneOfItsTraffic: a second
// process started under the id of a live node (two replicas given one
// -node-id) stays out of the cluster until that node's registration
// lapses. Meanwhile it took the messages sent to the live node (it
// subscribed to the node's channel, and Redis delivers to both), and it
// recorded its sessions under the node's id, where every other node took
// them for the live node's. It does either only once it has registered:
// the session it accepted meanwhile is recorded then.
func TestSecondProcessUnderALiveNodesIDTakesNoneOfItsTraffic(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	var mu sync.Mutex
	probes, barriers := map[string][]string{}, map[string][]string{}
	handlers := func(who string) map[string]func(*Envelope) {
		note := func(m map[string][]string) func(*Envelope) {
			return func(e *Envelope) {
				mu.Lock()
				m[who] = append(m[who], string(e.Body))
				mu.Unlock()
			}
		}
		return map[string]func(*Envelope){"probe": note(probes), "barrier": note(barriers)}
	}
	took := func(m map[string][]string, who, tag string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(m[who], tag)
	}
	na := startNode(t, rs, "a")
	startHubNodeAs(t, rs, "a", na, nil, nil, handlers("live"))
	nt := startNodeUnregistered(t, rs, "a")
	twin := startHubNodeAs(t, rs, "a", nt, nil, nil, handlers("twin"))
	b := startHubNode(t, rs, "b", nil)
	waitFor(t, 5*time.Second, "the second process under a's id to find the id in use", func() bool {
		err := nt.Ready()
		return err != nil && strings.Contains(err.Error(), "in use")
	})

	// Node b sends a message to node a, then one to every node, round
	// after round until both processes under a's id took the latter and
	// one of them the former. Each process takes what Redis sends it in
	// order: the second had taken the message to a before the one to
	// every node, had it been sent it.
	round := func(i int) (done bool) {
		tag := strconv.Itoa(i)
		_ = b.bus.ToNode("a", &Envelope{Kind: "probe", Body: []byte(tag)})
		_ = b.bus.ToAll(&Envelope{Kind: "barrier", Body: []byte(tag)})
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if took(barriers, "live", tag) && took(barriers, "twin", tag) {
				return took(probes, "live", tag) || took(probes, "twin", tag)
			}
		}
		return false
	}
	for i := 0; !round(i); i++ {
		if i == 20 {
			t.Fatal("node a never took b's message")
		}
	}
	mu.Lock()
	liveTook, twinTook := probes["live"], probes["twin"]
	mu.Unlock()
	if len(twinTook) > 0 || len(liveTook) == 0 {
		t.Errorf("b's messages to node a were taken by the live process: %v, by the second process under a's id: %v; want the live one's alone", liveTook, twinTook)
	}

	ctx := context.Background()
	twin.dial(t, userToken(t, "eve"), "eve on the second process under a's id")
	conn := twin.reg.Sessions("eve")[0].ConnID()
	twin.settle("eve") // its claim has run
	if loc, err := b.users.Locate(ctx, "eve"); err != nil || len(loc["eve"]) > 0 {
		t.Fatalf("eve, connected to the second process under a's id, is located at %v (%v), taken for the live a's; want nowhere while that process is out of the cluster", loc["eve"], err)
	}

	// Once the live process left, the second registers, records eve's
	// session and takes the messages to a.
	if err := na.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the second process under a's id to register once the live one left", func() bool { return nt.Ready() == nil })
	waitFor(t, 10*time.Second, "eve's session on the second process recorded once it registered", func() bool {
		loc, err := b.users.Locate(ctx, "eve")
		return err == nil && slices.Equal(loc["eve"], []UserSession{{Node: "a", Conn: conn}})
	})
	for i := 100; ; i++ {
		if round(i) && took(probes, "twin", strconv.Itoa(i)) {
			break
		}
		if i == 120 {
			t.Fatal("the process under a's id, registered, never took b's message to a")
		}
	}
}
