package hub_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// client is a tickroom.v1 test client that also rebuilds each room's state
// from the keyframes and deltas it receives, as a real client does.
type client struct {
	*testclient.Client
	t    *testing.T
	user string

	mu       sync.Mutex
	worlds   map[string]*world
	stateErr error
}

// world is a room's state as rebuilt from keyframes and deltas.
type world struct {
	tick     uint64
	entities map[uint64][]byte
	globals  []byte
	acks     map[uint32]uint32
	frames   int
	history  map[uint64]string // tick → digest, for cross-client comparison
}

func newWorld() *world {
	return &world{entities: map[uint64][]byte{}, acks: map[uint32]uint32{}, history: map[uint64]string{}}
}

func (w *world) apply(s *tickroomv1.State) error {
	if !s.Keyframe && s.BaseTick != w.tick {
		return fmt.Errorf("room %s: delta from tick %d onto tick %d", s.RoomId, s.BaseTick, w.tick)
	}
	if s.Keyframe {
		w.entities = map[uint64][]byte{}
		w.globals = nil
	}
	for _, e := range s.Upserts {
		w.entities[e.Id] = bytes.Clone(e.Data)
	}
	for _, id := range s.Removed {
		delete(w.entities, id)
	}
	if s.Keyframe || s.GlobalsSet || len(s.Globals) > 0 {
		w.globals = bytes.Clone(s.Globals)
	}
	for _, a := range s.Acks {
		w.acks[a.Seat] = a.Seq
	}
	w.tick = s.Tick
	w.frames++
	w.history[s.Tick] = w.digest()
	return nil
}

func (w *world) digest() string {
	var b bytes.Buffer
	for _, id := range slices.Sorted(maps.Keys(w.entities)) {
		fmt.Fprintf(&b, "%d:%x;", id, w.entities[id])
	}
	fmt.Fprintf(&b, "g:%x", w.globals)
	return b.String()
}

func dial(t *testing.T, url, token string) (*client, *http.Response, error) {
	t.Helper()
	c := &client{t: t, worlds: map[string]*world{}}
	tc, resp, err := testclient.Dial(t, url, token, testclient.Options{OnState: c.onState})
	if err != nil {
		return nil, resp, err
	}
	c.Client = tc
	return c, resp, nil
}

// onState applies st to its room's world; it runs on the reader goroutine.
func (c *client) onState(st *tickroomv1.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.worlds[st.RoomId]
	if w == nil {
		w = newWorld()
		c.worlds[st.RoomId] = w
	}
	err := w.apply(st)
	if err != nil && c.stateErr == nil {
		c.stateErr = err
	}
	return err
}

// world returns the client's view of a room and the first error met
// rebuilding any room or reading the connection.
func (c *client) world(roomID string) (tick uint64, digest string, frames int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err = errors.Join(c.stateErr, c.Err())
	w := c.worlds[roomID]
	if w == nil {
		return 0, "", 0, err
	}
	return w.tick, w.digest(), w.frames, err
}

// adopt copies other's view of a room, as a reconnecting client keeps its
// state to resume from.
func (c *client) adopt(other *client, roomID string) {
	other.mu.Lock()
	w := other.worlds[roomID]
	cp := &world{tick: w.tick, entities: maps.Clone(w.entities), globals: w.globals, acks: maps.Clone(w.acks), history: map[uint64]string{}}
	other.mu.Unlock()
	c.mu.Lock()
	c.worlds[roomID] = cp
	c.mu.Unlock()
}

func (c *client) entities(roomID string) map[uint64][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.worlds[roomID]; w != nil {
		return maps.Clone(w.entities)
	}
	return nil
}

func (c *client) ack(roomID string, seat uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.worlds[roomID]; w != nil {
		return w.acks[seat]
	}
	return 0
}

func (c *client) history(roomID string) map[uint64]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.worlds[roomID]; w != nil {
		return maps.Clone(w.history)
	}
	return nil
}

// drain returns the messages queued so far, waiting briefly for more.
func drain(c *client) []*tickroomv1.ServerMessage { return c.Drain(50 * time.Millisecond) }

// isKind reports whether m's body is of type T, as a Next predicate.
func isKind[T any](m *tickroomv1.ServerMessage) bool { return testclient.Is[T](m) }
