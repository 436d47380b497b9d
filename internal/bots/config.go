package bots

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Sentinel errors.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("bots: invalid config")
	// ErrProtocol reports a server frame or message that breaks RFC 6455 or
	// tickroom.v1; the bot closes its connection and counts it.
	ErrProtocol = errors.New("bots: protocol violation")
	// ErrHandshake reports a refused or malformed WebSocket handshake.
	ErrHandshake = errors.New("bots: handshake failed")
	// ErrLogin reports a failed POST /v1/login.
	ErrLogin = errors.New("bots: login failed")
)

// Limits.
const (
	// MaxBots bounds Config.Bots.
	MaxBots = 200_000
	// MaxChatChannels bounds Config.ChatChannels: a server opens at most
	// 1,000 lobby channels by default.
	MaxChatChannels = 1000
	// maxMessage bounds a server message; a longer one is a protocol error.
	maxMessage = 4 << 20
	// maxOutbound bounds bytes a bot queues when its socket is full; past it
	// the bot closes its connection (it is the bottleneck, not the server).
	maxOutbound = 1 << 20
)

// Config describes one load run. Every field works at its zero value.
type Config struct {
	// HTTPURL is the server's public HTTP base URL (POST /v1/login,
	// GET /v1/config). Zero value means "http://127.0.0.1:8080".
	HTTPURL string
	// HTTPURLs are the HTTP base URLs of several servers, the nodes of a
	// cluster: bots are spread over them (see Config.RoomSize), each
	// logging in at one and connecting to its WebSocket URL, and follow
	// the Redirects the nodes answer with. Zero value means HTTPURL alone.
	HTTPURLs []string
	// WSURL is the tickroom.v1 WebSocket URL, ws://host:port/path, of the
	// one server. Zero value means the one GET /v1/config gives clients:
	// its ws_url (-public-ws-url) resolved against the HTTP URL when set
	// (plain ws:// only), else its port and path on the server's host; it
	// must be zero with several HTTPURLs, each a node reached at its own
	// port and path.
	WSURL string
	// Bots is how many bots to run. Zero value means 10.
	Bots int
	// NamePrefix starts each bot's display name (prefix-<n>). Zero value
	// means "bot".
	NamePrefix string
	// Game is the game to play. Zero value means "arena".
	Game string
	// RoomSize puts bots in rooms of this many: the first bot of each group
	// creates a room with max_players = RoomSize, the others join it by id.
	// Zero value means quick-match (the game's own room size). With
	// several servers, group g's creator starts on server g mod K and its
	// members on the servers after it, so rooms spread evenly over the
	// servers and members reach them through Redirects; in quick-match
	// mode bot i starts on server i mod K.
	RoomSize int
	// TickRate is the tick rate, in Hz, of the rooms bots create in
	// RoomSize mode. Zero value means the game's rate.
	TickRate int
	// Options are the game options sent with CreateRoom or QuickMatch.
	// Zero value means none.
	Options map[string]string
	// RampRate is bots started per second. Zero value means as fast as
	// logins complete.
	RampRate float64
	// Duration is how long the run lasts once every bot has started (and,
	// with Settle, every bot is in a room). Zero value means 10 s.
	Duration time.Duration
	// Settle, when positive, is how long the run waits once every bot has
	// started for every bot to be in a room, before the steady window
	// (and Duration, and the scenarios' clock) starts; past it the window
	// starts anyway. So the window's latency leaves out the end of the
	// ramp, when the server is still logging bots in and seating them.
	// Zero value means no wait: the window starts when the last bot has
	// started.
	Settle time.Duration
	// Warmup is how long the run waits after Settle, with every bot
	// playing, before the steady window starts: the server may still be
	// catching up on what the ramp queued (at the edge of its core, the
	// last seats' backlog takes a few seconds to drain). Zero value means
	// no wait.
	Warmup time.Duration
	// Linger is how long the bots keep playing after the steady window has
	// ended and its figures are taken, before they stop: nothing that
	// happens meanwhile (closes, errors, failures) is in the report. When
	// Progress is set, the run writes "steady window started" to it as the
	// window starts and "steady window over" as it ends, so a script can
	// profile the server within the window, or read its memory (a heap
	// profile, smaps) while every bot still plays without the reading's
	// own cost landing in the window. Zero value means none: the bots stop
	// at the window's end.
	Linger time.Duration
	// InputHz is inputs each bot sends per second. Zero value means 10;
	// negative means none (the bot pings instead). A gomoku bot sends a
	// move only on its turn (read from the room's globals), at its first
	// input time after the turn came, so the game refuses none.
	InputHz float64
	// ChatRate is chat lines each bot sends per second. Zero value means none.
	ChatRate float64
	// ChatChannels, when not zero, sends each bot's chat lines to one of
	// that many lobby channels (bots-0, bots-1, …, a bot's by its index)
	// that it joins at each welcome, instead of to its room: a server with
	// a store writes every such line (ChatRate × Bots a second). Zero value
	// means room chat, which no store keeps. At most MaxChatChannels.
	ChatChannels int
	// StormAt is when, after the steady window started (every bot started,
	// then Settle and Warmup), StormPercent of the bots in a room drop
	// their connections at once and resume; past Duration (the window's
	// end) it is refused. Zero value means halfway through Duration.
	StormAt time.Duration
	// StormPercent is the share (0..100) of bots the storm drops. Zero
	// value means no storm.
	StormPercent float64
	// SlowAt is when, after the steady window started (as StormAt),
	// SlowPercent of the bots stop reading; past Duration it is refused.
	// Zero value means a quarter into Duration.
	SlowAt time.Duration
	// SlowPercent is the share (0..100) of bots that stop reading. Zero
	// value means none.
	SlowPercent float64
	// SlowReadBuffer is the receive buffer (SO_RCVBUF, bytes) of the slow
	// readers' sockets, so a pause backs up into the server instead of the
	// bots' kernel. Zero value means the kernel's default.
	SlowReadBuffer int
	// SlowFor is how long slow readers stop reading. Zero value means 5 s.
	SlowFor time.Duration
	// Loops is the number of event loops. Zero value means one per CPU.
	Loops int
	// SourceAddrs spreads connections over 127.0.0.2 .. 127.0.0.(1+N) so
	// each source address has its own ephemeral ports. Zero value means
	// one per 5,000 bots (at least 1); negative means the kernel's choice.
	SourceAddrs int
	// SourceOffset shifts the source addresses up: the first is
	// 127.0.0.(2+SourceOffset), so bot processes sharing a machine can use
	// distinct ones. Zero value means 127.0.0.2 first.
	SourceOffset int
	// MaxHandshakes bounds unfinished WebSocket handshakes per source
	// address; a bot over it waits its turn (servers refuse a burst from one
	// address with 429). Zero value means 32; negative is refused.
	MaxHandshakes int
	// LoginConcurrency bounds logins in flight. Zero value means 32.
	LoginConcurrency int
	// MetricsURL is the server's Prometheus /metrics URL, sampled every
	// second. Zero value means no scraping.
	MetricsURL string
	// ServerPID is the server's process id, read from /proc when MetricsURL
	// is empty or unreachable. Zero value means none.
	ServerPID int
	// Progress receives a line every second. Zero value means none.
	Progress io.Writer
	// Logger logs run events. Zero value means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.HTTPURL == "" {
		c.HTTPURL = "http://127.0.0.1:8080"
	}
	if c.Bots == 0 {
		c.Bots = 10
	}
	if c.NamePrefix == "" {
		c.NamePrefix = "bot"
	}
	if c.Game == "" {
		c.Game = "arena"
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.InputHz == 0 {
		c.InputHz = 10
	}
	if c.StormAt == 0 {
		c.StormAt = c.Duration / 2
	}
	if c.SlowAt == 0 {
		c.SlowAt = c.Duration / 4
	}
	if c.SlowFor == 0 {
		c.SlowFor = 5 * time.Second
	}
	if c.SourceAddrs == 0 {
		c.SourceAddrs = (c.Bots + 4_999) / 5_000
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = 32
	}
	if c.LoginConcurrency == 0 {
		c.LoginConcurrency = 32
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Bots < 0 || c.Bots > MaxBots:
		return c, fmt.Errorf("%w: bots %d not in 1..%d", ErrConfig, c.Bots, MaxBots)
	case c.RoomSize < 0 || c.TickRate < 0 || c.TickRate > 120 || c.RampRate < 0 || c.ChatRate < 0 || c.Duration < 0 || c.Settle < 0 || c.Warmup < 0 || c.Linger < 0 || c.Loops < 0 || c.LoginConcurrency < 0 || c.MaxHandshakes < 0:
		return c, fmt.Errorf("%w: negative room size, rate, duration or count", ErrConfig)
	case c.StormPercent < 0 || c.StormPercent > 100 || c.SlowPercent < 0 || c.SlowPercent > 100:
		return c, fmt.Errorf("%w: percentages must be in 0..100", ErrConfig)
	case c.StormPercent > 0 && c.StormAt > c.Duration:
		return c, fmt.Errorf("%w: storm at %v, after the window's %v end: it would never come", ErrConfig, c.StormAt, c.Duration)
	case c.SlowPercent > 0 && c.SlowAt > c.Duration:
		return c, fmt.Errorf("%w: slow readers at %v, after the window's %v end: they would never pause", ErrConfig, c.SlowAt, c.Duration)
	case c.SourceAddrs+max(0, c.SourceOffset) > 250 || c.SourceOffset < 0:
		return c, fmt.Errorf("%w: at most 250 source addresses", ErrConfig)
	case len(c.HTTPURLs) > 1 && c.WSURL != "":
		return c, fmt.Errorf("%w: a WebSocket URL with several servers", ErrConfig)
	case len(c.HTTPURLs) > 250:
		return c, fmt.Errorf("%w: at most 250 servers", ErrConfig)
	case c.InputHz > 1000 || c.ChatRate > 1000:
		return c, fmt.Errorf("%w: rates above 1000/s", ErrConfig)
	case c.ChatChannels < 0 || c.ChatChannels > MaxChatChannels:
		return c, fmt.Errorf("%w: chat channels %d not in 0..%d", ErrConfig, c.ChatChannels, MaxChatChannels)
	}
	return c, nil
}
