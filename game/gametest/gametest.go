// Package gametest helps test games and the runtime: a Client that decodes
// every frame it is sent and keeps the entity set a real client would build,
// a Transport that hands frames to such clients, and an Env that runs a
// Runtime on a ManualClock.
//
// A game's unit test creates an Env with the game's Definition, a room with
// Env.Create, seats players with Env.Seat, sends their inputs with
// Player.Send, moves time on with Env.Advance (ticks run on the calling
// goroutine, so nothing races the test), and reads what each player was
// sent: Client.Entity decodes one entity of the state the client built,
// TakeMessages the game's messages, and Env.Results the match results.
package gametest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Client is a room member's connection that decodes every frame it is
// given and keeps the entity set a real client would build from them.
type Client struct {
	name string
	mu   sync.Mutex

	congested bool
	states    []State
	events    []*tickroomv1.RoomEvent
	messages  []*tickroomv1.GameMessage
	drops     []*tickroomv1.InputDropped
	store     statesync.Store
	frames    int
	bytes     int
	errs      []error
}

// NewClient returns a Client; name is used in error messages.
func NewClient(name string) *Client {
	return &Client{name: name}
}

// Congested implements game.Client.
func (c *Client) Congested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.congested
}

// SetCongested sets what Congested reports.
func (c *Client) SetCongested(v bool) {
	c.mu.Lock()
	c.congested = v
	c.mu.Unlock()
}

// receive decodes one ServerMessage and applies a State as a client would.
func (c *Client) receive(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames++
	c.bytes += len(b)
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
		res, err := c.store.Apply(st.Keyframe, st.Tick, st.BaseTick, st.Patch)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: tick %d: %w", c.name, st.Tick, err))
		}
		c.states = append(c.states, State{State: st, Result: res})
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
	case 27:
		d := &tickroomv1.InputDropped{}
		if err := d.UnmarshalVT(body); err != nil {
			c.errs = append(c.errs, err)
		}
		c.drops = append(c.drops, d)
	default:
		c.errs = append(c.errs, fmt.Errorf("unexpected field %d", num))
	}
}

// Received returns the number of frames and payload bytes received.
func (c *Client) Received() (frames, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, c.bytes
}

// Events returns every RoomEvent received.
func (c *Client) Events() []*tickroomv1.RoomEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tickroomv1.RoomEvent(nil), c.events...)
}

// Globals returns the client's current globals.
func (c *Client) Globals() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.store.Globals()...)
}

// Err returns the first decoding or delta-application error, if any.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// State is one State received and what applying it changed.
type State struct {
	*tickroomv1.State
	statesync.Result
}

// Entities returns the client's entity set and the tick it is at.
func (c *Client) Entities() (map[uint64]string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[uint64]string, len(c.store.Entities()))
	for _, e := range c.store.Entities() {
		m[e.ID] = string(e.Data)
	}
	return m, c.store.Tick()
}

// Ack returns the client's last known input ack for seat.
func (c *Client) Ack(seat uint32) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store.AckFor(seat)
}

// LastState returns the last State received, or nil.
func (c *Client) LastState() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) == 0 {
		return nil
	}
	return &c.states[len(c.states)-1]
}

// TakeStates returns the States received since the last call.
func (c *Client) TakeStates() []State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.states
	c.states = nil
	return s
}

// EventKinds returns the kinds of every RoomEvent received.
func (c *Client) EventKinds() []tickroomv1.RoomEventKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []tickroomv1.RoomEventKind
	for _, e := range c.events {
		out = append(out, e.Kind)
	}
	return out
}

// TakeMessages returns the GameMessages received since the last call.
func (c *Client) TakeMessages() []*tickroomv1.GameMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.messages
	c.messages = nil
	return m
}

// TakeDrops returns the InputDropped notices received since the last
// call: the numbered inputs of the client's seat that the room dropped.
func (c *Client) TakeDrops() []*tickroomv1.InputDropped {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.drops
	c.drops = nil
	return d
}

// Transport decodes each frame for each recipient synchronously.
type Transport struct {
	mu     sync.Mutex
	frames int
}

var _ game.Transport = (*Transport)(nil)

// Deliver implements game.Transport.
func (t *Transport) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	if f.Refs() < 1 {
		panic("frame delivered without a reference")
	}
	t.mu.Lock()
	t.frames++
	t.mu.Unlock()
	for _, c := range to {
		c.(*Client).receive(f.Payload())
	}
}

// Env is a Runtime on a ManualClock that delivers to Clients.
type Env struct {
	RT      *game.Runtime
	Clock   *game.ManualClock
	tr      *Transport
	mu      sync.Mutex
	removed []game.Removal
	results []game.Result
}

// NewEnv returns a started Runtime on a ManualClock with defs registered
// and two shards; mod may adjust the config. Shutdown runs in t.Cleanup.
func NewEnv(t testing.TB, defs []game.Definition, mod func(*game.Config)) *Env {
	t.Helper()
	e := &Env{Clock: game.NewManualClock(time.Unix(1_700_000_000, 0)), tr: &Transport{}}
	reg := game.NewRegistry()
	for _, d := range defs {
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	cfg := game.Config{Registry: reg, Transport: e.tr, Clock: e.Clock, Shards: 2,
		OnRemoved: func(r game.Removal) {
			e.mu.Lock()
			e.removed = append(e.removed, r)
			e.mu.Unlock()
		},
		OnResult: func(r game.Result) {
			e.mu.Lock()
			e.results = append(e.results, r)
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
	e.RT = rt
	t.Cleanup(func() { _ = rt.Shutdown(t.Context()) })
	return e
}

// Advance runs the runtime for d of manual time.
func (e *Env) Advance(t testing.TB, d time.Duration) {
	t.Helper()
	if err := e.RT.Advance(d); err != nil {
		t.Fatal(err)
	}
}

// Removals returns every Removal the runtime reported.
func (e *Env) Removals() []game.Removal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]game.Removal(nil), e.removed...)
}

// Join queues req and advances time until its result arrives.
func (e *Env) Join(t testing.TB, r *game.Room, req game.JoinRequest) game.JoinResult {
	t.Helper()
	var res *game.JoinResult
	if err := r.Join(req, func(jr game.JoinResult) { res = &jr }); err != nil {
		t.Fatalf("join %s: %v", req.UserID, err)
	}
	for range 2000 {
		if res != nil {
			return *res
		}
		e.Advance(t, time.Millisecond)
	}
	t.Fatalf("join %s: no result", req.UserID)
	return game.JoinResult{}
}
