package gametest

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Unmarshaler is a protobuf message that decodes itself, as vtprotobuf's
// generated code does.
type Unmarshaler interface {
	UnmarshalVT([]byte) error
}

// Player is a room member driven by a test: a Client plus its seat, and
// the next input sequence number.
type Player struct {
	*Client
	// Seat is the member's seat.
	Seat uint32
	room *game.Room
	seq  uint32
}

// Create creates a room or fails the test.
func (e *Env) Create(t testing.TB, opts game.RoomOptions) *game.Room {
	t.Helper()
	r, err := e.RT.CreateRoom(opts)
	if err != nil {
		t.Fatalf("create %s room: %v", opts.Game, err)
	}
	return r
}

// Seat joins a player with user id and name userID into r, and fails the
// test when the game refuses it.
func (e *Env) Seat(t testing.TB, r *game.Room, userID string) *Player {
	t.Helper()
	return e.join(t, r, userID, false)
}

// Watch joins a spectator with user id and name userID into r.
func (e *Env) Watch(t testing.TB, r *game.Room, userID string) *Player {
	t.Helper()
	return e.join(t, r, userID, true)
}

func (e *Env) join(t testing.TB, r *game.Room, userID string, spectator bool) *Player {
	t.Helper()
	c := NewClient(userID)
	res := e.Join(t, r, game.JoinRequest{UserID: userID, Name: userID, Spectator: spectator, Client: c})
	if res.Err != nil {
		t.Fatalf("join %s: %v", userID, res.Err)
	}
	return &Player{Client: c, Seat: res.Seat, room: r}
}

// Send queues data as the player's next input, with the next sequence
// number, and fails the test when the room does not queue it (see
// game.Room.Input). The game sees it at the next tick: call Env.Advance.
func (p *Player) Send(t testing.TB, data []byte) {
	t.Helper()
	p.seq++
	if err := p.room.Input(p.Seat, p.seq, data); err != nil {
		t.Fatalf("%s: input %d: %v", p.name, p.seq, err)
	}
}

// SendMessage encodes m and sends it as the player's next input.
func (p *Player) SendMessage(t testing.TB, m game.Marshaler) {
	t.Helper()
	b := make([]byte, m.SizeVT())
	if _, err := m.MarshalToSizedBufferVT(b); err != nil {
		t.Fatalf("%s: encode input: %v", p.name, err)
	}
	p.Send(t, b)
}

// Entity decodes the entity id of the state the client holds into m and
// reports whether the client has it.
func (c *Client) Entity(t testing.TB, id uint64, m Unmarshaler) bool {
	t.Helper()
	c.mu.Lock()
	b, ok := c.store.Get(id)
	b = append([]byte(nil), b...)
	c.mu.Unlock()
	if !ok {
		return false
	}
	if err := m.UnmarshalVT(b); err != nil {
		t.Fatalf("%s: entity %d: %v", c.name, id, err)
	}
	return true
}

// DecodeGlobals decodes the globals the client holds into m.
func (c *Client) DecodeGlobals(t testing.TB, m Unmarshaler) {
	t.Helper()
	if err := m.UnmarshalVT(c.Globals()); err != nil {
		t.Fatalf("%s: globals: %v", c.name, err)
	}
}

// Results returns every match result the runtime reported.
func (e *Env) Results() []game.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]game.Result(nil), e.results...)
}

// Apply applies a State received over a real connection as a client
// would, so that tests of a running server read entities the same way;
// the first error is kept for Err too.
func (c *Client) Apply(st *tickroomv1.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	res, err := c.store.Apply(st.Keyframe, st.Tick, st.BaseTick, st.Patch)
	if err != nil {
		err = fmt.Errorf("%s: tick %d: %w", c.name, st.Tick, err)
		c.errs = append(c.errs, err)
	}
	c.states = append(c.states, State{State: st, Result: res})
	return err
}

// Name returns the name the client was made with.
func (c *Client) Name() string { return c.name }
