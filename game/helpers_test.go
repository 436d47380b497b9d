package game_test

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// testClient is a room member's connection that decodes every frame it is
// given and keeps the entity set a real client would build from them.
type testClient struct {
	name string
	mu   sync.Mutex

	congested bool
	states    []*tickroomv1.State
	events    []*tickroomv1.RoomEvent
	messages  []*tickroomv1.GameMessage
	ents      map[uint64]string
	globals   string
	tick      uint64
	errs      []error
}

func newTestClient(name string) *testClient {
	return &testClient{name: name, ents: map[uint64]string{}}
}

func (c *testClient) Congested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.congested
}

func (c *testClient) setCongested(v bool) {
	c.mu.Lock()
	c.congested = v
	c.mu.Unlock()
}

// receive decodes one ServerMessage and applies a State as a client would.
func (c *testClient) receive(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || typ != protowire.BytesType {
		c.errs = append(c.errs, fmt.Errorf("bad envelope tag"))
		return
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		c.errs = append(c.errs, fmt.Errorf("bad envelope length"))
		return
	}
	switch num {
	case 2:
		st := &tickroomv1.State{}
		if err := st.UnmarshalVT(body); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.states = append(c.states, st)
		if err := c.apply(st); err != nil {
			c.errs = append(c.errs, err)
		}
	case 3:
		ev := &tickroomv1.RoomEvent{}
		if err := ev.UnmarshalVT(body); err != nil {
			c.errs = append(c.errs, err)
		}
		c.events = append(c.events, ev)
	case 4:
		gm := &tickroomv1.GameMessage{}
		if err := gm.UnmarshalVT(body); err != nil {
			c.errs = append(c.errs, err)
		}
		c.messages = append(c.messages, gm)
	default:
		c.errs = append(c.errs, fmt.Errorf("unexpected field %d", num))
	}
}

func (c *testClient) apply(st *tickroomv1.State) error {
	if st.Keyframe {
		clear(c.ents)
	} else if st.BaseTick != c.tick {
		return fmt.Errorf("%s: delta base %d, client has %d", c.name, st.BaseTick, c.tick)
	}
	for _, id := range st.Removed {
		delete(c.ents, id)
	}
	for _, e := range st.Upserts {
		c.ents[e.Id] = string(e.Data)
	}
	if st.GlobalsSet {
		c.globals = string(st.Globals)
	}
	c.tick = st.Tick
	return nil
}

func (c *testClient) snapshot() (map[uint64]string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ents), c.tick
}

func (c *testClient) lastState() *tickroomv1.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) == 0 {
		return nil
	}
	return c.states[len(c.states)-1]
}

func (c *testClient) takeStates() []*tickroomv1.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.states
	c.states = nil
	return s
}

func (c *testClient) eventKinds() []tickroomv1.RoomEventKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []tickroomv1.RoomEventKind
	for _, e := range c.events {
		out = append(out, e.Kind)
	}
	return out
}

func (c *testClient) takeMessages() []*tickroomv1.GameMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.messages
	c.messages = nil
	return m
}

// testTransport decodes each frame for each recipient synchronously.
type testTransport struct {
	mu     sync.Mutex
	frames int
}

var _ game.Transport = (*testTransport)(nil)

func (t *testTransport) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	if f.Refs() < 1 {
		panic("frame delivered without a reference")
	}
	t.mu.Lock()
	t.frames++
	t.mu.Unlock()
	for _, c := range to {
		c.(*testClient).receive(f.Payload())
	}
}

// env is a runtime on a manual clock with the test games registered.
type env struct {
	rt      *game.Runtime
	clock   *game.ManualClock
	tr      *testTransport
	mu      sync.Mutex
	removed []game.Removal
}

func newEnv(t *testing.T, mod func(*game.Config)) *env {
	t.Helper()
	e := &env{clock: game.NewManualClock(time.Unix(1_700_000_000, 0)), tr: &testTransport{}}
	reg := game.NewRegistry()
	for _, d := range testDefinitions() {
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	cfg := game.Config{Registry: reg, Transport: e.tr, Clock: e.clock, Shards: 2,
		OnRemoved: func(r game.Removal) {
			e.mu.Lock()
			e.removed = append(e.removed, r)
			e.mu.Unlock()
		}}
	if mod != nil {
		mod(&cfg)
	}
	rt, err := game.NewRuntime(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	e.rt = rt
	t.Cleanup(func() { _ = rt.Shutdown(t.Context()) })
	return e
}

func (e *env) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if err := e.rt.Advance(d); err != nil {
		t.Fatal(err)
	}
}

func (e *env) removals() []game.Removal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]game.Removal(nil), e.removed...)
}

// join joins c and runs ticks until the result arrives.
func (e *env) join(t *testing.T, r *game.Room, req game.JoinRequest) game.JoinResult {
	t.Helper()
	var res *game.JoinResult
	if err := r.Join(req, func(jr game.JoinResult) { res = &jr }); err != nil {
		t.Fatalf("join %s: %v", req.UserID, err)
	}
	for range 2000 {
		if res != nil {
			return *res
		}
		e.advance(t, time.Millisecond)
	}
	t.Fatalf("join %s: no result", req.UserID)
	return game.JoinResult{}
}
