package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/rawbody"
	"github.com/tickroom/tickroom/internal/redistest"
)

// newTestBus starts a bus of node on srv, with handlers, closed when t
// ends.
func newTestBus(t *testing.T, srv *redistest.Server, node string, handlers map[string]func(*Envelope)) *Bus {
	t.Helper()
	b, err := NewBus(BusConfig{Client: srv.Client(t), Node: node, CallTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for k, h := range handlers {
		b.Handle(k, h)
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// waitFor fails t unless ch yields within five seconds.
func waitRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// joined subscribes b to topic and waits until the subscription is in
// place.
func joined(t *testing.T, b *Bus, topic string) {
	t.Helper()
	ready := make(chan error, 1)
	b.Join(topic, func(err error) { ready <- err })
	if err := waitRecv(t, ready, "subscription"); err != nil {
		t.Fatal(err)
	}
}

func TestBusNodeMessageCallAndBroadcast(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	got := make(chan *Envelope, 8)
	var b2 *Bus
	b1 := newTestBus(t, srv, "n1", map[string]func(*Envelope){"hello": func(e *Envelope) { got <- e }})
	b2 = newTestBus(t, srv, "n2", map[string]func(*Envelope){
		"hello": func(e *Envelope) { got <- e },
		"echo": func(e *Envelope) {
			_ = b2.Answer(e, &Envelope{Kind: "echo", Body: append([]byte("re:"), e.Body...)})
		},
	})
	// The node channels are subscribed at Start; a message published
	// before the subscription is in place is lost (at most once), so
	// retry the first one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := b1.ToNode("n2", &Envelope{Kind: "hello", User: "u1", Body: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-got:
			if e.Node != "n1" || e.User != "u1" || string(e.Body) != "hi" {
				t.Fatalf("got %+v", e)
			}
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no node message")
			}
			continue
		}
		break
	}

	answers := echoCall(b1, "n2", "x")
	if a := waitRecv(t, answers, "answer"); a != "re:x" {
		t.Fatalf("answer %q", a)
	}

	// A call to a node nobody runs fails with ErrUnavailable after the
	// call timeout.
	errs := make(chan error, 1)
	b1.Call("gone", &Envelope{Kind: "echo"}, func(_ *Envelope, err error) { errs <- err })
	if err := waitRecv(t, errs, "timeout"); err == nil || !isUnavailable(err) {
		t.Fatalf("call to a missing node: %v", err)
	}

	// A broadcast reaches the others, not the sender.
	if err := b2.ToAll(&Envelope{Kind: "hello", Body: []byte("all")}); err != nil {
		t.Fatal(err)
	}
	if e := waitRecv(t, got, "broadcast"); e.Node != "n2" || string(e.Body) != "all" {
		t.Fatalf("broadcast %+v", e)
	}
	select {
	case e := <-got:
		t.Fatalf("broadcast delivered twice: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestBusLinesNumberedInOneOrderOnEveryNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	type line struct {
		node string
		seq  int64
		body string
	}
	lines := make(chan line, 64)
	var buses []*Bus
	for i := range 3 {
		node := fmt.Sprintf("n%d", i)
		buses = append(buses, newTestBus(t, srv, node, map[string]func(*Envelope){
			"line": func(e *Envelope) { lines <- line{node, e.Seq, string(e.Body)} },
		}))
	}
	for _, b := range buses {
		joined(t, b, "lobby")
	}
	var wg sync.WaitGroup
	for i, b := range buses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 {
				if err := b.PublishLine("lobby", &Envelope{Kind: "line", Body: fmt.Appendf(nil, "%d.%d", i, j)}, nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string][]line{}
	for range 27 {
		l := waitRecv(t, lines, "line")
		seen[l.node] = append(seen[l.node], l)
	}
	for node, ls := range seen {
		for i, l := range ls {
			if l.seq != int64(i+1) {
				t.Fatalf("node %s line %d has number %d", node, i, l.seq)
			}
			if l.body != seen["n0"][i].body {
				t.Fatalf("node %s line %d is %q, n0 saw %q", node, i, l.body, seen["n0"][i].body)
			}
		}
	}

	// After Leave, the topic's lines no longer arrive. Leave unsubscribes
	// on the subscriber's goroutine: wait until Redis has n2 no longer
	// subscribed, or a line published before that reaches it.
	buses[2].Leave("lobby")
	rdb := srv.Client(t)
	ch := buses[2].keys.BusChannel("lobby")
	waitFor(t, 10*time.Second, "n2 unsubscribed from the lobby", func() bool {
		n, err := rdb.PubSubNumSub(context.Background(), ch).Result()
		return err == nil && n[ch] == 2
	})
	if err := buses[0].PublishLine("lobby", &Envelope{Kind: "line", Body: []byte("late")}, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if l := waitRecv(t, lines, "late line"); l.node == "n2" {
			t.Fatalf("left node got %+v", l)
		}
	}
	select {
	case l := <-lines:
		t.Fatalf("extra line %+v", l)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestBusFailsFastWithoutRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := newTestBus(t, srv, "n1", nil)
	joined(t, b, "x")
	srv.Stop(t)
	failed := make(chan error, 1)
	// The first publish finds Redis gone; the ones after fail at once.
	_ = b.PublishLine("x", &Envelope{Kind: "line"}, func(err error) { failed <- err })
	if err := waitRecv(t, failed, "failure"); !isUnavailable(err) {
		t.Fatalf("failed with %v", err)
	}
	start := time.Now()
	if err := b.ToNode("n2", &Envelope{Kind: "x"}); !isUnavailable(err) {
		t.Fatalf("publish with Redis down: %v", err)
	}
	if b.Healthy() {
		t.Fatal("bus healthy with Redis down")
	}
	_ = start
	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for !b.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("bus did not recover")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBusBodiesTravelAsTheirOwnBytes: a body of any bytes reaches the
// other node whole, and on Redis it takes its own size plus a short head,
// not base64's third more; a message as an older node encoded it (the
// body base64 in the JSON) is still read.
func TestBusBodiesTravelAsTheirOwnBytes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	got := make(chan *Envelope, 4)
	b1 := newTestBus(t, srv, "n1", nil)
	b2 := newTestBus(t, srv, "n2", map[string]func(*Envelope){"blob": func(e *Envelope) { got <- e }})
	spy := srv.Client(t).Subscribe(context.Background(), b2.keys.BusNode("n2"))
	t.Cleanup(func() { spy.Close() })
	if _, err := spy.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64<<10)
	for i := range body {
		body[i] = byte(i * 7) // newlines, zeros, bytes that are not UTF-8
	}
	deadline := time.Now().Add(5 * time.Second)
	var e *Envelope
	for e == nil {
		if err := b1.ToNode("n2", &Envelope{Kind: "blob", User: "u", Body: body}); err != nil {
			t.Fatal(err)
		}
		select {
		case e = <-got:
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no message")
			}
		}
	}
	if !bytes.Equal(e.Body, body) || e.User != "u" || e.Node != "n1" {
		t.Fatalf("got %d bytes from %q for %q, want the %d sent", len(e.Body), e.Node, e.User, len(body))
	}
	m := waitRecv(t, spy.Channel(), "the message on Redis")
	if n := len(m.Payload); n > len(body)+100 {
		t.Fatalf("%d bytes on Redis for a body of %d", n, len(body))
	}
	// An older node's form.
	old, _ := json.Marshal(Envelope{Kind: "blob", Node: "n0", User: "v", Body: []byte("a\nb")})
	if err := srv.Client(t).Publish(context.Background(), b2.keys.BusNode("n2"), old).Err(); err != nil {
		t.Fatal(err)
	}
	if e := waitRecv(t, got, "the older form"); string(e.Body) != "a\nb" || e.User != "v" || e.Node != "n0" {
		t.Fatalf("older form read as %+v", e)
	}
}

// TestBusSendsTheOlderFormWhileAnOlderNodeRuns: nodes of this version say
// so in their registration; while a node that does not (an older version,
// in a rolling deploy) is registered, the bus sends bodies base64 inside
// the JSON, which that node reads, and once it is gone, as their own
// bytes.
func TestBusSendsTheOlderFormWhileAnOlderNodeRuns(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	n1, n2 := startNode(t, rs, "n1"), startNode(t, rs, "n2")
	waitFor(t, 5*time.Second, "both nodes read the raw form", func() bool { return n1.RawPeers() && n2.RawPeers() })
	rdb := rs.Client(t)
	ctx := context.Background()
	// An older node: a registration without "wire".
	old := n1.Keys().Node("old")
	if err := rdb.HSet(ctx, old, "id", "old", "ws", "ws://127.0.0.1:1/v1/ws", "started", "1700000000000").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, old, 3*time.Second)
	rdb.ZAdd(ctx, n1.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(3 * time.Second).UnixMilli()), Member: "old"})
	waitFor(t, 5*time.Second, "the older node seen", func() bool { return !n1.RawPeers() && !n2.RawPeers() })
	if n1.BatchPeers() || n2.BatchPeers() {
		t.Fatal("a node that reads no raw bodies taken to read ops messages")
	}
	// One restarted from an older binary under a newer one's id keeps the
	// "wire" it left, but not its "started".
	if err := rdb.HSet(ctx, old, "wire", "1700000000000", "started", "1700000009999").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // two heartbeats
	if n1.RawPeers() || n2.RawPeers() {
		t.Fatal("a wire field left behind by a newer binary counted")
	}

	b, err := NewBus(BusConfig{Client: rdb, Node: "n1", Raw: n1.RawPeers})
	if err != nil {
		t.Fatal(err)
	}
	p := b.encode(&Envelope{Kind: "k", Body: []byte("a\nb")})
	var e Envelope
	if err := json.Unmarshal(p, &e); err != nil || string(e.Body) != "a\nb" {
		t.Fatalf("with an older node registered: %q (%v), want the JSON form", p, err)
	}
	// The older node's registration lapses.
	waitFor(t, 10*time.Second, "the older node gone", func() bool { return n1.RawPeers() })
	if p := b.encode(&Envelope{Kind: "k", Body: []byte("a\nb")}); !bytes.HasSuffix(p, []byte("}\na\nb")) {
		t.Fatalf("with every node of this version: %q, want the raw form", p)
	}
}

// TestNodesSayTheyReadOpsMessages: while a node that reads raw bodies
// but not the social layer's "ops" messages is registered (an older
// version, in a rolling deploy), BatchPeers says no on every node, and
// once it is gone, yes.
func TestNodesSayTheyReadOpsMessages(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	n1, n2 := startNode(t, rs, "n1"), startNode(t, rs, "n2")
	waitFor(t, 5*time.Second, "both nodes read ops messages", func() bool { return n1.BatchPeers() && n2.BatchPeers() })
	rdb := rs.Client(t)
	ctx := context.Background()
	old := n1.Keys().Node("old")
	if err := rdb.HSet(ctx, old, "id", "old", "ws", "ws://127.0.0.1:1/v1/ws", "started", "1700000000000", "wire", "1700000000000").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, old, 3*time.Second)
	rdb.ZAdd(ctx, n1.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(3 * time.Second).UnixMilli()), Member: "old"})
	waitFor(t, 5*time.Second, "the older node seen", func() bool { return !n1.BatchPeers() && !n2.BatchPeers() })
	if !n1.RawPeers() || !n2.RawPeers() {
		t.Fatal("a node that reads raw bodies taken not to")
	}
	waitFor(t, 10*time.Second, "the older node gone", func() bool { return n1.BatchPeers() && n2.BatchPeers() })
}

// TestBusRestartedNodeTakesNoStaleAnswer: a node started again under the
// same id gets the answers to its own calls, never an answer to a call of
// its previous process that was still on its way.
func TestBusRestartedNodeTakesNoStaleAnswer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	held := make(chan *Envelope, 1)
	var b2 *Bus
	b2 = newTestBus(t, srv, "n2", map[string]func(*Envelope){
		"echo": func(e *Envelope) {
			if string(e.Body) == "old" {
				held <- e // answered late, after the caller restarted
				return
			}
			select {
			case old := <-held:
				_ = b2.Answer(old, &Envelope{Kind: "echo", Body: []byte("re:old")})
			default:
			}
			_ = b2.Answer(e, &Envelope{Kind: "echo", Body: append([]byte("re:"), e.Body...)})
		},
		"hello": func(e *Envelope) { _ = b2.ToNode(e.Node, &Envelope{Kind: "hello"}) },
	})
	// ready waits until b and n2 hear each other.
	ready := func(b *Bus, got chan *Envelope) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_ = b.ToNode("n2", &Envelope{Kind: "hello"})
			select {
			case <-got:
				return
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("n2 never answered a hello")
				}
			}
		}
	}
	hellos := make(chan *Envelope, 16)
	first := newTestBus(t, srv, "n1", map[string]func(*Envelope){"hello": func(e *Envelope) { hellos <- e }})
	ready(first, hellos)
	first.Call("n2", &Envelope{Kind: "echo", Body: []byte("old")}, func(*Envelope, error) {})
	held <- waitRecv(t, held, "the first process's call at n2") // kept for the late answer
	first.Close()

	hellos2 := make(chan *Envelope, 16)
	second := newTestBus(t, srv, "n1", map[string]func(*Envelope){"hello": func(e *Envelope) { hellos2 <- e }})
	ready(second, hellos2)
	answers := make(chan string, 2)
	second.Call("n2", &Envelope{Kind: "echo", Body: []byte("new")}, func(e *Envelope, err error) {
		if err != nil {
			answers <- err.Error()
			return
		}
		answers <- string(e.Body)
	})
	if a := waitRecv(t, answers, "answer"); a != "re:new" {
		t.Fatalf("the restarted node's call was answered %q, want re:new", a)
	}
}

// TestBusTopicLeftWhileSubscribingIsUnsubscribed joins lobby topics and
// leaves each right after, some while the subscription is on its way to
// Redis (a client that sends JoinChannel and LeaveChannel, or closes,
// without waiting for the reply): once all is quiet, the node is
// subscribed to none of them. Before, a topic left between the SUBSCRIBE
// and its confirmation stayed subscribed in Redis for good, past the
// 1,000 channel subscriptions a node is documented to hold.
func TestBusTopicLeftWhileSubscribingIsUnsubscribed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := newTestBus(t, srv, "n1", nil)
	for i := range 200 {
		topic := fmt.Sprint("left-", i)
		b.Join(topic, nil)
		time.Sleep(time.Duration(i%10) * 30 * time.Microsecond)
		b.Leave(topic)
	}
	joined(t, b, "kept") // a topic still wanted stays subscribed
	rdb := srv.Client(t)
	var chans []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		chans, err = rdb.PubSubChannels(context.Background(), b.keys.BusChannel("*")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(chans) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(chans) != 1 || chans[0] != b.keys.BusChannel("kept") {
		t.Fatalf("subscribed to %d lobby topics after leaving all but one: %v", len(chans), chans)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.topics) != 1 || len(b.subbed) != 1 {
		t.Fatalf("bus tracks %d topics wanted and %d subscribed, want 1 and 1", len(b.topics), len(b.subbed))
	}
}

// TestBusLinesNumberedAboveALargeAfter: a lobby channel's ids on a node
// follow the lines' time (Unix ms × 1000, about 1.8e15: the ids of kept
// lines and of lines numbered locally), and PublishLineAfter numbers a
// line above them. Lua writes a number of more than 14 digits as
// "1.7649700000001e+15", so the published seq was not the number Redis
// kept, and consecutive lines read back with garbage, equal ids.
func TestBusLinesNumberedAboveALargeAfter(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	seqs := make(chan int64, 8)
	b := newTestBus(t, srv, "n0", map[string]func(*Envelope){
		"line": func(e *Envelope) { seqs <- e.Seq },
	})
	joined(t, b, "lobby")
	const after = 1_764_970_000_000_123
	for i := range 3 {
		if err := b.PublishLineAfter("lobby", &Envelope{Kind: "line", Body: fmt.Appendf(nil, "%d", i)}, after, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if got, want := waitRecv(t, seqs, "line"), int64(after+1+i); got != want {
			t.Errorf("line %d numbered %d, want %d", i, got, want)
		}
	}
}

// TestBusCallEndsOnceWhenItsTimerFiresAsItEnds: a call's done is called
// exactly once, also when its timer fires while the call is ending some
// other way. The presence questions of logins hold their place among
// those awaiting answers (askInFlight) until done, so a done never called
// keeps that place taken for good.
func TestBusCallEndsOnceWhenItsTimerFiresAsItEnds(t *testing.T) {
	// Not parallel: each case races a call's timer against its end (a
	// held lock, a frozen Redis) by sleeping past it; it runs alone,
	// before the parallel tests.
	t.Run("answered", func(t *testing.T) {
		srv := redistest.Start(t)
		asked := make(chan *Envelope, 1)
		b2 := newTestBus(t, srv, "n2", map[string]func(*Envelope){"echo": func(e *Envelope) { asked <- e }})
		b1, err := NewBus(BusConfig{Client: srv.Client(t), Node: "n1", CallTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		b1.Start()
		t.Cleanup(b1.Close)
		ends := make(chan error, 2)
		var req *Envelope
		for req == nil { // the first calls may go before n2's subscription
			b1.Call("n2", &Envelope{Kind: "echo"}, func(_ *Envelope, err error) { ends <- err })
			select {
			case req = <-asked:
			case err := <-ends:
				t.Logf("call before n2 listened: %v", err)
			}
		}
		// The answer reaches n1's receiver, which waits for the lock the
		// call's timer waits for too, after it: the answer takes the call.
		b1.mu.Lock()
		received := b1.Received.Load()
		_ = b2.Answer(req, &Envelope{Kind: "echo"})
		for b1.Received.Load() == received {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond) // the call's timer fires
		b1.mu.Unlock()
		if err := waitRecv(t, ends, "the call's end"); err != nil {
			t.Fatalf("the call ended with %v, want its answer", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		srv := redistest.Start(t)
		// A publish to a silent Redis waits 3 s (the client's read
		// timeout), and Close waits for it; the call's timer fires
		// meanwhile.
		b, err := NewBus(BusConfig{Client: srv.Client(t), Node: "n1", Timeout: 3 * time.Second, CallTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		b.Start()
		srv.Pause(t)
		ends := make(chan error, 2)
		b.Call("n2", &Envelope{Kind: "echo"}, func(_ *Envelope, err error) { ends <- err })
		for len(b.urgent) > 0 { // being published
			time.Sleep(time.Millisecond)
		}
		b.Close()
		if err := waitRecv(t, ends, "the call's end"); !isUnavailable(err) {
			t.Fatalf("the call ended with %v, want ErrUnavailable", err)
		}
		if len(ends) > 0 { // its timer fired long before Close returned
			t.Fatalf("the call ended twice, then with %v", <-ends)
		}
	})
}

// TestBusCallIsAnsweredWhileCastsWait: a call, and its answer, are
// served ahead of the casts waiting at either end. During a mass login
// the receiving node served the casts of background work (presence told
// to friends) slower than they came, and a user's call waited behind
// hundreds of them, up to seconds, on one receiver. Here both nodes'
// handlers of casts are held, each with a hundred casts waiting behind
// the one held: n1's call to n2 must be answered all the same.
func TestBusCallIsAnsweredWhileCastsWait(t *testing.T) {
	srv := redistest.Start(t)
	release := make(chan struct{})
	held := make(chan string, 2)
	hellos := make(chan string, 16)
	start := func(node string, b **Bus) {
		bus, err := NewBus(BusConfig{Client: srv.Client(t), Node: node, CallTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		bus.Handle("hello", func(*Envelope) { hellos <- node })
		holding := false // on the bus's receiver of casts only
		bus.Handle("cast", func(*Envelope) {
			if !holding {
				holding = true
				held <- node
			}
			<-release
		})
		bus.Handle("echo", func(e *Envelope) {
			_ = bus.Answer(e, &Envelope{Kind: "echo", Body: append([]byte("re:"), e.Body...)})
		})
		bus.Start()
		t.Cleanup(bus.Close)
		*b = bus
	}
	var b1, b2 *Bus
	start("n1", &b1)
	start("n2", &b2)
	t.Cleanup(func() { close(release) }) // before the buses close
	// Each hears the other once both subscriptions are in place.
	for _, p := range [][2]*Bus{{b1, b2}, {b2, b1}} {
		deadline := time.Now().Add(10 * time.Second)
		for heard := false; !heard; {
			if err := p[0].ToNode(p[1].Node(), &Envelope{Kind: "hello"}); err != nil {
				t.Fatal(err)
			}
			select {
			case node := <-hellos:
				heard = node == p[1].Node()
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatalf("%s never heard %s", p[1].Node(), p[0].Node())
				}
			}
		}
	}

	const casts = 101
	for range casts {
		if err := b1.ToNode("n2", &Envelope{Kind: "cast", Body: make([]byte, 1024)}); err != nil {
			t.Fatal(err)
		}
		if err := b2.ToNode("n1", &Envelope{Kind: "cast", Body: make([]byte, 1024)}); err != nil {
			t.Fatal(err)
		}
	}
	waitRecv(t, held, "a node's handler of casts held")
	waitRecv(t, held, "the other node's handler of casts held")
	// Whatever of the casts is not yet with n2 reaches it before the
	// call: n1 published them first.
	answers := echoCall(b1, "n2", "x")
	select {
	case a := <-answers:
		if a != "re:x" {
			t.Fatalf("the call was answered %q, want re:x", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a call waited 10 s unanswered behind the %d casts waiting at each node", casts)
	}
}

// TestBusPublishesCallsAheadOfCasts: a call (or an answer) queued behind
// casts waiting to be published goes out first, and is not refused when
// the casts fill their queue. Here n1's queue is filled with casts before
// its publisher starts, then a call is made: a subscriber of n2's channel
// must see the call within the first pipeline, not after the casts.
func TestBusPublishesCallsAheadOfCasts(t *testing.T) {
	srv := redistest.Start(t)
	const casts = 1000
	b1, err := NewBus(BusConfig{Client: srv.Client(t), Node: "n1", Queue: casts, CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b1.Close)
	ps := srv.Client(t).Subscribe(context.Background(), b1.keys.BusNode("n2"))
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil { // the subscription
		t.Fatal(err)
	}
	msgs := ps.Channel(redis.WithChannelSize(2 * casts))

	for i := range casts {
		if err := b1.ToNode("n2", &Envelope{Kind: "cast", Body: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b1.ToNode("n2", &Envelope{Kind: "cast"}); !isUnavailable(err) {
		t.Fatalf("a cast past the queue's %d: %v, want ErrUnavailable", casts, err)
	}
	ended := make(chan error, 1)
	b1.Call("n2", &Envelope{Kind: "echo"}, func(_ *Envelope, err error) { ended <- err })
	select {
	case err := <-ended:
		t.Fatalf("the call ended at once, behind the casts filling the queue: %v", err)
	default:
	}
	b1.Start()
	for i := range casts + 1 {
		m := waitRecv(t, msgs, "a message published")
		e := new(Envelope)
		if _, err := rawbody.Decode([]byte(m.Payload), e); err != nil {
			t.Fatal(err)
		}
		if e.Call != 0 {
			if i >= busBatch {
				t.Fatalf("the call was published after %d of the %d casts queued before it", i, casts)
			}
			return
		}
	}
	t.Fatal("the call was never published")
}

// echoCall calls the "echo" handler of node from b with body; what it
// answers, or the call's error, comes on the channel.
func echoCall(b *Bus, node, body string) <-chan string {
	answers := make(chan string, 1)
	b.Call(node, &Envelope{Kind: "echo", Body: []byte(body)}, func(e *Envelope, err error) {
		if err != nil {
			answers <- err.Error()
			return
		}
		answers <- string(e.Body)
	})
	return answers
}
