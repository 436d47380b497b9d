package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server/hub"
)

// roomJSON is a room as the admin API lists it.
type roomJSON struct {
	ID            string `json:"id"`
	Game          string `json:"game"`
	Phase         string `json:"phase"`
	Players       int    `json:"players"`
	MaxPlayers    int    `json:"max_players"`
	Spectators    int    `json:"spectators"`
	MaxSpectators int    `json:"max_spectators"`
	// Observers counts seatless watchers: spectator event streams.
	Observers   int               `json:"observers"`
	Private     bool              `json:"private"`
	Locked      bool              `json:"locked"`
	HasPassword bool              `json:"has_password"`
	TickRate    int               `json:"tick_rate"`
	Tick        uint64            `json:"tick"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Node is the node that runs the room.
	Node string `json:"node"`
}

func (h *Handler) toRoomJSON(info game.RoomInfo) roomJSON {
	return roomJSON{Node: h.nodeID,
		ID: info.ID, Game: info.Game, Phase: info.Phase.String(), Players: info.Players, MaxPlayers: info.MaxPlayers,
		Spectators: info.Spectators, MaxSpectators: info.MaxSpectators, Observers: info.Observers, Private: info.Private, Locked: info.Locked,
		HasPassword: info.HasPassword, TickRate: info.TickRate, Tick: info.Tick, Metadata: info.Metadata,
	}
}

// roomDetail is one room inspected: its seats, connected members and tick
// health.
type roomDetail struct {
	roomJSON
	Seats   []seatJSON `json:"seats"`
	Members []string   `json:"members"`
	Ticks   tickJSON   `json:"ticks"`
}

type seatJSON struct {
	Seat      uint32 `json:"seat"`
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
}

// tickJSON summarises tick health, durations in milliseconds.
type tickJSON struct {
	Ticks          uint64  `json:"ticks"`
	LatenessP50Ms  float64 `json:"lateness_p50_ms"`
	LatenessP99Ms  float64 `json:"lateness_p99_ms"`
	DurationP50Ms  float64 `json:"duration_p50_ms"`
	DurationP99Ms  float64 `json:"duration_p99_ms"`
	Overruns       uint64  `json:"overruns"`
	InboxDrops     uint64  `json:"inbox_drops"`
	StateSkipped   uint64  `json:"state_skipped"`
	InputsLimited  uint64  `json:"inputs_rate_limited"`
	FramesEncoded  uint64  `json:"frames_encoded"`
	Sleeps         uint64  `json:"sleeps"`
	DurationMeanMs float64 `json:"duration_mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func toTickJSON(s game.TickStats) tickJSON {
	t := tickJSON{
		Ticks:         s.Ticks,
		LatenessP50Ms: ms(s.Lateness.Quantile(0.5)), LatenessP99Ms: ms(s.Lateness.Quantile(0.99)),
		DurationP50Ms: ms(s.Duration.Quantile(0.5)), DurationP99Ms: ms(s.Duration.Quantile(0.99)),
		Overruns: s.Overruns, InboxDrops: s.InboxDrops, StateSkipped: s.StateSkipped,
		InputsLimited: s.RateLimited, FramesEncoded: s.FramesEncoded, Sleeps: s.Sleeps,
	}
	if s.Duration.Count > 0 {
		t.DurationMeanMs = ms(s.Duration.Sum / time.Duration(s.Duration.Count))
	}
	return t
}

// listRooms answers the rooms, private ones included, sorted by id:
// ?game= keeps one game's, ?q= those whose id, game or a metadata value
// holds the text (any case), ?offset= and ?limit= (1..maxPageSize, default
// defaultPageSize) page them; X-Total-Count is the number that matched.
// In a cluster the list covers every node (offset+limit at most
// maxMergedRows; X-Unreachable-Nodes names nodes that did not answer),
// and ?node= keeps one node's.
func (h *Handler) listRooms(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r, h.maxLimit(r))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.nodeParam(w, r) {
		return
	}
	gameName := r.URL.Query().Get("game")
	if h.ownList(r) {
		out, total := h.localRooms(gameName, p)
		setTotal(w, total)
		writeJSON(w, http.StatusOK, out)
		return
	}
	if !mergedPage(w, p) {
		return
	}
	q := url.Values{}
	if gameName != "" {
		q.Set("game", gameName)
	}
	if p.text != "" {
		q.Set("q", p.text)
	}
	out, total, missing, err := gather(r.Context(), h, "/v1/admin/rooms", q, p,
		func(rs roomSummary) string { return rs.ID },
		func(n int) ([]roomSummary, int) { return h.localRooms(gameName, page{q: p.q, limit: n}) })
	setMissing(w, missing, err)
	setTotal(w, total)
	writeJSON(w, http.StatusOK, out)
}

// localRooms returns p's page of this node's rooms and how many matched.
func (h *Handler) localRooms(gameName string, p page) ([]roomSummary, int) {
	rt := h.hub.Runtime()
	infos := rt.Rooms(game.RoomFilter{Game: gameName, Private: true})
	matched := infos[:0]
	for _, info := range infos {
		if p.matches(info.ID, info.Game) || p.matches(slices.Collect(maps.Values(info.Metadata))...) {
			matched = append(matched, info)
		}
	}
	lo, hi := p.window(len(matched))
	out := make([]roomSummary, 0, hi-lo)
	for _, info := range matched[lo:hi] {
		rs := roomSummary{roomJSON: h.toRoomJSON(info)}
		if room, ok := rt.Room(info.ID); ok {
			rs.Ticks = toTickJSON(room.Stats())
		}
		out = append(out, rs)
	}
	return out, len(matched)
}

func (h *Handler) getRoom(w http.ResponseWriter, r *http.Request) {
	if h.roomElsewhere(w, r, r.PathValue("id"), nil) {
		return
	}
	room, ok := h.hub.Runtime().Room(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	d := roomDetail{roomJSON: h.toRoomJSON(room.Info()), Seats: []seatJSON{}, Members: h.hub.RoomMembers(room.ID()), Ticks: toTickJSON(room.Stats())}
	if d.Members == nil {
		d.Members = []string{}
	}
	for _, p := range room.Players() {
		d.Seats = append(d.Seats, seatJSON{Seat: p.Seat, UserID: p.UserID, Name: p.Name, Connected: p.Connected})
	}
	writeJSON(w, http.StatusOK, d)
}

// reasonBody is the optional body of kick and close.
type reasonBody struct {
	Reason string `json:"reason"`
}

func (h *Handler) closeRoom(w http.ResponseWriter, r *http.Request) {
	var b reasonBody
	if !readJSON(w, r, &b) {
		return
	}
	id := r.PathValue("id")
	if fwd, _ := json.Marshal(b); h.roomElsewhere(w, r, id, fwd) {
		return
	}
	if b.Reason == "" {
		b.Reason = "closed by operator"
	}
	if err := h.hub.CloseRoom(id, b.Reason); err != nil {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	h.log.Info("admin: room closed", "room", id, "reason", b.Reason)
	writeJSON(w, http.StatusOK, map[string]any{"closed": id, "node": h.nodeID})
}

// playerRow is an online user as the lists show it, with its node.
type playerRow struct {
	hub.PlayerInfo
	Node string `json:"node"`
}

// listPlayers answers the online users sorted by id: ?q= keeps those whose
// id or name holds the text (any case), ?offset= and ?limit= page them as
// listRooms does, across the cluster as listRooms does.
func (h *Handler) listPlayers(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r, h.maxLimit(r))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.nodeParam(w, r) {
		return
	}
	if h.ownList(r) {
		out, total := h.localPlayers(p)
		setTotal(w, total)
		writeJSON(w, http.StatusOK, out)
		return
	}
	if !mergedPage(w, p) {
		return
	}
	q := url.Values{}
	if p.text != "" {
		q.Set("q", p.text)
	}
	out, total, missing, err := gather(r.Context(), h, "/v1/admin/players", q, p,
		func(pr playerRow) string { return pr.UserID },
		func(n int) ([]playerRow, int) { return h.localPlayers(page{q: p.q, limit: n}) })
	setMissing(w, missing, err)
	setTotal(w, total)
	writeJSON(w, http.StatusOK, out)
}

// localPlayers returns p's page of this node's online users and how many
// matched.
func (h *Handler) localPlayers(p page) ([]playerRow, int) {
	var match func(id, name string) bool
	if p.q != "" {
		match = func(id, name string) bool { return p.matches(id, name) }
	}
	// Only the page's records are built: each refresh of a list built
	// every online user's under the lock friend and presence operations
	// take.
	page, total := h.hub.PlayerPage(match, p.offset, p.limit)
	out := make([]playerRow, 0, len(page))
	for _, pl := range page {
		out = append(out, playerRow{PlayerInfo: pl, Node: h.nodeID})
	}
	return out, total
}

// getPlayer answers one online user; in a cluster, the node it is
// connected to answers.
func (h *Handler) getPlayer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if p, ok := h.hub.Player(id); ok {
		writeJSON(w, http.StatusOK, playerRow{PlayerInfo: p, Node: h.nodeID})
		return
	}
	if h.clustered(r) {
		// Only the nodes the user is connected on are asked, so one
		// stalled node delays no lookup of a player elsewhere.
		nodes, err := h.cluster.UserNodes(r.Context(), id)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the cluster's user records are unreachable: "+err.Error())
			return
		}
		var failed error
		for _, n := range nodes {
			if n == h.nodeID {
				continue
			}
			a, err := h.call(r.Context(), n, http.MethodGet, r.URL.RequestURI(), nil)
			if err != nil {
				failed = fmt.Errorf("node %s did not answer: %w", n, err)
				continue
			}
			if a.Status == http.StatusOK {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("X-Tickroom-Node", n)
				_, _ = w.Write(a.Body)
				return
			}
		}
		if failed != nil {
			writeError(w, http.StatusServiceUnavailable, failed.Error())
			return
		}
	}
	writeError(w, http.StatusNotFound, "user is not online")
}

// maxSanctionSeconds bounds the seconds of a kick or a ban (100 years), so
// that they fit a time.Duration.
const maxSanctionSeconds = 100 * 365 * 24 * 3600

// sanctionSeconds checks the seconds of a kick or ban body, answering 400
// when they are out of range.
func sanctionSeconds(w http.ResponseWriter, s int64) bool {
	if s < 0 || s > maxSanctionSeconds {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("seconds must be 0 to %d", maxSanctionSeconds))
		return false
	}
	return true
}

// kickBody is the optional body of kick.
type kickBody struct {
	Reason string `json:"reason"`
	// Seconds is how long the tokens the user held are refused; zero or
	// absent means the server's default (hub.Config.KickDuration).
	Seconds int64 `json:"seconds"`
}

func (h *Handler) kick(w http.ResponseWriter, r *http.Request) {
	var b kickBody
	if !readJSON(w, r, &b) || !sanctionSeconds(w, b.Seconds) {
		return
	}
	if b.Reason == "" {
		b.Reason = "kicked by operator"
	}
	id := r.PathValue("id")
	// A user connected nowhere (ErrNoSession) is kicked all the same: the
	// tokens it held are refused, which is what a kick of a user who has
	// just dropped is for. online tells the operator which it was; a
	// spectator feed its token opened here, which the kick ends, counts.
	online := !errors.Is(h.hub.KickFor(id, b.Reason, time.Duration(b.Seconds)*time.Second), hub.ErrNoSession)
	h.log.Info("admin: player kicked", "user", id, "reason", b.Reason, "seconds", b.Seconds, "online", online)
	writeJSON(w, http.StatusOK, map[string]any{"kicked": id, "online": online})
}

// banBody is the optional body of ban.
type banBody struct {
	Reason string `json:"reason"`
	// Seconds is the ban's length; zero or absent means the server's
	// default (hub.Config.BanDuration), by default until unban.
	Seconds int64 `json:"seconds"`
}

func (h *Handler) ban(w http.ResponseWriter, r *http.Request) {
	var b banBody
	if !readJSON(w, r, &b) || !sanctionSeconds(w, b.Seconds) {
		return
	}
	if b.Reason == "" {
		b.Reason = "banned by operator"
	}
	id := r.PathValue("id")
	online := h.hub.Ban(id, b.Reason, time.Duration(b.Seconds)*time.Second)
	h.log.Info("admin: player banned", "user", id, "reason", b.Reason, "seconds", b.Seconds, "online", online)
	writeJSON(w, http.StatusOK, map[string]any{"banned": id, "online": online})
}

func (h *Handler) unban(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.hub.Unban(id) {
		writeError(w, http.StatusNotFound, "user is neither banned nor kicked")
		return
	}
	h.log.Info("admin: player unbanned", "user", id)
	writeJSON(w, http.StatusOK, map[string]any{"unbanned": id})
}

func (h *Handler) notify(w http.ResponseWriter, r *http.Request) {
	var n hub.Notice
	if !readJSON(w, r, &n) {
		return
	}
	if n.RoomID != "" {
		// A notice to a room is sent by the room's node.
		if fwd, _ := json.Marshal(n); h.roomElsewhere(w, r, n.RoomID, fwd) {
			return
		}
	}
	res, err := h.hub.Notify(n)
	switch {
	case errors.Is(err, hub.ErrNoSession):
		writeError(w, http.StatusNotFound, "user is not online")
	case errors.Is(err, hub.ErrNoRoom):
		writeError(w, http.StatusNotFound, "no such room")
	case errors.Is(err, hub.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// maxDrainTimeout bounds the deadline a drain request may ask for.
const maxDrainTimeout = 24 * time.Hour

// startDrain starts the server's drain: no new rooms, running matches
// finish (or move, in a cluster) until the deadline, then the process
// stops. ?timeout= (a Go duration, at most 24h) sets the deadline; none
// means the server's own (-drain-timeout).
func (h *Handler) startDrain(w http.ResponseWriter, r *http.Request) {
	if h.drain == nil {
		writeError(w, http.StatusNotFound, "this server cannot be drained from the admin API")
		return
	}
	var d time.Duration
	if v := r.URL.Query().Get("timeout"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 || d > maxDrainTimeout {
			writeError(w, http.StatusBadRequest, "timeout: a duration above 0 and at most 24h, such as 90s")
			return
		}
	}
	if err := h.drain(d); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	h.log.Info("admin: drain started", "timeout", d)
	writeJSON(w, http.StatusAccepted, map[string]any{"draining": true, "playing": h.hub.Playing()})
}
