package hub_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/statesync"
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
	refs     map[uint32]string // State.room_ref → room id, from keyframes
	stateErr error
}

// world is a room's state as rebuilt from keyframes and deltas.
type world struct {
	st      *statesync.Store
	frames  int
	history map[uint64]string // tick → digest, for cross-client comparison
}

func newWorld() *world {
	return &world{st: &statesync.Store{}, history: map[uint64]string{}}
}

func (w *world) apply(s *tickroomv1.State) error {
	if _, err := w.st.Apply(s.Keyframe, s.Tick, s.BaseTick, s.Patch); err != nil {
		return fmt.Errorf("room %s (ref %d): tick %d: %w", s.RoomId, s.RoomRef, s.Tick, err)
	}
	w.frames++
	w.history[s.Tick] = w.digest()
	return nil
}

func (w *world) digest() string {
	var b bytes.Buffer
	for _, e := range w.st.Entities() {
		fmt.Fprintf(&b, "%d:%x;", e.ID, e.Data)
	}
	fmt.Fprintf(&b, "g:%x", w.st.Globals())
	return b.String()
}

func dial(t *testing.T, url, token string) (*client, *http.Response, error) {
	t.Helper()
	return dialWith(t, url, token, nil)
}

// connectFrom connects user as a client at ip, which a trusted proxy
// (the server's TrustedProxies must name 127.0.0.1) names in
// X-Forwarded-For, and waits for its Welcome.
func (e *env) connectFrom(user, ip string) *client {
	e.t.Helper()
	c, _, err := dialWith(e.t, e.url, e.token(user, time.Hour), http.Header{"X-Forwarded-For": {ip}})
	if err != nil {
		e.t.Fatal(err)
	}
	c.user = user
	c.Next(isKind[*tickroomv1.ServerMessage_Welcome])
	return c
}

// dialWith is dial with headers on the upgrade request.
func dialWith(t *testing.T, url, token string, h http.Header) (*client, *http.Response, error) {
	t.Helper()
	c := &client{t: t, worlds: map[string]*world{}, refs: map[uint32]string{}}
	tc, resp, err := testclient.Dial(t, url, token, testclient.Options{OnState: c.onState, Header: h})
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
	// A keyframe names its room; deltas name it by ref only.
	id := st.RoomId
	if id != "" {
		c.refs[st.RoomRef] = id
	} else {
		id = c.refs[st.RoomRef]
	}
	w := c.worlds[id]
	if w == nil {
		w = newWorld()
		c.worlds[id] = w
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
	return w.st.Tick(), w.digest(), w.frames, err
}

// adopt copies other's view of a room, as a reconnecting client keeps its
// state to resume from.
func (c *client) adopt(other *client, roomID string) {
	other.mu.Lock()
	w := other.worlds[roomID]
	cp := &world{st: w.st.Clone(), history: map[uint64]string{}}
	refs := maps.Clone(other.refs)
	other.mu.Unlock()
	c.mu.Lock()
	c.worlds[roomID] = cp
	maps.Copy(c.refs, refs)
	c.mu.Unlock()
}

func (c *client) entities(roomID string) map[uint64][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.worlds[roomID]; w != nil {
		m := map[uint64][]byte{}
		for _, e := range w.st.Entities() {
			m[e.ID] = bytes.Clone(e.Data)
		}
		return m
	}
	return nil
}

func (c *client) ack(roomID string, seat uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.worlds[roomID]; w != nil {
		seq, _ := w.st.AckFor(seat)
		return seq
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
