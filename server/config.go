package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/server/clientip"
)

// DefaultMaxConns is Config.MaxConns's default.
const DefaultMaxConns = 10000

// Subprotocol is the WebSocket subprotocol tickroom speaks (RFC 6455 §1.9).
const Subprotocol = "tickroom.v1"

// MaxRequestSize is the default cap on an HTTP upgrade request, request line
// and headers included. A larger request gets 431.
const MaxRequestSize = 8 << 10

// Sentinel errors. They are wrapped with %w where more context helps.
var (
	// ErrServerClosed is returned by Start after Shutdown, and by Shutdown
	// once it has finished.
	ErrServerClosed = errors.New("server: server closed")
	// ErrStarted is returned by Start and Handle once the server is running.
	ErrStarted = errors.New("server: already started")
	// ErrConfig wraps a Config value that New refuses.
	ErrConfig = errors.New("server: invalid config")
	// ErrConnClosed is returned when sending on a connection that is closing
	// or closed.
	ErrConnClosed = errors.New("server: connection closed")
	// ErrDropped is returned by SendFrame when a Droppable frame was skipped
	// because the connection is congested.
	ErrDropped = errors.New("server: droppable frame skipped, connection congested")
	// ErrFrameNotPrepared is returned when a frame without a WebSocket header
	// is sent; call PrepareFrame first.
	ErrFrameNotPrepared = errors.New("server: frame has no WebSocket header, call PrepareFrame")
	// ErrControlTooLong is returned when a control frame payload exceeds 125
	// bytes (RFC 6455 §5.5).
	ErrControlTooLong = errors.New("server: control frame payload over 125 bytes")
)

// Config configures a Server. Every field works at its zero value.
type Config struct {
	// Addr is the TCP address to listen on, "host:port". Zero value means
	// "127.0.0.1:0" (a free loopback port; see Server.Addr).
	Addr string
	// Loops is the number of gnet event loops. Zero value means one per CPU.
	Loops int

	// MaxConns caps open TCP connections, upgraded or not; the excess is
	// answered 503 and closed. Zero value means DefaultMaxConns.
	MaxConns int
	// MaxHandshakesPerIP caps the connections one source IP holds before
	// they upgrade: unfinished handshakes, and those refused (HTTP 4xx)
	// until their socket closes; the excess is answered 429 at once and
	// closed. It counts TCP peers that are not
	// trusted proxies (an HTTP proxy reads the request itself before it
	// opens ours, so slow handshakes are its to bound), and the client a
	// trusted proxy's PROXY header names (a TCP proxy forwards bytes as
	// they come). Zero value means 64.
	MaxHandshakesPerIP int
	// TrustedProxies are the peers whose X-Forwarded-For (and, with
	// ProxyProtocol, PROXY header) names the client (see package clientip
	// and Conn.ClientIP). Zero value trusts nobody: every client is its
	// TCP peer and the headers are ignored.
	TrustedProxies clientip.Trusted
	// ProxyProtocol accepts a PROXY protocol header (version 1 or 2) ahead
	// of the upgrade request from TrustedProxies: the client it names is
	// Conn.ClientIP, for the per-IP limits and the logs; a trusted peer
	// may also send none. Any other peer that sends one is answered 400 and
	// closed, so a client cannot name itself. Zero value means off: the
	// server expects the upgrade request first (a PROXY header is a bad
	// request like any other bytes).
	ProxyProtocol bool
	// MaxConnsPerIP caps the upgraded connections of one client address
	// (Conn.ClientIP), for their whole life; an upgrade past it gets 429.
	// Zero value means 256.
	MaxConnsPerIP int
	// HandshakeTimeout closes a connection that has not completed its
	// upgrade in time (slowloris). Zero value means 10 s.
	HandshakeTimeout time.Duration
	// MaxRequestSize caps the upgrade request in bytes (431 when over),
	// at most 1 GiB. Zero value means MaxRequestSize (8 KiB).
	MaxRequestSize int
	// Origins is the Origin allowlist, compared case-insensitively with the
	// Origin header. Zero value (empty) means every origin is allowed.
	Origins []string
	// Subprotocols lists the subprotocols the server speaks, preferred
	// first; the first one the client also offers is selected. A client
	// offering none gets none. Zero value means []string{Subprotocol}.
	Subprotocols []string

	// MaxFrameSize caps one frame's payload; a larger frame is refused from
	// its header with close 1009. Zero value means 64 KiB.
	MaxFrameSize int
	// MaxMessageSize caps a reassembled message; a fragment that would grow
	// it past the cap is refused from its header with close 1009. It is
	// the one place the message size is set: the layers above read it
	// from Server.MaxMessageSize. At most 1 GiB (a connection counts its
	// bytes in flight in 32 bits). Zero value means 1 MiB.
	MaxMessageSize int
	// FrameTimeout is how long a frame may take to arrive once its first
	// byte has, and a fragmented message once its first fragment has; past
	// it the connection is closed with IdleCloseCode (slow drip). The code
	// is the silent link's: a client whose link stalls mid-frame and comes
	// back gets a close it may reconnect and resume after, and a dripping
	// attacker loses its connection whatever the code. Zero value means
	// 10 s.
	FrameTimeout time.Duration
	// MessageRate is the number of messages, control frames included, a
	// connection may send per second, with a burst of twice that (a
	// continuation frame under 1 KiB counts as one more). A ping
	// over the rate gets no pong; a data message over it is still handed to
	// the Handler, with Conn.OverRate true (EchoHandler and BroadcastHandler
	// drop it). A connection that goes on past two more bursts' worth is
	// closed with RateCloseCode. At most 1,048,576 (2^20). Zero value
	// means 120.
	MessageRate int
	// RateCloseCode is the close code for a connection over MessageRate,
	// or over its share of an input budget. Zero value means 1008 (policy
	// violation).
	RateCloseCode ws.StatusCode
	// InputBytesPerIP is how many bytes a second the upgraded connections
	// of one client address (Conn.ClientIP) may send together, with a
	// burst of twice that. While the address is over it, a connection that
	// sends more than its share (the budget divided among the address's
	// connections; a burst of at least one MaxMessageSize) is closed with
	// RateCloseCode; the others are not held back. Zero value means the
	// larger of 32 KiB for each of MaxConnsPerIP connections (8 MiB at the
	// default 256) and MessageRate × MaxMessageSize, what one connection
	// may send at its full rate.
	InputBytesPerIP int
	// InputFramesPerIP is the same budget for the frames MessageRate
	// counts (messages and control frames), a second. Zero value means
	// MessageRate × MaxConnsPerIP / 2: half of an address's connections at
	// their full rate.
	InputFramesPerIP int
	// InputBytes and InputFrames are the same budgets for all connections
	// together; a connection's share is then the budget divided among all
	// open connections. Zero value means 16 times the per-address budget.
	InputBytes, InputFrames int

	// PingInterval is how long a connection may stay silent before the
	// server pings it. Zero value means 25 s.
	PingInterval time.Duration
	// IdleTimeout closes a connection (1001) that sent nothing for this
	// long, pings notwithstanding. Zero value means 60 s.
	IdleTimeout time.Duration
	// IdleCloseCode is the close code sent to a connection closed by
	// IdleTimeout or by FrameTimeout. Zero value means 1001 (going away).
	IdleCloseCode ws.StatusCode
	// CloseTimeout is how long the server waits for the peer's close frame
	// (or FIN) after sending its own before it drops the TCP connection.
	// Zero value means 2 s.
	CloseTimeout time.Duration
	// SweepInterval is the period of the per-loop timer sweep that enforces
	// the timeouts above; timeouts fire up to one interval late. Zero value
	// means 250 ms.
	SweepInterval time.Duration

	// SendBuffer is the kernel's send buffer of each connection (SO_SNDBUF;
	// Linux doubles the value for its own bookkeeping). Left to itself the
	// kernel grows a buffer up to net.ipv4.tcp_wmem's maximum, 4 MiB by
	// default, for any peer that stops reading: memory no budget below
	// counts, and copying it costs the event loop the same CPU as real
	// delivery. A game connection needs far less. Zero value means 128 KiB.
	SendBuffer int

	// NotSentLowat is the most bytes the kernel keeps unsent for a
	// connection (TCP_NOTSENT_LOWAT), beside those on their way: past it
	// the kernel takes no more, and what the connection is sent waits in
	// gnet's buffer and its queue, where it counts toward HighWater. Left
	// to itself the kernel takes a whole send buffer (twice SendBuffer)
	// that no state frame can skip: a player whose link carries less
	// than the room sends fell further behind for ~500 KiB of states, tens
	// of seconds on a slow link, before latest-wins began. Zero value
	// means 16 KiB; negative means the kernel's own (no bound). Linux
	// only.
	NotSentLowat int

	// HighWater is the outbound byte count (queued plus kernel-refused bytes
	// held by gnet) over which a connection is congested: Droppable frames
	// are skipped. With NotSentLowat, what a congested player waits
	// behind is at most the two and what its network holds. Zero value
	// means 16 KiB.
	HighWater int
	// MaxStateLag is how far behind, in time, a connection may fall before
	// it is congested too: each sweep compares what waits for its link (in
	// the kernel unacknowledged, in gnet's buffer, and kept back in its
	// queue while gnet holds bytes) with what its peer acknowledged since
	// the sweep before, and a connection whose backlog would take longer
	// than MaxStateLag to drain at that rate, or that acknowledged nothing
	// for MaxStateLag while owing bytes, has its Droppable frames skipped
	// until it is no longer behind (lag.go). The byte bounds above alone
	// let a room of small states fall tens of seconds behind on a slow
	// link. A peer whose round trip is longer than MaxStateLag is found
	// behind too. Zero value means 500 ms; negative turns the probe off.
	// Linux only (SIOCOUTQ).
	MaxStateLag time.Duration
	// ReliableBudget is the outbound byte count a connection may stay over
	// for at most SlowDeadline before it is closed with SlowCloseCode. Zero
	// value means 1 MiB.
	ReliableBudget int
	// HardCap is the outbound byte count that closes a connection at once
	// with SlowCloseCode. It must hold ReliableBudget plus one message of
	// MaxMessageSize, so an echo of the largest message fits. Zero value
	// means the larger of 4 × ReliableBudget and that minimum.
	HardCap int
	// MaxOutboundBytes is the process-wide budget of outbound bytes (queued
	// plus held by gnet) across all connections. Past it, state frames
	// are skipped, reliable frames are still queued, and after each flush
	// and each sweep every loop closes its largest holders first, with
	// SlowCloseCode, until the process is back under it; only a holder
	// with more than HighWater waiting behind what the kernel refused
	// (held by gnet, or kept back in its queue while gnet holds bytes) is
	// closed, so a connection that keeps up is not. Frames shared by many
	// connections count once per connection. Bytes held by connections
	// lingering after a refusal or a close for a fault are not counted:
	// the close deadline (CloseTimeout) frees them. A connection in its
	// closing handshake (its close frame, or the answer to the peer's,
	// behind what it still had to write) counts until gnet has written
	// that or the deadline ends it, and is not closed for the budget
	// meanwhile. Zero value means 64 MiB,
	// or HardCap when that is larger.
	MaxOutboundBytes int
	// SlowDeadline is how long a connection may stay over ReliableBudget.
	// Zero value means 5 s.
	SlowDeadline time.Duration
	// SlowCloseCode is the close code sent to a connection closed for being
	// too slow. Zero value means 1008 (policy violation).
	SlowCloseCode ws.StatusCode

	// Logger receives connection-level events (refusals, protocol errors)
	// at Debug and engine errors at Error. Zero value means logging is off.
	Logger *slog.Logger
}

// withDefaults returns cfg with zero values replaced by their meaning.
func (cfg Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	defInt(&cfg.Loops, runtime.NumCPU())
	defInt(&cfg.MaxConns, DefaultMaxConns)
	defInt(&cfg.MaxHandshakesPerIP, 64)
	defInt(&cfg.MaxConnsPerIP, 256)
	def(&cfg.HandshakeTimeout, 10*time.Second)
	defInt(&cfg.MaxRequestSize, MaxRequestSize)
	if cfg.Subprotocols == nil {
		cfg.Subprotocols = []string{Subprotocol}
	}
	defInt(&cfg.MaxFrameSize, 64<<10)
	defInt(&cfg.MaxMessageSize, 1<<20)
	def(&cfg.FrameTimeout, 10*time.Second)
	defInt(&cfg.MessageRate, 120)
	if cfg.RateCloseCode == 0 {
		cfg.RateCloseCode = ws.StatusPolicyViolation
	}
	defInt(&cfg.InputBytesPerIP, max(cfg.MaxConnsPerIP*32<<10, cfg.MessageRate*cfg.MaxMessageSize))
	defInt(&cfg.InputFramesPerIP, max(1, cfg.MessageRate*cfg.MaxConnsPerIP/2))
	defInt(&cfg.InputBytes, 16*cfg.InputBytesPerIP)
	defInt(&cfg.InputFrames, 16*cfg.InputFramesPerIP)
	def(&cfg.PingInterval, 25*time.Second)
	def(&cfg.IdleTimeout, 60*time.Second)
	def(&cfg.CloseTimeout, 2*time.Second)
	def(&cfg.SweepInterval, 250*time.Millisecond)
	defInt(&cfg.SendBuffer, 128<<10)
	defInt(&cfg.NotSentLowat, 16<<10)
	defInt(&cfg.HighWater, 16<<10)
	def(&cfg.MaxStateLag, defaultMaxStateLag)
	defInt(&cfg.ReliableBudget, 1<<20)
	defInt(&cfg.HardCap, max(4*cfg.ReliableBudget, cfg.minHardCap()))
	defInt(&cfg.MaxOutboundBytes, max(64<<20, cfg.HardCap))
	def(&cfg.SlowDeadline, 5*time.Second)
	if cfg.SlowCloseCode == 0 {
		cfg.SlowCloseCode = ws.StatusPolicyViolation
	}
	if cfg.IdleCloseCode == 0 {
		cfg.IdleCloseCode = ws.StatusGoingAway
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	}
	return cfg
}

// minHardCap is the smallest HardCap: the reliable budget plus one
// message of the largest size with its frame header.
func (cfg Config) minHardCap() int {
	return cfg.ReliableBudget + cfg.MaxMessageSize + maxHeaderLen
}

// maxMessageSize bounds Config.MaxMessageSize and MaxRequestSize: a
// message, the frame or request being read, fit a Conn's 32-bit counts of
// bytes. maxMessageRate bounds Config.MessageRate: a Conn's rate bucket is
// a float32, which counts whole frames exactly up to 2^24 (four times the
// rate is where a flood is closed).
const (
	maxMessageSize = 1 << 30
	maxMessageRate = 1 << 20
)

// validate reports the first nonsensical value of a defaulted config.
func (cfg Config) validate() error {
	for name, v := range map[string]int{
		"Loops": cfg.Loops, "MaxConns": cfg.MaxConns, "MaxHandshakesPerIP": cfg.MaxHandshakesPerIP,
		"MaxConnsPerIP": cfg.MaxConnsPerIP, "MaxRequestSize": cfg.MaxRequestSize, "MaxFrameSize": cfg.MaxFrameSize,
		"MaxMessageSize": cfg.MaxMessageSize, "MessageRate": cfg.MessageRate, "SendBuffer": cfg.SendBuffer, "HighWater": cfg.HighWater,
		"ReliableBudget": cfg.ReliableBudget, "HardCap": cfg.HardCap, "MaxOutboundBytes": cfg.MaxOutboundBytes,
		"InputBytesPerIP": cfg.InputBytesPerIP, "InputFramesPerIP": cfg.InputFramesPerIP,
		"InputBytes": cfg.InputBytes, "InputFrames": cfg.InputFrames,
	} {
		if v < 0 {
			return fmt.Errorf("%w: %s %d is negative", ErrConfig, name, v)
		}
	}
	for name, v := range map[string]time.Duration{
		"HandshakeTimeout": cfg.HandshakeTimeout, "FrameTimeout": cfg.FrameTimeout, "PingInterval": cfg.PingInterval,
		"IdleTimeout": cfg.IdleTimeout, "CloseTimeout": cfg.CloseTimeout, "SweepInterval": cfg.SweepInterval,
		"SlowDeadline": cfg.SlowDeadline,
	} {
		if v < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrConfig, name, v)
		}
	}
	for name, code := range map[string]ws.StatusCode{
		"SlowCloseCode": cfg.SlowCloseCode, "IdleCloseCode": cfg.IdleCloseCode, "RateCloseCode": cfg.RateCloseCode,
	} {
		if !validCloseCode(code) {
			return fmt.Errorf("%w: %s %d cannot be sent", ErrConfig, name, code)
		}
	}
	switch {
	case cfg.MaxRequestSize < 128:
		return fmt.Errorf("%w: MaxRequestSize %d is under 128 bytes", ErrConfig, cfg.MaxRequestSize)
	case cfg.MaxMessageSize > maxMessageSize:
		return fmt.Errorf("%w: MaxMessageSize %d over 1 GiB", ErrConfig, cfg.MaxMessageSize)
	case cfg.MaxRequestSize > maxMessageSize:
		return fmt.Errorf("%w: MaxRequestSize %d over 1 GiB", ErrConfig, cfg.MaxRequestSize)
	case cfg.MessageRate > maxMessageRate:
		return fmt.Errorf("%w: MessageRate %d over %d a second", ErrConfig, cfg.MessageRate, maxMessageRate)
	case cfg.MaxFrameSize > cfg.MaxMessageSize:
		return fmt.Errorf("%w: MaxFrameSize %d over MaxMessageSize %d", ErrConfig, cfg.MaxFrameSize, cfg.MaxMessageSize)
	case cfg.HardCap < cfg.minHardCap():
		return fmt.Errorf("%w: HardCap %d under ReliableBudget + MaxMessageSize + %d (%d)", ErrConfig, cfg.HardCap, maxHeaderLen, cfg.minHardCap())
	case cfg.MaxOutboundBytes < cfg.HardCap:
		return fmt.Errorf("%w: MaxOutboundBytes %d under HardCap %d", ErrConfig, cfg.MaxOutboundBytes, cfg.HardCap)
	}
	return nil
}
