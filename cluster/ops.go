package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// kindAdmin carries an operator request to the node that holds its
// target (a room's state, a close) or a node's share of a cluster-wide
// listing; the call's answer is the request's answer. The bodies are the
// admin API's own encoding: the bus does not read them.
const kindAdmin = "admin"

// Operator request bounds.
const (
	// OpsInFlight bounds the other nodes' operator requests a node serves
	// at once; past it a request is refused at once (the asking node
	// answers 503), so an operator's page polling many nodes never piles
	// up goroutines on one.
	OpsInFlight = 8
	// OpsServeTimeout bounds the serving of one request, below the bus's
	// call timeout so that the answer arrives before the asker gives up.
	OpsServeTimeout = 1500 * time.Millisecond
)

// ErrRefused is returned by Ops.Call when the other node refused the
// request: it serves OpsInFlight already, or has no admin API.
var ErrRefused = errors.New("cluster: the node refused the operator request")

// Ops carries operator requests between nodes over the Bus: the admin API
// of any node lists every node's rooms and players and acts on a room
// wherever it lives. Its methods are safe from any goroutine.
type Ops struct {
	bus   *Bus
	serve atomic.Pointer[func(context.Context, []byte) []byte]
	sem   chan struct{}

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	// Served and Refused count the other nodes' requests served and
	// refused.
	Served, Refused atomic.Uint64
}

// NewOps registers the operator requests' handler on bus; call it before
// bus.Start, and Bind before the requests can be served.
func NewOps(bus *Bus) *Ops {
	o := &Ops{bus: bus, sem: make(chan struct{}, OpsInFlight)}
	bus.Handle(kindAdmin, o.serveCall)
	return o
}

// Bind sets what serves the other nodes' requests: serve gets a request's
// bytes and returns its answer's, under a deadline of OpsServeTimeout.
func (o *Ops) Bind(serve func(ctx context.Context, req []byte) []byte) { o.serve.Store(&serve) }

// Call sends req to node and returns its answer, or an error wrapping
// ErrUnavailable when no answer came within the bus's call timeout (or
// before ctx ended), or ErrRefused.
func (o *Ops) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	type result struct {
		e   *Envelope
		err error
	}
	ch := make(chan result, 1)
	o.bus.Call(node, &Envelope{Kind: kindAdmin, Body: req}, func(e *Envelope, err error) { ch <- result{e, err} })
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		if len(r.e.Body) == 0 {
			return nil, fmt.Errorf("%w: node %s", ErrRefused, node)
		}
		return r.e.Body, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: node %s: %w", ErrUnavailable, node, ctx.Err())
	}
}

// serveCall runs on the bus's receiver of calls: it hands the request to
// a goroutine of its own, or refuses it with an empty answer.
func (o *Ops) serveCall(e *Envelope) {
	if e.Call == 0 {
		return
	}
	serve := o.serve.Load()
	o.mu.Lock()
	closed := o.closed
	if !closed && serve != nil {
		select {
		case o.sem <- struct{}{}:
			o.wg.Add(1)
		default:
			serve = nil
		}
	}
	o.mu.Unlock()
	if closed || serve == nil {
		o.Refused.Add(1)
		_ = o.bus.Answer(e, &Envelope{Kind: kindAdmin})
		return
	}
	go func() {
		defer o.wg.Done()
		defer func() { <-o.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), OpsServeTimeout)
		body := (*serve)(ctx, e.Body)
		cancel()
		o.Served.Add(1)
		_ = o.bus.Answer(e, &Envelope{Kind: kindAdmin, Body: body})
	}()
}

// Close refuses further requests and waits for those being served.
func (o *Ops) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.wg.Wait()
}

// RoomNode returns the id of the node a room is listed on, "" when the
// directory does not list it; an error wraps ErrUnavailable.
func (d *Directory) RoomNode(ctx context.Context, roomID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	node, err := d.rdb.HGet(ctx, d.keys.Room(roomID), "node").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", unavailable(err)
	}
	return node, nil
}
