package hub_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// client is a blocking tickroom.v1 test client over gorilla/websocket. A
// reader goroutine decodes every ServerMessage, applies state to per-room
// worlds, and queues everything else for the test to read.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	user string

	wmu    sync.Mutex // serialises writes
	nextID uint32

	msgs chan *tickroomv1.ServerMessage // non-state messages
	done chan struct{}                  // closed when the reader stops

	mu        sync.Mutex
	worlds    map[string]*world
	closeCode int
	stateErr  error
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
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url+"?token="+token, nil)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, ws: ws, msgs: make(chan *tickroomv1.ServerMessage, 4096), done: make(chan struct{}), worlds: map[string]*world{}}
	go c.read()
	t.Cleanup(func() { ws.Close(); <-c.done })
	return c, resp, nil
}

func (c *client) read() {
	defer close(c.done)
	for {
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closeCode = ce.Code
			} else {
				c.closeCode = -1
			}
			c.mu.Unlock()
			return
		}
		m := new(tickroomv1.ServerMessage)
		if err := m.UnmarshalVT(p); err != nil {
			c.mu.Lock()
			c.stateErr = fmt.Errorf("undecodable ServerMessage: %w", err)
			c.mu.Unlock()
			continue
		}
		if st := m.GetState(); st != nil {
			c.mu.Lock()
			w := c.worlds[st.RoomId]
			if w == nil {
				w = &world{entities: map[uint64][]byte{}, acks: map[uint32]uint32{}, history: map[uint64]string{}}
				c.worlds[st.RoomId] = w
			}
			if err := w.apply(st); err != nil && c.stateErr == nil {
				c.stateErr = err
			}
			c.mu.Unlock()
			continue
		}
		select {
		case c.msgs <- m:
		default:
			c.mu.Lock()
			c.stateErr = fmt.Errorf("test client message queue full")
			c.mu.Unlock()
		}
	}
}

// send writes m with a fresh request id, which it returns.
func (c *client) send(m *tickroomv1.ClientMessage) uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	m.RequestId = c.nextID
	c.writeLocked(m)
	return m.RequestId
}

func (c *client) writeLocked(m *tickroomv1.ClientMessage) {
	b, err := m.MarshalVT()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Logf("write: %v", err)
	}
}

// writeRaw sends bytes as one binary message.
func (c *client) writeRaw(op int, b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteMessage(op, b)
}

// next returns the next non-state message that pred accepts, skipping
// others, or fails the test after timeout.
func (c *client) next(pred func(*tickroomv1.ServerMessage) bool) *tickroomv1.ServerMessage {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.msgs:
			if pred(m) {
				return m
			}
		case <-c.done:
			c.t.Fatalf("%s: connection closed (code %d) while waiting", c.user, c.code())
		case <-deadline:
			c.t.Fatalf("%s: no matching message within 10 s", c.user)
		}
	}
}

// reply waits for the reply to request id.
func (c *client) reply(id uint32) *tickroomv1.ServerMessage {
	c.t.Helper()
	return c.next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == id })
}

// request sends m and waits for its reply.
func (c *client) request(m *tickroomv1.ClientMessage) *tickroomv1.ServerMessage {
	c.t.Helper()
	return c.reply(c.send(m))
}

func (c *client) code() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode
}

// waitClosed waits for the server to close the connection and returns its
// close code.
func (c *client) waitClosed() int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code()
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: connection not closed within 10 s", c.user)
		return 0
	}
}

// world returns a copy of the client's view of a room.
func (c *client) world(roomID string) (tick uint64, digest string, frames int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.worlds[roomID]
	if w == nil {
		return 0, "", 0, c.stateErr
	}
	return w.tick, w.digest(), w.frames, c.stateErr
}

// waitTick waits until the client has applied state of roomID at or past
// tick.
func (c *client) waitTick(roomID string, tick uint64) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, _, _, err := c.world(roomID)
		if err != nil {
			c.t.Fatalf("%s: %v", c.user, err)
		}
		if got >= tick {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("%s: room %s did not reach tick %d", c.user, roomID, tick)
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

func isKind[T any](m *tickroomv1.ServerMessage) bool {
	_, ok := m.Body.(T)
	return ok
}
