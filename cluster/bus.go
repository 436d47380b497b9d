package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/rawbody"
)

// The bus carries messages between nodes over Redis pub/sub, not streams:
// what it carries (a direct message, a presence change, a chat line, a
// kick) is worth delivering only to users connected now, and a user who
// is not connected gets nothing today either. Pub/sub keeps nothing in
// Redis, costs one PUBLISH per message and delivers in the order each
// publisher sent; streams would add a log per node to trim, consumer
// offsets to keep and replays nobody asked for. The price is the delivery
// guarantee: at most once. A node that is cut off from Redis misses what
// was published meanwhile; docs/cluster.md says what each message kind
// does about it.
//
// Calls and their answers go ahead of the other messages, on both ends.
// A user's own request to another node (a direct message, a presence
// query, a friend request) is a call, and during a mass login the casts
// of background work (presence told to friends, 256 to a message) came
// faster than the receiving node served them (4 ms a message), and a
// call waited in its inbox behind up to 751 of them, its answer coming
// 0.9 s after it was made and once 4.2 s, past the call timeout, though
// serving it took microseconds (BenchmarkMassLogin's probe, timed at
// each step; its wait to be published, in Redis and for its answer's
// way back came to tens of ms). So a node publishes from two queues,
// calls and answers first, and its receiver hands each message on to
// one of two goroutines, one serving calls and answers, the other the
// rest, each in the order Redis delivered them. What the code relies on
// is kept: casts (and lobby lines, numbered by Redis) reach each node
// in the order their publisher sent them, as calls do among themselves.
// Between a call and a cast none held before either: the social layer
// queues its calls and casts apart before they reach the bus, and an
// operator's request and a room's restore are served on goroutines of
// their own. An answer never waits for room behind casts, nor is refused
// for them.
//
// Topics: every node subscribes to its own channel (node-addressed
// messages, calls and their answers; once it registered, WaitForNode) and
// to the all-nodes channel
// (revocations, notices to everyone); a node subscribes to a lobby
// channel's topic while it has members in that channel.

// Bus defaults.
const (
	// DefaultBusQueue bounds the messages waiting to be published, in
	// each of the two queues (calls and answers; the rest).
	DefaultBusQueue = 8192
	// DefaultCallTimeout bounds a call's wait for its answer.
	DefaultCallTimeout = 2 * time.Second
	// busBatch is how many queued messages one pipeline publishes.
	busBatch = 128
	// busInbox is the receive buffer between Redis and the handlers, in
	// each of the two lanes (calls and answers; the rest).
	busInbox = 4096
	// busReadAhead is what the Redis client reads ahead of the receiver,
	// which hands each message on to its lane at once.
	busReadAhead = 128
)

// Envelope is one message on the bus. Its Body is the kind's own
// encoding; the bus does not read it.
type Envelope struct {
	// Kind names the handler (BusConfig.Handlers) that takes it.
	Kind string `json:"k"`
	// Node is the sending node's id; the bus sets it.
	Node string `json:"n"`
	// Call is the id of a call that expects an answer; zero for a
	// message that expects none.
	Call uint64 `json:"c,omitempty"`
	// Reply is the id of the call this message answers.
	Reply uint64 `json:"r,omitempty"`
	// User is the user the message addresses, if any.
	User string `json:"u,omitempty"`
	// Body is the payload. It travels as its own bytes after the JSON of
	// the rest (internal/rawbody); a node of an older version sent it
	// base64 in the JSON, which is still read.
	Body []byte `json:"b,omitempty"`
	// Seq is the number Redis gave a lobby channel line (PublishLine).
	Seq int64 `json:"s,omitempty"`
}

// BusConfig configures a Bus.
type BusConfig struct {
	// Client is the Redis client. Required.
	Client *redis.Client
	// Node is this node's id. Required.
	Node string
	// Prefix starts every channel name. Zero value means DefaultPrefix.
	Prefix string
	// Timeout bounds one Redis call. Zero value means one second.
	Timeout time.Duration
	// Queue bounds the messages waiting to be published, in each of the
	// two queues (calls and answers; the rest); past it a publish fails
	// with ErrUnavailable. Zero value means DefaultBusQueue.
	Queue int
	// CallTimeout bounds a call's wait for its answer. Zero value means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// CopyMaxAge bounds how long the copy of a direct message or call
	// signal that Social casts to its recipient's other nodes may have
	// waited since it was queued when its turn comes to be handed to the
	// bus: an older one is dropped, counted in Social.CastsLost. Zero
	// value means DefaultCopyMaxAge.
	CopyMaxAge time.Duration
	// Raw reports whether every node reads bodies framed by
	// internal/rawbody (Node.RawPeers); while it says no, bodies go base64
	// inside the JSON, which nodes of every version read. Zero value
	// means always raw (a cluster of this version only).
	Raw func() bool
	// Logger receives bus failures. Zero value means no logging.
	Logger *slog.Logger
}

// outMsg is one message waiting to be published.
type outMsg struct {
	topic   string
	payload []byte
	seqKey  string          // non-empty: number the line with INCR on this key
	after   uint64          // a line's number is above this (the sender's last)
	failed  func(err error) // called on the publisher goroutine when it fails
}

// Bus is this node's end of the node-to-node bus. Publishing never waits
// on Redis: messages go through two bounded queues, calls and answers
// ahead of the rest, to one publisher goroutine, which pipelines them.
// Received messages are handed to the kind's handler on one of two
// goroutines, calls and answers on one, the rest on the other, each in
// the order Redis delivered them; a handler must not block. Its methods
// are safe from any goroutine.
type Bus struct {
	cfg  BusConfig
	rdb  *redis.Client
	keys Keys
	log  *slog.Logger

	handlers map[string]func(*Envelope)
	out      chan outMsg // casts and lobby lines, in order
	urgent   chan outMsg // calls and answers, published ahead of out
	healthy  atomic.Bool
	nextCall atomic.Uint64

	// Received messages waiting for their handler: calls and answers,
	// and the rest.
	inUrgent, in chan *Envelope

	mu      sync.Mutex
	calls   map[uint64]*pendingCall
	topics  map[string][]func(error) // lobby topics wanted → callbacks waiting for the subscription
	subbed  map[string]bool          // lobby topics subscribed
	ps      *redis.PubSub
	started bool
	closed  bool
	// holdNode holds back the subscription to this node's channel until
	// the node registered (WaitForNode); nodeSubbed is closed once Redis
	// confirmed it.
	holdNode   bool
	nodeSubbed chan struct{}
	nodeOnce   sync.Once
	subKick    chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup

	// queued is the bytes of the messages waiting to be published, in
	// both queues.
	queued atomic.Int64

	// Published, Received, Dropped and Failed count messages: published,
	// received for this node, refused because the queue was full or Redis
	// was down, and lost when publishing failed.
	Published, Received, Dropped, Failed atomic.Uint64
}

// pendingCall is a call waiting for its answer.
type pendingCall struct {
	done  func(*Envelope, error)
	timer *time.Timer
}

// NewBus checks cfg and returns a bus; handlers are added with Handle
// before Start.
func NewBus(cfg BusConfig) (*Bus, error) {
	if cfg.Client == nil || cfg.Node == "" {
		return nil, fmt.Errorf("%w: the bus needs a Redis client and a node id", ErrConfig)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultBusQueue
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.CopyMaxAge <= 0 {
		cfg.CopyMaxAge = DefaultCopyMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{
		cfg: cfg, rdb: cfg.Client, keys: Keys{Prefix: cfg.Prefix}, log: cfg.Logger,
		handlers: make(map[string]func(*Envelope)),
		out:      make(chan outMsg, cfg.Queue),
		urgent:   make(chan outMsg, cfg.Queue),
		inUrgent: make(chan *Envelope, busInbox),
		in:       make(chan *Envelope, busInbox),
		calls:    make(map[uint64]*pendingCall),
		topics:   make(map[string][]func(error)),
		subbed:   make(map[string]bool),
		subKick:  make(chan struct{}, 1),
		stop:     make(chan struct{}),

		nodeSubbed: make(chan struct{}),
	}
	b.healthy.Store(true)
	// A process numbers its calls from a random point: a node restarted
	// under the same id would otherwise number them from 1 again, and an
	// answer to its previous process's call, still on its way, would
	// answer the new call with the same number.
	b.nextCall.Store(rand.Uint64() >> 1)
	return b, nil
}

// Node returns this node's id.
func (b *Bus) Node() string { return b.cfg.Node }

// Handle sets the handler of a message kind; call it before Start. The
// handler runs on a receiver goroutine, calls on one and the rest on
// another, and must not block.
func (b *Bus) Handle(kind string, h func(*Envelope)) { b.handlers[kind] = h }

// Healthy reports whether the last exchange with Redis succeeded.
func (b *Bus) Healthy() bool { return b.healthy.Load() }

// WaitForNode has the bus subscribe to this node's channel only once n,
// the node's membership, has registered as this process's (an OnRegister
// hook; call it before Start and before the other pieces' hooks, which
// may make calls). A process started under the id of a live node stays
// out of the cluster until that node's registration lapses (Node.Start):
// subscribed meanwhile, it took the messages sent to that node, Redis
// delivering each to both, and answered its calls. Without it the bus
// subscribes at Start.
func (b *Bus) WaitForNode(n *Node) {
	b.mu.Lock()
	b.holdNode = true
	b.mu.Unlock()
	n.OnRegister(b.joinNode)
}

// joinNode subscribes to this node's channel, unless subscribed, and
// waits until Redis confirmed it.
func (b *Bus) joinNode(ctx context.Context) error {
	select {
	case <-b.nodeSubbed:
		return nil
	default:
	}
	b.mu.Lock()
	ps, running := b.ps, b.started && !b.closed
	b.mu.Unlock()
	if !running {
		return fmt.Errorf("%w: the bus is not running", ErrUnavailable)
	}
	// Subscribing again to a channel is harmless: the client keeps it,
	// and subscribes again whenever it reconnects.
	if err := ps.Subscribe(ctx, b.keys.BusNode(b.cfg.Node)); err != nil {
		return unavailable(err)
	}
	select {
	case <-b.nodeSubbed:
		return nil
	case <-ctx.Done():
		return unavailable(ctx.Err())
	}
}

// Start subscribes to this node's channel (with WaitForNode, once the
// node registered) and the all-nodes channel and starts the publisher
// and the receiver. A Redis that is down only delays the subscription:
// the client keeps trying.
func (b *Bus) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return
	}
	b.started = true
	channels := []string{b.keys.BusAll()}
	if !b.holdNode {
		channels = append(channels, b.keys.BusNode(b.cfg.Node))
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	b.ps = b.rdb.Subscribe(ctx, channels...)
	cancel()
	msgs := b.ps.ChannelWithSubscriptions(redis.WithChannelSize(busReadAhead),
		redis.WithChannelHealthCheckInterval(time.Second), redis.WithChannelSendTimeout(time.Second))
	b.wg.Add(5)
	go b.publish()
	go b.receive(msgs)
	go b.handle(b.inUrgent)
	go b.handle(b.in)
	go b.subscriber()
}

// Close stops the bus; calls still waiting fail with ErrUnavailable.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	started, ps := b.started, b.ps
	calls := b.calls
	b.calls = make(map[uint64]*pendingCall)
	b.mu.Unlock()
	if started {
		close(b.stop)
		_ = ps.Close()
		b.wg.Wait()
	}
	for _, c := range calls {
		// Taken from b.calls, they are this Close's to end: a timer that
		// fired meanwhile found nothing to take.
		c.timer.Stop()
		c.done(nil, fmt.Errorf("%w: bus closed", ErrUnavailable))
	}
}

// enqueue hands m to the publisher through q (b.out or b.urgent); it
// fails with ErrUnavailable when Redis is known to be down or q is full.
func (b *Bus) enqueue(q chan outMsg, m outMsg) error {
	if !b.healthy.Load() {
		b.Dropped.Add(1)
		return fmt.Errorf("%w: redis is not answering", ErrUnavailable)
	}
	b.queued.Add(int64(len(m.payload)))
	select {
	case q <- m:
		return nil
	default:
		b.queued.Add(-int64(len(m.payload)))
		b.Dropped.Add(1)
		return fmt.Errorf("%w: bus queue full", ErrUnavailable)
	}
}

// Queued returns how many messages wait to be published, and their bytes,
// in both queues.
func (b *Bus) Queued() (msgs int, bytes int64) { return len(b.out) + len(b.urgent), b.queued.Load() }

// encode frames e for pub/sub: the envelope's JSON without its body, then
// the body's own bytes (internal/rawbody), not base64 in the JSON; or, while
// an older node may read it (BusConfig.Raw), the JSON alone, body inside.
func (b *Bus) encode(e *Envelope) []byte {
	e.Node = b.cfg.Node
	if b.cfg.Raw != nil && !b.cfg.Raw() {
		p, _ := json.Marshal(e) // an Envelope always encodes
		return p
	}
	body := e.Body
	e.Body = nil
	p, _ := rawbody.Encode(e, body) // an Envelope always encodes
	e.Body = body
	return p
}

// ToNode publishes e to one node. It never waits on Redis.
func (b *Bus) ToNode(node string, e *Envelope) error {
	return b.enqueue(b.out, outMsg{topic: b.keys.BusNode(node), payload: b.encode(e)})
}

// ToNodeFailing is ToNode calling failed (on the publisher goroutine; it
// must not block) if e could not be published after ToNodeFailing
// returned nil.
func (b *Bus) ToNodeFailing(node string, e *Envelope, failed func(error)) error {
	return b.enqueue(b.out, outMsg{topic: b.keys.BusNode(node), payload: b.encode(e), failed: failed})
}

// ToAll publishes e to every node but this one.
func (b *Bus) ToAll(e *Envelope) error {
	return b.enqueue(b.out, outMsg{topic: b.keys.BusAll(), payload: b.encode(e)})
}

// PublishLine publishes e to a lobby topic, numbered by Redis (Envelope.Seq,
// one counter per topic) so that every node sees the topic's lines in one
// order with the same numbers. Every node subscribed to the topic receives
// it, this one included. failed is called (on the publisher goroutine) if
// the line could not be published after PublishLine returned nil.
func (b *Bus) PublishLine(topic string, e *Envelope, failed func(error)) error {
	return b.PublishLineAfter(topic, e, 0, failed)
}

// PublishLineAfter is PublishLine numbering the line above after, the
// last number the sender saw on the topic: when Redis lost the topic's
// counter (restarted empty, or the counter's TTL passed while the topic
// was quiet), its numbers go on from there instead of starting at 1
// again below the ones its members have seen.
func (b *Bus) PublishLineAfter(topic string, e *Envelope, after uint64, failed func(error)) error {
	return b.enqueue(b.out, outMsg{topic: b.keys.BusChannel(topic), payload: b.encode(e), seqKey: b.keys.ChannelSeq(topic), after: after, failed: failed})
}

// Call publishes e to node as a call and calls done once, with the answer
// or with an error wrapping ErrUnavailable when no answer came within the
// call timeout or before Close returned. done runs on the bus's goroutine
// of calls and answers, a timer or Close's goroutine (on the caller's when
// the call cannot be sent) and must not block.
func (b *Bus) Call(node string, e *Envelope, done func(*Envelope, error)) {
	id := b.nextCall.Add(1)
	e.Call = id
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		done(nil, fmt.Errorf("%w: bus closed", ErrUnavailable))
		return
	}
	pc := &pendingCall{done: done}
	pc.timer = time.AfterFunc(b.cfg.CallTimeout, func() {
		if b.takeCall(id) != nil {
			done(nil, fmt.Errorf("%w: node %s did not answer in %v", ErrUnavailable, node, b.cfg.CallTimeout))
		}
	})
	b.calls[id] = pc
	b.mu.Unlock()
	if err := b.enqueue(b.urgent, outMsg{topic: b.keys.BusNode(node), payload: b.encode(e)}); err != nil {
		if b.takeCall(id) != nil {
			pc.timer.Stop()
			done(nil, err)
		}
	}
}

// takeCall removes and returns the pending call id, nil when it is gone.
func (b *Bus) takeCall(id uint64) *pendingCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	pc := b.calls[id]
	delete(b.calls, id)
	return pc
}

// Answer publishes the answer a to the call req, ahead of the casts
// waiting.
func (b *Bus) Answer(req *Envelope, a *Envelope) error {
	a.Reply = req.Call
	return b.enqueue(b.urgent, outMsg{topic: b.keys.BusNode(req.Node), payload: b.encode(a)})
}

// Join subscribes to a lobby topic; ready is called once the subscription
// is in place (every line published after that reaches this node) or has
// failed. ready runs on a bus goroutine and must not block.
func (b *Bus) Join(topic string, ready func(error)) {
	b.mu.Lock()
	if b.subbed[topic] {
		if _, wanted := b.topics[topic]; !wanted {
			b.topics[topic] = nil // a Leave not yet carried out is undone
		}
		b.mu.Unlock()
		if ready != nil {
			ready(nil)
		}
		return
	}
	b.topics[topic] = append(b.topics[topic], ready)
	b.mu.Unlock()
	b.kickSubscriber()
}

// Leave unsubscribes from a lobby topic.
func (b *Bus) Leave(topic string) {
	b.mu.Lock()
	waiting, wanted := b.topics[topic]
	delete(b.topics, topic)
	b.mu.Unlock()
	for _, f := range waiting {
		if f != nil {
			f(fmt.Errorf("%w: left before subscribed", ErrUnavailable))
		}
	}
	if wanted {
		b.kickSubscriber()
	}
}

func (b *Bus) kickSubscriber() {
	select {
	case b.subKick <- struct{}{}:
	default:
	}
}

// subscriber brings the lobby subscriptions in line with Join and Leave.
func (b *Bus) subscriber() {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case <-b.subKick:
		}
		b.mu.Lock()
		var sub, unsub []string
		for t := range b.topics {
			if !b.subbed[t] {
				sub = append(sub, b.keys.BusChannel(t))
			}
		}
		for t, on := range b.subbed {
			if _, wanted := b.topics[t]; on && !wanted {
				unsub = append(unsub, b.keys.BusChannel(t))
				delete(b.subbed, t)
			}
		}
		ps := b.ps
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
		if len(unsub) > 0 {
			_ = ps.Unsubscribe(ctx, unsub...)
		}
		var err error
		if len(sub) > 0 {
			err = ps.Subscribe(ctx, sub...)
		}
		cancel()
		if err != nil {
			// The client keeps the channels and subscribes again when it
			// reconnects; the callers go on without waiting.
			b.healthy.Store(false)
			b.mu.Lock()
			var fs []func(error)
			for _, s := range sub {
				t := s[len(b.keys.BusChannel("")):]
				fs = append(fs, b.topics[t]...)
				if _, ok := b.topics[t]; ok {
					b.topics[t] = nil
				}
			}
			b.mu.Unlock()
			for _, f := range fs {
				if f != nil {
					f(unavailable(err))
				}
			}
		}
	}
}

// subscribed records a subscription confirmed by Redis and runs the
// callbacks waiting for it. A topic left while its subscription was on
// its way is recorded too, and the subscriber is told to undo it: Leave
// found nothing subscribed to undo, and Redis would otherwise keep the
// node subscribed to it for good.
func (b *Bus) subscribed(channel string) {
	if channel == b.keys.BusNode(b.cfg.Node) {
		b.nodeOnce.Do(func() { close(b.nodeSubbed) })
		return
	}
	prefix := b.keys.BusChannel("")
	if len(channel) <= len(prefix) || channel[:len(prefix)] != prefix {
		return
	}
	t := channel[len(prefix):]
	b.mu.Lock()
	fs, wanted := b.topics[t]
	b.subbed[t] = true
	if wanted {
		b.topics[t] = nil
	}
	b.mu.Unlock()
	if !wanted {
		b.kickSubscriber()
	}
	for _, f := range fs {
		if f != nil {
			f(nil)
		}
	}
}

// receive hands each received message on to its lane: calls and
// answers to b.inUrgent, the rest to b.in. A lane that is full holds the
// receiver, and go-redis then holds what Redis sends meanwhile, up to
// busReadAhead messages for a second before it drops one.
func (b *Bus) receive(msgs <-chan any) {
	defer b.wg.Done()
	defer close(b.in)
	defer close(b.inUrgent)
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.subscribed(m.Channel)
			}
		case *redis.Message:
			e := b.decode(m)
			switch {
			case e == nil:
			case e.Call != 0 || e.Reply != 0:
				b.inUrgent <- e
			default:
				b.in <- e
			}
		}
	}
}

// handle hands each message of a lane to its handler, in order, until
// the lane closes.
func (b *Bus) handle(lane <-chan *Envelope) {
	defer b.wg.Done()
	for e := range lane {
		b.dispatch(e)
	}
}

// decode reads a received message; nil when it is undecodable or is this
// node's own broadcast.
func (b *Bus) decode(m *redis.Message) *Envelope {
	payload := m.Payload
	var seq int64
	if m.Channel != b.keys.BusNode(b.cfg.Node) && m.Channel != b.keys.BusAll() {
		// A lobby line: "<seq> <envelope>".
		i := 0
		for i < len(payload) && payload[i] != ' ' {
			seq = seq*10 + int64(payload[i]-'0')
			i++
		}
		if i < len(payload) {
			payload = payload[i+1:]
		}
	}
	e := new(Envelope)
	body, err := rawbody.Decode([]byte(payload), e)
	if err != nil {
		b.log.Warn("cluster: undecodable bus message dropped", "channel", m.Channel, "err", err)
		return nil
	}
	if body != nil {
		e.Body = body
	}
	if m.Channel == b.keys.BusAll() && e.Node == b.cfg.Node {
		return nil // our own broadcast
	}
	e.Seq = seq
	return e
}

// dispatch hands e to its handler, or an answer to its call.
func (b *Bus) dispatch(e *Envelope) {
	b.Received.Add(1)
	if e.Reply != 0 {
		// Whoever takes a call from b.calls ends it (takeCall): its
		// timer may have fired since, and found nothing to take.
		if pc := b.takeCall(e.Reply); pc != nil {
			pc.timer.Stop()
			pc.done(e, nil)
		}
		return
	}
	if h := b.handlers[e.Kind]; h != nil {
		h(e)
	}
}

// lineScript numbers a lobby line above ARGV[3] and publishes "<seq>
// <payload>"; the counter lives a day past the topic's last line. A line
// id may be near 2^51 (a single node's ids follow the lines' time), and
// Lua writes a number with "%.14g": the number is written with '%d'.
var lineScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local after = tonumber(ARGV[3])
if n <= after then
  n = after + 1
  redis.call('SET', KEYS[1], string.format('%d', n))
end
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PUBLISH', ARGV[1], string.format('%d', n) .. ' ' .. ARGV[2])
return n
`)

// publish pipelines queued messages to Redis until Close.
func (b *Bus) publish() {
	defer b.wg.Done()
	batch := make([]outMsg, 0, busBatch)
	probe := time.NewTicker(500 * time.Millisecond)
	defer probe.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-probe.C:
			if !b.healthy.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
				if b.rdb.Ping(ctx).Err() == nil {
					b.healthy.Store(true)
					b.log.Info("cluster: bus reaches redis again")
				}
				cancel()
			}
			continue
		case m := <-b.urgent:
			batch = append(batch[:0], m)
		case m := <-b.out:
			batch = append(batch[:0], m)
		}
		// Calls and answers first, then the rest, in order.
	fill:
		for len(batch) < busBatch {
			select {
			case m := <-b.urgent:
				batch = append(batch, m)
				continue
			default:
			}
			select {
			case m := <-b.out:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		b.flush(batch)
		var n int64
		for _, m := range batch {
			n += int64(len(m.payload))
		}
		b.queued.Add(-n)
	}
}

// flush publishes one batch in a pipeline.
func (b *Bus) flush(batch []outMsg) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	cmds := make([]redis.Cmder, len(batch))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range batch {
			if m.seqKey != "" {
				cmds[i] = lineScript.Eval(ctx, p, []string{m.seqKey}, m.topic, m.payload, m.after)
			} else {
				cmds[i] = p.Publish(ctx, m.topic, m.payload)
			}
		}
		return nil
	})
	// A batch that took a quarter more than its deadline was not kept
	// waiting by Redis (a call to a silent Redis ends at its deadline:
	// the client's ContextTimeoutEnabled) but by this process, stopped
	// meanwhile (SIGSTOP, a paused VM): its deadline passed while nothing
	// ran. That says nothing of Redis, and marking the bus down failed the
	// replies the node sent as it woke, to the calls waiting in its
	// subscription, for the probe's half second. A batch wrongly taken
	// for stalled costs one more: the next to fail marks the bus down.
	stalled := time.Since(start) > b.cfg.Timeout+b.cfg.Timeout/4
	if err != nil && !stalled && b.healthy.Swap(false) {
		b.log.Warn("cluster: bus cannot reach redis; cluster-wide messages fail until it answers", "err", err)
	}
	for i, m := range batch {
		if cerr := cmds[i].Err(); cerr != nil {
			b.Failed.Add(1)
			if m.failed != nil {
				m.failed(unavailable(cerr))
			}
			continue
		}
		b.Published.Add(1)
	}
}

// Bus channel and key names.

// BusNode is the pub/sub channel of one node's messages.
func (k Keys) BusNode(id string) string { return k.Prefix + "bus:node:" + id }

// BusAll is the pub/sub channel every node listens to.
func (k Keys) BusAll() string { return k.Prefix + "bus:all" }

// BusChannel is the pub/sub channel of a lobby chat channel.
func (k Keys) BusChannel(name string) string { return k.Prefix + "bus:chan:" + name }

// ChannelSeq is the counter that numbers a lobby channel's lines (TTL: a
// day after its last line).
func (k Keys) ChannelSeq(name string) string { return k.Prefix + "chan:" + name + ":seq" }
