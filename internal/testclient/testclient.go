// Package testclient is a blocking tickroom.v1 client for tests, over
// gorilla/websocket: a reader goroutine decodes every ServerMessage, hands
// State to an optional hook and queues everything else for the test to
// read with Next, Reply or Request. A client closes itself in t.Cleanup.
package testclient

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Subprotocol is the WebSocket subprotocol the client asks for.
const Subprotocol = "tickroom.v1"

// wait bounds every wait of the client.
const wait = 10 * time.Second

// Options configure Dial. Every field works at its zero value.
type Options struct {
	// Label names the client in failure messages.
	Label string
	// OnState receives each State on the reader goroutine; an error it
	// returns is kept for Err. Zero value means states are dropped.
	OnState func(*tickroomv1.State) error
	// OnMessage sees each other message on the reader goroutine, before
	// it is queued for Next. Zero value means none.
	OnMessage func(*tickroomv1.ServerMessage)
	// Queue is how many other messages wait unread before Err reports an
	// overflow. Zero value means 4,096.
	Queue int
	// Header is sent with the upgrade request (X-Forwarded-For from a
	// trusted proxy, say). Zero value means none.
	Header http.Header
}

// Client is one tickroom.v1 connection.
type Client struct {
	t    testing.TB
	opts Options
	// WS is the connection, for tests that close it or write to it
	// directly.
	WS *websocket.Conn
	// Token is the session token the client connected with.
	Token string

	wmu    sync.Mutex // serialises writes
	nextID uint32

	msgs chan *tickroomv1.ServerMessage // non-state messages
	done chan struct{}                  // closed when the reader stops

	mu   sync.Mutex
	code int
	err  error
}

// Dial connects to url with the session token; a refused upgrade returns
// the server's response with the error.
func Dial(t testing.TB, url, token string, opts Options) (*Client, *http.Response, error) {
	t.Helper()
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url+"?token="+token, opts.Header)
	if err != nil {
		return nil, resp, err
	}
	c := &Client{t: t, opts: opts, WS: ws, Token: token, msgs: make(chan *tickroomv1.ServerMessage, opts.Queue), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { ws.Close(); <-c.done })
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, p, err := c.WS.ReadMessage()
		if err != nil {
			code := -1
			if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
				code = ce.Code
			}
			c.mu.Lock()
			c.code = code
			c.mu.Unlock()
			return
		}
		m := new(tickroomv1.ServerMessage)
		if err := m.UnmarshalVT(p); err != nil {
			c.fail(fmt.Errorf("undecodable ServerMessage: %w", err))
			continue
		}
		if st := m.GetState(); st != nil {
			if c.opts.OnState != nil {
				if err := c.opts.OnState(st); err != nil {
					c.fail(err)
				}
			}
			continue
		}
		if c.opts.OnMessage != nil {
			c.opts.OnMessage(m)
		}
		select {
		case c.msgs <- m:
		default:
			c.fail(errors.New("test client message queue full"))
		}
	}
}

// fail keeps the first error for Err.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// Err returns the first error the reader met: an undecodable message, a
// full queue or one OnState returned.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send writes m with a fresh request id, which it returns.
func (c *Client) Send(m *tickroomv1.ClientMessage) uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	m.RequestId = c.nextID
	c.writeLocked(m)
	return m.RequestId
}

// Write writes m as it is, request id included.
func (c *Client) Write(m *tickroomv1.ClientMessage) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writeLocked(m)
}

func (c *Client) writeLocked(m *tickroomv1.ClientMessage) {
	b, err := m.MarshalVT()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.WS.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Logf("%s: write: %v", c.opts.Label, err)
	}
}

// WriteRaw sends b as one message of type op.
func (c *Client) WriteRaw(op int, b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.WS.WriteMessage(op, b)
}

// Next returns the next non-state message pred accepts, skipping others;
// it fails the test when the connection closes or nothing matches within
// 10 s.
func (c *Client) Next(pred func(*tickroomv1.ServerMessage) bool) *tickroomv1.ServerMessage {
	c.t.Helper()
	return c.NextWithin(wait, pred)
}

// NextWithin is Next waiting up to d: a guard longer than Next's for an
// answer that can be slow by design (one that waits out a deadline of
// its own), so that only an answer that never comes fails the test.
func (c *Client) NextWithin(d time.Duration, pred func(*tickroomv1.ServerMessage) bool) *tickroomv1.ServerMessage {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			if pred(m) {
				return m
			}
		case <-c.done:
			// What arrived before the close is still due.
			for more := true; more; {
				select {
				case m := <-c.msgs:
					if pred(m) {
						return m
					}
				default:
					more = false
				}
			}
			c.t.Fatalf("%s: connection closed (code %d) while waiting", c.opts.Label, c.CloseCode())
		case <-deadline:
			c.t.Fatalf("%s: no matching message within %v", c.opts.Label, d)
		}
	}
}

// Reply waits for the reply to request id.
func (c *Client) Reply(id uint32) *tickroomv1.ServerMessage {
	c.t.Helper()
	return c.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == id })
}

// RequestWithin sends m and waits up to d for its reply (NextWithin).
func (c *Client) RequestWithin(d time.Duration, m *tickroomv1.ClientMessage) *tickroomv1.ServerMessage {
	c.t.Helper()
	id := c.Send(m)
	return c.NextWithin(d, func(r *tickroomv1.ServerMessage) bool { return r.RequestId == id })
}

// Request sends m and waits for its reply.
func (c *Client) Request(m *tickroomv1.ClientMessage) *tickroomv1.ServerMessage {
	c.t.Helper()
	return c.Reply(c.Send(m))
}

// Follow sends m and waits for its reply; a Redirect (the room lives on
// another node of a cluster) is followed as client-js follows it: this
// connection is closed, the node named is dialled with the same token, its
// Welcome read, and m sent again there with the reservation. It returns the
// client to go on with (c itself when there was no redirect), the final
// reply, and the redirects followed.
func (c *Client) Follow(m *tickroomv1.ClientMessage) (*Client, *tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	c.t.Helper()
	var hops []*tickroomv1.Redirect
	cur := c
	for {
		reply := cur.Request(m)
		r := reply.GetRedirect()
		if r == nil {
			return cur, reply, hops
		}
		hops = append(hops, r)
		if len(hops) > 3 {
			c.t.Fatalf("%s: redirected more than 3 times: %v", c.opts.Label, hops)
		}
		next := cur.redial(r.Url)
		next.Next(Is[*tickroomv1.ServerMessage_Welcome])
		m = withReservation(m, r.Reservation)
		cur = next
	}
}

// Moved waits for a Redirect the server sends unprompted (request id 0)
// when a room this connection plays in moved to another node (its node
// drains), skipping other messages.
func (c *Client) Moved() *tickroomv1.Redirect {
	c.t.Helper()
	return c.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.RequestId == 0 && m.GetRedirect() != nil
	}).GetRedirect()
}

// Move follows such a Redirect as client-js does: this connection is
// closed, the node named is dialled with the same token and its Welcome
// read, and resume (the JoinRoom that resumes the room) is sent there with
// the reservation, following further redirects. It returns the client to
// go on with, the Welcome of the node and the reply to resume.
func (c *Client) Move(r *tickroomv1.Redirect, resume *tickroomv1.ClientMessage) (*Client, *tickroomv1.Welcome, *tickroomv1.ServerMessage) {
	c.t.Helper()
	next := c.redial(r.Url)
	w := next.Next(Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
	cur, reply, _ := next.Follow(withReservation(resume, r.Reservation))
	return cur, w, reply
}

// withReservation returns a copy of a JoinRoom or QuickMatch carrying the
// reservation token.
func withReservation(m *tickroomv1.ClientMessage, token string) *tickroomv1.ClientMessage {
	m = m.CloneVT()
	switch b := m.Body.(type) {
	case *tickroomv1.ClientMessage_JoinRoom:
		b.JoinRoom.Reservation = token
	case *tickroomv1.ClientMessage_QuickMatch:
		b.QuickMatch.Reservation = token
	}
	return m
}

// CloseCode is the close code the server sent, -1 for a connection lost
// without one, 0 while it is open.
func (c *Client) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// WaitClosed waits for the connection to end and returns CloseCode.
func (c *Client) WaitClosed() int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.CloseCode()
	case <-time.After(wait):
		c.t.Fatalf("%s: connection not closed within %v", c.opts.Label, wait)
		return 0
	}
}

// Drain returns the non-state messages queued so far, and those that
// arrive until the connection has been quiet for quiet.
func (c *Client) Drain(quiet time.Duration) []*tickroomv1.ServerMessage {
	var out []*tickroomv1.ServerMessage
	for {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-time.After(quiet):
			return out
		}
	}
}

// Is reports whether m's body is of type T, as Next's predicate:
// c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).
func Is[T any](m *tickroomv1.ServerMessage) bool {
	_, ok := m.Body.(T)
	return ok
}

// redial closes this connection as a client following a Redirect does and
// dials url with the same token and options.
func (c *Client) redial(url string) *Client {
	c.t.Helper()
	_ = c.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "redirect"), time.Now().Add(time.Second))
	c.WS.Close()
	next, resp, err := Dial(c.t, url, c.Token, c.opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		c.t.Fatalf("%s: following the redirect to %s: %v (HTTP %d)", c.opts.Label, url, err, status)
	}
	return next
}
