package bots_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/bots"
	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/server/hub"
)

func runBots(t *testing.T, cfg bots.Config) *bots.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := bots.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	t.Log("\n" + b.String())
	return rep
}

func TestRunPlays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		game     string
		roomSize int
		tickRate int   // asked of created rooms; 0 for the game's
		wantRate int   // the rooms' tick rate
		rooms    int64 // rooms the bots should end up in
	}{
		{"arena rooms of 10", "arena", 10, 0, 20, 2},
		{"arena rooms of 10 at 30 Hz", "arena", 10, 30, 30, 2},
		{"arena quick-match", "arena", 0, 0, 20, 1},
		{"gomoku rooms of 2", "gomoku", 2, 20, 20, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil)
			rep := runBots(t, bots.Config{
				HTTPURL: s.httpURL, Bots: 20, Game: tc.game, RoomSize: tc.roomSize, TickRate: tc.tickRate,
				Duration: 2 * time.Second, InputHz: 10, Loops: 2, ServerPID: os.Getpid(), MetricsURL: s.metricsURL,
			})
			if rep.LoggedIn != 20 || rep.InRoomAtEnd != 20 || rep.OpenAtEnd != 20 {
				t.Fatalf("logged in %d, in a room %d, open %d; want 20 each", rep.LoggedIn, rep.InRoomAtEnd, rep.OpenAtEnd)
			}
			if len(rep.Errors)+len(rep.Failures)+len(rep.Closes) != 0 {
				t.Fatalf("errors %v, failures %v, closes %v; want none", rep.Errors, rep.Failures, rep.Closes)
			}
			if rep.Counters["inputs_acked"] == 0 || rep.LatencyMicros.Count == 0 || rep.LatencyMicros.P50 == 0 {
				t.Fatalf("no acknowledged inputs measured: %+v", rep.LatencyMicros)
			}
			for _, info := range s.hub.Runtime().Rooms(game.RoomFilter{Private: true}) {
				if info.TickRate != tc.wantRate {
					t.Fatalf("room %s ticks at %d Hz, want %d", info.ID, info.TickRate, tc.wantRate)
				}
			}
			if rep.Counters["inputs_acked"] > rep.Counters["inputs_sent"] {
				t.Fatalf("acked %d of %d inputs sent", rep.Counters["inputs_acked"], rep.Counters["inputs_sent"])
			}
			// Gomoku bots move on their turn only, so the game refuses
			// none of their moves.
			if tc.game == "gomoku" && rep.Counters["game_messages"] != 0 {
				t.Fatalf("%d moves refused by the game", rep.Counters["game_messages"])
			}
			if rep.Counters["delta_base_mismatches"] != 0 {
				t.Fatalf("%d deltas not based on the last tick seen", rep.Counters["delta_base_mismatches"])
			}
			// A loop polls once per schedule pass (at most every
			// millisecond) and once per batch of ready sockets, never in
			// a busy loop: a busy loop costs tens of thousands of polls a
			// second, the core the bots need.
			const passes = 1000 // the most schedule passes a loop makes a second
			if s, most := rep.Steady, 2*rep.Steady.MessagesPerSec+2*passes*2; s.PollsPerSec <= 0 || s.PollsPerSec > most {
				t.Fatalf("%.0f polls a second for %.0f messages a second on 2 loops; want at most %.0f", s.PollsPerSec, s.MessagesPerSec, most)
			}
			if rep.Steady.SnapshotsPerBotSec <= 0 || rep.ConnectMicros.Count != 20 || rep.JoinMicros.Count != 20 || rep.LoginMicros.Count != 20 {
				t.Fatalf("steady %+v, connects %d, joins %d, logins %d", rep.Steady, rep.ConnectMicros.Count, rep.JoinMicros.Count, rep.LoginMicros.Count)
			}
			// The admin /metrics has tick lateness; CPU and RSS come from
			// /proc unless it also has the process collector.
			// It has the send wait of the rooms' frames too.
			if sv := rep.Server; sv == nil || sv.RSSEndBytes <= 0 || sv.CPUSeconds <= 0 || sv.TickLateness == nil || sv.TickLateness.Count == 0 ||
				sv.SendWait == nil || sv.SendWait.Count == 0 {
				t.Fatalf("server sample: %+v", rep.Server)
			}
			var js, csv, svg bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"input_latency_us"`) || !strings.Contains(js.String(), `"errors": {}`) {
				t.Fatalf("json report: %v\n%s", err, js.String())
			}
			if err := rep.WriteCSV(&csv); err != nil || strings.Count(csv.String(), "\n") != len(rep.Series)+1 || len(rep.Series) < 2 {
				t.Fatalf("csv: %v, %d series points\n%s", err, len(rep.Series), csv.String())
			}
			if err := rep.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "<path d=\"M") {
				t.Fatalf("svg: %v\n%s", err, svg.String())
			}
		})
	}
}

// TestSettleStartsTheWindowWithEveryBotSeated: with Settle the steady
// window, whose latency the report gives, starts once every bot is in a
// room, not while the last ones are still logging in and joining.
func TestSettleStartsTheWindowWithEveryBotSeated(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 30, Game: "arena", RoomSize: 10, Settle: 20 * time.Second,
		Duration: time.Second, InputHz: 10, Loops: 2,
	})
	if rep.InRoomAtSteady != 30 || rep.InRoomAtEnd != 30 {
		t.Fatalf("%d bots in a room when the window started, %d at the end; want 30", rep.InRoomAtSteady, rep.InRoomAtEnd)
	}
	if rep.SettledSec <= 0 || rep.SettledSec >= 20 {
		t.Fatalf("settled %.3f s after the last bot started; want more than 0 and less than the 20 s bound", rep.SettledSec)
	}
	if rep.LatencyMicros.Count == 0 {
		t.Fatal("no input acknowledged in the window")
	}
}

// markerWriter records when a line is written to it, and what the server
// held then.
type markerWriter struct {
	mu       sync.Mutex
	at       time.Time
	sessions int
	h        *hub.Hub
}

func (w *markerWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "steady window over") {
		w.mu.Lock()
		w.at, w.sessions = time.Now(), w.h.OpenSessions()
		w.mu.Unlock()
		// What happens to the bots from here on is not the window's.
		for _, pl := range w.h.Players() {
			_ = w.h.Kick(pl.UserID, "after the window")
		}
	}
	return len(p), nil
}

// TestWarmupAndLingerStayOutOfTheWindow: with Warmup the window starts
// that long after every bot is seated, and with Linger the bots still play
// after the window ends, announced on Progress, while the window's figures
// hold neither: not the inputs of either, nor the closes of bots kicked
// during the linger.
func TestWarmupAndLingerStayOutOfTheWindow(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	w := &markerWriter{h: s.hub}
	start := time.Now()
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 20, Game: "arena", RoomSize: 10, Settle: 20 * time.Second,
		Warmup: 2 * time.Second, Duration: time.Second, Linger: 1500 * time.Millisecond,
		InputHz: 10, Loops: 2, Progress: w,
	})
	end := time.Now()
	w.mu.Lock()
	at, sessions := w.at, w.sessions
	w.mu.Unlock()
	if at.IsZero() {
		t.Fatal("no \"steady window over\" on Progress")
	}
	if rep.WarmupSec < 2 || rep.WarmupSec > 3 || rep.InRoomAtSteady != 20 {
		t.Fatalf("warm-up %.3f s, %d bots seated at the window's start; want 2 s and 20", rep.WarmupSec, rep.InRoomAtSteady)
	}
	if d := at.Sub(start); d < 3*time.Second {
		t.Fatalf("window over %v after the start; want at least the warm-up and the window, 3 s", d)
	}
	if sessions != 20 {
		t.Fatalf("%d sessions open on the server as the window ended; want all 20 still playing", sessions)
	}
	if d := end.Sub(at); d < 1500*time.Millisecond {
		t.Fatalf("the bots stopped %v after the window; want the 1.5 s linger", d)
	}
	if len(rep.Closes) != 0 || len(rep.Failures) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("closes %v, failures %v, errors %v in the report; want none, the kicks came after the window", rep.Closes, rep.Failures, rep.Errors)
	}
	// 20 bots at 10 Hz ack ~200 inputs a second: a window that took in the
	// warm-up or the linger would hold 500 or more.
	if n := rep.LatencyMicros.Count; n < 100 || n > 400 {
		t.Fatalf("%d inputs acknowledged in the 1 s window; want about 200", n)
	}
}

func TestReconnectStormResumesEverySeat(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 20, RoomSize: 10, Duration: 4 * time.Second, Loops: 2,
		StormPercent: 50, StormAt: time.Second,
	})
	r := rep.Resume
	if r.Dropped != 10 {
		t.Fatalf("storm dropped %d, want 10", r.Dropped)
	}
	if r.Resumed != r.Dropped || r.Failed != 0 || r.SuccessRate != 1 {
		t.Fatalf("resume: %+v; want every dropped seat resumed", r)
	}
	if rep.InRoomAtEnd != 20 || rep.ResumeMicros.Count != 10 {
		t.Fatalf("in a room at end %d, resume times %d", rep.InRoomAtEnd, rep.ResumeMicros.Count)
	}
	if len(rep.Failures) != 0 {
		t.Fatalf("failures: %v", rep.Failures)
	}
}

func TestSlowReadersAndChat(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 10, RoomSize: 5, Duration: 2500 * time.Millisecond, Loops: 2,
		SlowPercent: 40, SlowAt: 500 * time.Millisecond, SlowFor: time.Second, ChatRate: 2,
	})
	if got := rep.Counters["slow_reader_pauses"]; got != 4 {
		t.Fatalf("slow reader pauses %d, want 4", got)
	}
	if rep.InRoomAtEnd != 10 || len(rep.Failures) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("in a room %d, failures %v, errors %v", rep.InRoomAtEnd, rep.Failures, rep.Errors)
	}
	// Every line goes to the room's 5 members, the sender included.
	sent, got := rep.Counters["chats_sent"], rep.Counters["chats_received"]
	if sent == 0 || got < sent {
		t.Fatalf("chat: %d sent, %d received; want every line echoed to its room", sent, got)
	}
	if rep.LatencyMicros.Count == 0 {
		t.Fatal("no latency measured")
	}
}

// TestChatToLobbyChannels: with ChatChannels the bots' lines go to lobby
// channels of 2 bots each, not to their rooms of 10: every line reaches
// the sender and one other bot.
func TestChatToLobbyChannels(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 10, RoomSize: 10, Duration: 2 * time.Second, Loops: 2, ChatRate: 4, ChatChannels: 5,
	})
	if rep.InRoomAtEnd != 10 || len(rep.Failures) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("in a room %d, failures %v, errors %v", rep.InRoomAtEnd, rep.Failures, rep.Errors)
	}
	sent, got := rep.Counters["chats_sent"], rep.Counters["chats_received"]
	if sent == 0 || got < sent || got > 2*sent {
		t.Fatalf("chat: %d sent, %d received; want each line to its channel's 2 members, not its room's 10", sent, got)
	}
	if rep.Config.ChatChannels != 5 {
		t.Fatalf("report config chat_channels = %d, want 5", rep.Config.ChatChannels)
	}
	if _, err := bots.Run(context.Background(), bots.Config{HTTPURL: s.httpURL, Bots: 1, ChatChannels: bots.MaxChatChannels + 1}); !errors.Is(err, bots.ErrConfig) {
		t.Fatalf("ChatChannels past the bound: %v, want ErrConfig", err)
	}
}

func TestScenariosRunInTimeOrder(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	var logs bytes.Buffer
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 10, RoomSize: 5, Duration: 2 * time.Second, Loops: 2,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
		StormPercent: 50, StormAt: 1500 * time.Millisecond,
		SlowPercent: 20, SlowAt: 300 * time.Millisecond, SlowFor: 300 * time.Millisecond,
	})
	slow, storm := strings.Index(logs.String(), "slow readers"), strings.Index(logs.String(), "reconnect storm")
	if slow < 0 || storm < 0 || slow > storm {
		t.Fatalf("slow readers at %d, storm at %d in the log; want both, slow readers first:\n%s", slow, storm, logs.String())
	}
	if rep.Counters["slow_reader_pauses"] != 2 || rep.Resume.Dropped != 5 {
		t.Fatalf("slow reader pauses %d, storm drops %d; want 2 and 5", rep.Counters["slow_reader_pauses"], rep.Resume.Dropped)
	}
}

func TestRunRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		cfg  bots.Config
		want error
	}{
		{"too many bots", bots.Config{Bots: bots.MaxBots + 1}, bots.ErrConfig},
		{"negative percent", bots.Config{StormPercent: -1}, bots.ErrConfig},
		// No handshake would ever be admitted: no bot would connect.
		{"negative max handshakes", bots.Config{HTTPURL: closed, MaxHandshakes: -1}, bots.ErrConfig},
		{"not a ws url", bots.Config{WSURL: "http://127.0.0.1:1/v1/ws"}, bots.ErrConfig},
		{"ipv6 host", bots.Config{WSURL: "ws://[::1]:80/v1/ws"}, bots.ErrConfig},
		// A storm or a pause set past the window's end would never come.
		{"storm after the window", bots.Config{HTTPURL: closed, Duration: time.Second, StormPercent: 10, StormAt: 2 * time.Second}, bots.ErrConfig},
		{"slow readers after the window", bots.Config{HTTPURL: closed, Duration: time.Second, SlowPercent: 10, SlowAt: 2 * time.Second}, bots.ErrConfig},
		{"no server", bots.Config{HTTPURL: closed}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rep, err := bots.Run(ctx, tc.cfg)
			if err == nil || rep != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Run: %v, %v; want an error wrapping %v", rep, err, tc.want)
			}
		})
	}
}

func TestRunCountsRefusedLogins(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// Names longer than auth.MaxNameRunes are refused by POST /v1/login.
	rep := runBots(t, bots.Config{HTTPURL: s.httpURL, Bots: 3, NamePrefix: strings.Repeat("n", 40), Duration: 200 * time.Millisecond})
	if rep.LoginFailed != 3 || rep.Failures["bots: login failed: http 400"] != 3 || rep.OpenAtEnd != 0 {
		t.Fatalf("login failed %d, failures %v, open %d", rep.LoginFailed, rep.Failures, rep.OpenAtEnd)
	}
}

// TestSeriesCountsFailuresApartFromErrors: the per-second series (the
// progress line, the CSV and the JSON) counts the server's Error replies
// as errors, as the text report's "errors" lists them, and login,
// connect, handshake and protocol failures as failures, as its
// "failures" does. Before, its errors were both added up.
func TestSeriesCountsFailuresApartFromErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	progress := &syncbuf.Buffer{}
	// Names longer than auth.MaxNameRunes are refused by POST /v1/login.
	rep := runBots(t, bots.Config{HTTPURL: s.httpURL, Bots: 3, NamePrefix: strings.Repeat("n", 40), Duration: 1500 * time.Millisecond, Progress: progress})
	if rep.LoginFailed != 3 || len(rep.Errors) != 0 || len(rep.Series) == 0 {
		t.Fatalf("login failed %d, errors %v, %d series points; want 3 failed logins, no Error reply", rep.LoginFailed, rep.Errors, len(rep.Series))
	}
	if p, _ := json.Marshal(rep.Series[len(rep.Series)-1]); !strings.Contains(string(p), `"errors":0,`) || !strings.Contains(string(p), `"failures":3,`) {
		t.Errorf("series point %s; want errors 0 (no Error reply) and failures 3 (the failed logins)", p)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	var last string
	for _, l := range lines {
		if strings.HasPrefix(l, "t=") {
			last = l
		}
	}
	if !strings.Contains(last, " err=0 ") || !strings.Contains(last, " fail=3 ") {
		t.Errorf("progress line %q; want err=0 fail=3", last)
	}
	var csv bytes.Buffer
	_ = rep.WriteCSV(&csv)
	if header, _, _ := strings.Cut(csv.String(), "\n"); !strings.Contains(header, ",errors,failures,") {
		t.Errorf("csv header %q; want errors and failures apart", header)
	}
}

// kickHalfWriter kicks every other seated player d after the steady
// window starts.
type kickHalfWriter struct {
	h    *hub.Hub
	d    time.Duration
	once sync.Once
	done chan struct{}
}

func (w *kickHalfWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "steady window started") {
		w.once.Do(func() {
			go func() {
				defer close(w.done)
				time.Sleep(w.d)
				for i, pl := range w.h.Players() {
					if i%2 == 0 {
						_ = w.h.Kick(pl.UserID, "half the bots leave")
					}
				}
			}()
		})
	}
	return len(p), nil
}

// TestPerBotRatesOverTheSeatedTime: the snapshots and bytes a bot a second
// are the window's over the time bots spent in a room in it, not over the
// bots in a room at its end: with half of 20 bots gone halfway through, a
// seated bot still gets the rooms' 20 snapshots a second, not 30.
func TestPerBotRatesOverTheSeatedTime(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	w := &kickHalfWriter{h: s.hub, d: time.Second, done: make(chan struct{})}
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 20, Game: "arena", RoomSize: 10, Settle: 20 * time.Second,
		Duration: 2 * time.Second, InputHz: 10, Loops: 2, Progress: w,
	})
	<-w.done
	if rep.InRoomAtSteady != 20 || rep.InRoomAtEnd != 10 {
		t.Fatalf("%d bots seated as the window started, %d at its end; want 20 and 10", rep.InRoomAtSteady, rep.InRoomAtEnd)
	}
	// The arena ticks at 20 Hz: a seated bot gets 20 snapshots a second.
	if got := rep.Steady.SnapshotsPerBotSec; got < 17 || got > 23 {
		t.Fatalf("%.1f snapshots a bot a second; want about 20, the rooms' tick rate", got)
	}
	if got, want := rep.Steady.BytesPerBotSec, rep.Steady.BytesInPerSec/rep.Steady.SeatedBots; math.Abs(got-want) > 1e-6*want {
		t.Fatalf("%.0f bytes a bot a second; want %.0f, the window's bytes over its %.1f seated bots", got, want, rep.Steady.SeatedBots)
	}
	if sb := rep.Steady.SeatedBots; sb < 13 || sb > 17 {
		t.Fatalf("%.1f bots seated on average over the window; want about 15", sb)
	}
}

// TestResumeIsNoTickGap: the ticks a bot missed while a storm had it
// disconnected are its own, not ticks the server skipped: the State that
// follows the resume (a delta from the last tick the bot saw) is no tick
// gap. Before, every bot away for more than a tick counted one.
func TestResumeIsNoTickGap(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	overruns := func() uint64 { return s.hub.Runtime().GameStats()["arena"].Counters.Overruns }
	w := &windowWriter{at: overruns}
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 20, RoomSize: 10, TickRate: 60, Settle: 20 * time.Second, Warmup: 500 * time.Millisecond,
		Duration: 3 * time.Second, Loops: 2, StormPercent: 50, StormAt: time.Second,
		// The dropped bots reconnect one at a time, so most are away for
		// more than a tick.
		SourceAddrs: 1, MaxHandshakes: 1, Progress: w,
	})
	if r := rep.Resume; r.Dropped != 10 || r.Resumed != 10 {
		t.Fatalf("resume: %+v; want 10 dropped and resumed", r)
	}
	// What the server skipped itself: ticks of a room that fell behind
	// in the window, states for congested bots (by the room or by the
	// transport).
	resp, err := http.Get(s.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dropped := regexp.MustCompile(`(?m)^tickroom_skipped_frames_total (\S+)$`).FindSubmatch(metrics)
	if dropped == nil {
		t.Fatalf("no tickroom_skipped_frames_total in /metrics")
	}
	c := s.hub.Runtime().GameStats()["arena"].Counters
	if over := c.Overruns - w.started(); over != 0 || c.StateSkipped != 0 || string(dropped[1]) != "0" {
		t.Skipf("the server skipped ticks (%d overruns in the window) or states for congested bots (%d by the rooms, %s by the transport): the box is too busy to tell",
			over, c.StateSkipped, dropped[1])
	}
	if rep.Steady.SkippedTicks != 0 || rep.TickGap.Max > 1 {
		t.Fatalf("%d ticks skipped in the window (gap max %d), where the storm was; the server skipped none", rep.Steady.SkippedTicks, rep.TickGap.Max)
	}
}

// windowWriter reads a server figure as the steady window starts.
type windowWriter struct {
	at  func() uint64
	mu  sync.Mutex
	val uint64
}

func (w *windowWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "steady window started") {
		w.mu.Lock()
		w.val = w.at()
		w.mu.Unlock()
	}
	return len(p), nil
}

func (w *windowWriter) started() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.val
}

// TestSlowReaderPauseIsNoSnapshotInterval: a slow reader's pause is the
// bot's own (it stops reading), not time the server took between
// snapshots: the State it reads first after the pause is measured from
// no earlier one. Before, the window's snapshot interval max read the
// pause.
func TestSlowReaderPauseIsNoSnapshotInterval(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const pause = 3 * time.Second
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 10, RoomSize: 5, Duration: 4 * time.Second, Loops: 2,
		SlowPercent: 40, SlowAt: 300 * time.Millisecond, SlowFor: pause,
	})
	if got := rep.Counters["slow_reader_pauses"]; got != 4 || rep.InRoomAtEnd != 10 {
		t.Fatalf("slow reader pauses %d, in a room at end %d; want 4 and 10", got, rep.InRoomAtEnd)
	}
	// The arena ticks at 20 Hz: the server sent a snapshot every 50 ms.
	if got := time.Duration(rep.SnapshotIntervalMicros.Max) * time.Microsecond; got >= pause {
		t.Fatalf("snapshot interval max %v, the slow readers' %v pause; want the server's interval", got, pause)
	}
}
