package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/web"
)

//go:embed static
var static embed.FS

// monitorCSP allows the page's own script and style and its same-origin
// polling, nothing inline.
const monitorCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// monitorFiles serves the monitor page under /monitor/. The page asks for
// the admin token and polls /v1/admin/overview with it. The files under
// static are built from client-js/monitor (the page, with uPlot and the
// client's state inspector bundled in) by `npm run build:monitor` in
// client-js and committed, so the binary builds without npm; client-js's
// test/monitor-bundle.test.ts fails when they are stale.
func monitorFiles() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/monitor/", web.FileServer(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", monitorCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}

// overviewJSON is what the monitor page polls.
type overviewJSON struct {
	Time      time.Time `json:"time"`
	UptimeSec float64   `json:"uptime_sec"`
	// Ready is what /readyz answers (200), and NotReady why not.
	Ready    bool   `json:"ready"`
	NotReady string `json:"not_ready,omitempty"`
	// Node names the node that answered; Nodes lists every node of its
	// cluster (this one alone without one). NodesError says why Nodes is
	// empty when the registry did not answer.
	Node       string            `json:"node"`
	Nodes      []NodeInfo        `json:"nodes"`
	NodesError string            `json:"nodes_error,omitempty"`
	Counters   map[string]uint64 `json:"counters"`
	Gauges     map[string]int64  `json:"gauges"`
	Games      []gameJSON        `json:"games"`
	Rooms      []roomSummary     `json:"rooms"`
	Players    []playerSummary   `json:"players"`
	// Ticks are the tick histograms of every room since the start, for a
	// page to compute quantiles over the time between two polls.
	Ticks tickHistJSON `json:"ticks"`
	// SendWait is the transport's send wait histogram since the start
	// (server.Stats.SendWait), for the same.
	SendWait sendWaitJSON `json:"send_wait"`
}

// sendWaitJSON is the send wait histogram: Counts[i] counts waits up to
// BoundsMs[i] (and above the bound before); the last entry counts those
// above every bound. Counts only grow.
type sendWaitJSON struct {
	BoundsMs []float64 `json:"bounds_ms"`
	Counts   []uint64  `json:"counts"`
}

// sendWaitBoundsMs are server.SendWaitBounds in milliseconds.
var sendWaitBoundsMs = inMs(server.SendWaitBounds[:])

// tickHistJSON is the runtime's tick histograms: Lateness[i] and
// Duration[i] count ticks up to BoundsMs[i] (and above the bound before);
// the last entry counts those above every bound. Counts only grow.
type tickHistJSON struct {
	BoundsMs []float64 `json:"bounds_ms"`
	Lateness []uint64  `json:"lateness"`
	Duration []uint64  `json:"duration"`
}

// boundsMs are game.HistogramBounds in milliseconds.
var boundsMs = inMs(game.HistogramBounds[:])

// inMs returns bounds in milliseconds.
func inMs(bounds []time.Duration) []float64 {
	out := make([]float64, len(bounds))
	for i, b := range bounds {
		out[i] = ms(b)
	}
	return out
}

type gameJSON struct {
	Game  string   `json:"game"`
	Rooms int      `json:"rooms"`
	Ticks tickJSON `json:"ticks"`
}

type roomSummary struct {
	roomJSON
	Ticks tickJSON `json:"ticks"`
}

type playerSummary struct {
	UserID      string   `json:"user_id"`
	Name        string   `json:"name"`
	Rooms       []string `json:"rooms"`
	Connections int      `json:"connections"`
	Congested   bool     `json:"congested"`
}

// overviewLimit caps the rooms and players the overview lists.
const overviewLimit = 200

// overview answers the monitor page's poll: counters, per-game tick
// health, and the first rooms and players.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ts := h.srv.Stats()
	hs := h.hub.Stats()
	rt := h.hub.Runtime()
	games, infos := rt.GameStats(), rt.Rooms(game.RoomFilter{Private: true})
	var closed, refused uint64
	for _, n := range ts.Closed {
		closed += n
	}
	for _, n := range ts.Refused {
		refused += n
	}
	notReady := h.notReady()
	o := overviewJSON{
		Time: time.Now(), UptimeSec: time.Since(h.started).Seconds(), Ready: notReady == "", NotReady: notReady,
		Counters: map[string]uint64{
			"sessions_opened": hs.Sessions.Load(), "connections_closed": closed, "handshakes_refused": refused,
			"bytes_in": ts.BytesIn, "bytes_out": ts.BytesOut, "frames_in": ts.FramesIn, "frames_out": ts.FramesOut,
			"frames_skipped": ts.Dropped, "messages_in": hs.MessagesIn.Load(), "inputs": hs.Inputs.Load(),
			"chat_room": hs.RoomChats.Load(), "chat_channel": hs.ChannelChats.Load(), "chat_direct": hs.DirectMessages.Load(),
			"notifications": hs.Notifications.Load(), "resume_attempts": hs.ResumeAttempts.Load(), "resumes": hs.Resumes.Load(),
		},
		Gauges: map[string]int64{
			"sessions": int64(h.hub.OpenSessions()), "tcp_connections": ts.Open, "rooms": int64(len(infos)),
		},
		Games: []gameJSON{}, Rooms: []roomSummary{}, Players: []playerSummary{},
		Node: h.nodeID, Nodes: []NodeInfo{},
	}
	if nodes, err := h.nodeList(r.Context()); err != nil {
		o.NodesError = err.Error()
	} else {
		o.Nodes = nodes
	}
	total := rt.Stats().Total
	o.Ticks = tickHistJSON{BoundsMs: boundsMs, Lateness: total.Lateness.Counts[:], Duration: total.Duration.Counts[:]}
	o.SendWait = sendWaitJSON{BoundsMs: sendWaitBoundsMs, Counts: ts.SendWait.Counts[:]}
	perGameRooms := map[string]int{}
	for _, info := range infos {
		perGameRooms[info.Game]++
		if len(o.Rooms) < overviewLimit {
			var ticks game.TickStats
			if room, ok := rt.Room(info.ID); ok {
				ticks = room.Stats()
			}
			o.Rooms = append(o.Rooms, roomSummary{roomJSON: h.toRoomJSON(info), Ticks: toTickJSON(ticks)})
		}
	}
	for _, g := range sortedKeys(games) {
		o.Games = append(o.Games, gameJSON{Game: g, Rooms: perGameRooms[g], Ticks: toTickJSON(games[g])})
	}
	players, _ := h.hub.PlayerPage(nil, 0, overviewLimit)
	for _, p := range players {
		ps := playerSummary{UserID: p.UserID, Name: p.Name, Rooms: p.Rooms, Connections: len(p.Connections)}
		ps.Congested = slices.ContainsFunc(p.Connections, func(c hub.ConnInfo) bool { return c.Congested })
		o.Players = append(o.Players, ps)
	}
	writeJSON(w, http.StatusOK, o)
}
