package admin

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tickroom/tickroom/game"
)

// The metrics are written in the Prometheus text format (0.0.4) by hand:
// a few dozen series need no client library, and the project keeps its
// dependencies few. Names follow Prometheus conventions: a tickroom_
// prefix, base units (seconds, bytes) in the name, _total on counters.

// tickTotals keeps per-game tick statistics monotonic across room
// lifetimes: a room's counters vanish with the room, so the last snapshot
// seen of a room is added to its game's retired total when it is gone.
// Ticks a room ran between the last scrape and its end are not counted.
type tickTotals struct {
	mu      sync.Mutex
	retired map[string]game.TickStats // game → stats of rooms that are gone
	last    map[string]roomSeen       // room id → last snapshot
}

type roomSeen struct {
	game  string
	stats game.TickStats
}

func (t *tickTotals) init() {
	t.retired = make(map[string]game.TickStats)
	t.last = make(map[string]roomSeen)
}

func addTicks(a *game.TickStats, b game.TickStats) {
	a.Lateness.Merge(b.Lateness)
	a.Duration.Merge(b.Duration)
	a.Counters.Add(b.Counters)
}

// perGame returns every game's tick statistics, live and retired rooms
// together, the live rooms, and each live room's own statistics by id.
// Scrapes run one at a time: one that snapshot the rooms earlier must not
// replace a later one's record, or a room would be retired twice.
func (h *Handler) perGame() (map[string]game.TickStats, []game.RoomInfo, map[string]roomSeen) {
	t := &h.ticks
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := h.hub.Runtime()
	infos := rt.Rooms(game.RoomFilter{Private: true})
	live := make(map[string]roomSeen, len(infos))
	for _, info := range infos {
		if room, ok := rt.Room(info.ID); ok {
			live[info.ID] = roomSeen{game: info.Game, stats: room.Stats()}
		}
	}
	for id, seen := range t.last {
		if _, ok := live[id]; !ok {
			r := t.retired[seen.game]
			addTicks(&r, seen.stats)
			t.retired[seen.game] = r
		}
	}
	t.last = live
	out := maps.Clone(t.retired)
	for _, seen := range live {
		s := out[seen.game]
		addTicks(&s, seen.stats)
		out[seen.game] = s
	}
	return out, infos, live
}

// refusalReasons names the HTTP statuses an upgrade is refused with.
var refusalReasons = map[int]string{
	400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	408: "handshake_timeout", 426: "upgrade_required", 429: "too_many_handshakes", 431: "request_too_large",
	503: "unavailable",
}

// promWriter writes metric families.
type promWriter struct {
	w *bufio.Writer
}

func (p promWriter) family(name, typ, help string) {
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels alternate names and values.
func (p promWriter) sample(name string, v float64, labels ...string) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			p.w.WriteString(labels[i])
			p.w.WriteString(`="`)
			p.w.WriteString(escapeLabel(labels[i+1]))
			p.w.WriteByte('"')
		}
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.w.WriteByte('\n')
}

func (p promWriter) counter(name, help string, v uint64) {
	p.family(name, "counter", help)
	p.sample(name, float64(v))
}

func (p promWriter) gauge(name, help string, v float64) {
	p.family(name, "gauge", help)
	p.sample(name, v)
}

// histogram writes one labelled series of a duration histogram family, in
// seconds.
func (p promWriter) histogram(name string, h game.Histogram, labels ...string) {
	var cum uint64
	for i, b := range game.HistogramBounds {
		cum += h.Counts[i]
		p.sample(name+"_bucket", float64(cum), append(labels, "le", strconv.FormatFloat(b.Seconds(), 'g', -1, 64))...)
	}
	p.sample(name+"_bucket", float64(h.Count), append(labels, "le", "+Inf")...)
	p.sample(name+"_sum", h.Sum.Seconds(), labels...)
	p.sample(name+"_count", float64(h.Count), labels...)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// metrics answers the Prometheus scrape.
func (h *Handler) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriterSize(w, 16<<10)
	defer bw.Flush()
	p := promWriter{bw}
	ts := h.srv.Stats()
	hs := h.hub.Stats()

	p.gauge("tickroom_connections_open", "Open tickroom.v1 sessions.", float64(h.hub.OpenSessions()))
	p.counter("tickroom_connections_opened_total", "tickroom.v1 sessions accepted.", hs.Sessions.Load())
	p.gauge("tickroom_tcp_connections_open", "Open TCP connections on the WebSocket port, upgraded or not.", float64(ts.Open))
	p.counter("tickroom_tcp_connections_opened_total", "TCP connections accepted on the WebSocket port.", ts.Opened)
	p.family("tickroom_connections_closed_total", "counter", "WebSocket connections closed, by close code (1006: lost).")
	for _, code := range sortedKeys(ts.Closed) {
		p.sample("tickroom_connections_closed_total", float64(ts.Closed[code]), "code", strconv.Itoa(code))
	}
	p.family("tickroom_handshakes_refused_total", "counter", "WebSocket upgrades refused, by reason and HTTP status.")
	for _, st := range sortedKeys(ts.Refused) {
		reason := refusalReasons[st]
		if reason == "" {
			reason = "http_" + strconv.Itoa(st)
		}
		p.sample("tickroom_handshakes_refused_total", float64(ts.Refused[st]), "reason", reason, "status", strconv.Itoa(st))
	}
	p.counter("tickroom_received_bytes_total", "Bytes read from WebSocket connections.", ts.BytesIn)
	p.counter("tickroom_sent_bytes_total", "Frame bytes written to WebSocket connections.", ts.BytesOut)
	p.counter("tickroom_received_frames_total", "WebSocket frames read.", ts.FramesIn)
	p.counter("tickroom_sent_frames_total", "WebSocket frames written.", ts.FramesOut)
	p.counter("tickroom_skipped_frames_total", "Droppable frames the transport skipped for congested connections.", ts.Dropped)

	p.counter("tickroom_messages_received_total", "tickroom.v1 client messages received.", hs.MessagesIn.Load())
	p.counter("tickroom_messages_sent_total", "tickroom.v1 replies and notices sent, state excluded.", hs.MessagesOut.Load())
	p.counter("tickroom_inputs_total", "Inputs queued to rooms.", hs.Inputs.Load())
	p.counter("tickroom_inputs_refused_total", "Inputs refused.", hs.InputsRefused.Load())
	p.counter("tickroom_rate_limited_messages_total", "Messages dropped by the per-connection rate limit.", hs.RateLimited.Load())
	p.counter("tickroom_protocol_errors_total", "Undecodable client messages.", hs.ProtocolErrors.Load())
	p.counter("tickroom_joins_total", "Seats taken.", hs.Joins.Load())
	p.counter("tickroom_resume_attempts_total", "Joins that asked to resume a seat.", hs.ResumeAttempts.Load())
	p.counter("tickroom_resumes_total", "Seats resumed.", hs.Resumes.Load())
	p.family("tickroom_chat_messages_total", "counter", "Chat lines and direct messages accepted, by kind.")
	p.sample("tickroom_chat_messages_total", float64(hs.RoomChats.Load()), "kind", "room")
	p.sample("tickroom_chat_messages_total", float64(hs.ChannelChats.Load()), "kind", "channel")
	p.sample("tickroom_chat_messages_total", float64(hs.DirectMessages.Load()), "kind", "direct")
	p.counter("tickroom_chat_deliveries_total", "Chat lines queued on connections.", hs.ChatDeliveries.Load())
	p.counter("tickroom_chat_refused_total", "Chat lines and direct messages refused by the chat rate limit.", hs.ChatRefused.Load())
	p.counter("tickroom_presence_events_total", "Presence changes queued on watchers' connections.", hs.PresenceEvents.Load())
	p.counter("tickroom_notifications_total", "Operator notifications sent.", hs.Notifications.Load())

	games, infos, _ := h.perGame()
	type roomKey struct{ game, phase string }
	rooms := map[roomKey]int{}
	players := map[string]int{}
	for _, info := range infos {
		rooms[roomKey{info.Game, info.Phase.String()}]++
		players[info.Game] += info.Players
	}
	p.family("tickroom_rooms", "gauge", "Live rooms, by game and phase.")
	keys := make([]roomKey, 0, len(rooms))
	for k := range rooms {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b roomKey) int { return cmp.Or(cmp.Compare(a.game, b.game), cmp.Compare(a.phase, b.phase)) })
	for _, k := range keys {
		p.sample("tickroom_rooms", float64(rooms[k]), "game", k.game, "phase", k.phase)
	}
	p.family("tickroom_players", "gauge", "Taken player seats, by game.")
	for _, g := range sortedKeys(players) {
		p.sample("tickroom_players", float64(players[g]), "game", g)
	}
	names := sortedKeys(games)
	p.family("tickroom_tick_lateness_seconds", "histogram", "How late each room tick started, by game.")
	for _, g := range names {
		p.histogram("tickroom_tick_lateness_seconds", games[g].Lateness, "game", g)
	}
	p.family("tickroom_tick_duration_seconds", "histogram", "How long each room tick took, by game.")
	for _, g := range names {
		p.histogram("tickroom_tick_duration_seconds", games[g].Duration, "game", g)
	}
	for _, c := range []struct {
		name, help string
		v          func(game.Counters) uint64
	}{
		{"tickroom_ticks_total", "Game steps run, by game.", func(c game.Counters) uint64 { return c.Ticks }},
		{"tickroom_tick_overruns_total", "Times a room stayed late after catching up and skipped ticks, by game.", func(c game.Counters) uint64 { return c.Overruns }},
		{"tickroom_inbox_drops_total", "Inputs dropped because a room's inbox was full, by game.", func(c game.Counters) uint64 { return c.InboxDrops }},
		{"tickroom_input_rate_limited_total", "Inputs dropped by the per-seat input rate, by game.", func(c game.Counters) uint64 { return c.RateLimited }},
		{"tickroom_state_frames_skipped_total", "State frames not sent to slow clients, by game.", func(c game.Counters) uint64 { return c.StateSkipped }},
		{"tickroom_encoded_frames_total", "Frames rooms encoded, by game.", func(c game.Counters) uint64 { return c.FramesEncoded }},
	} {
		p.family(c.name, "counter", c.help)
		for _, g := range names {
			p.sample(c.name, float64(c.v(games[g].Counters)), "game", g)
		}
	}
	p.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", float64(h.started.UnixNano())/1e9)
	writeProcess(p)
	p.gauge("go_goroutines", "Goroutines that currently exist.", float64(runtime.NumGoroutine()))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.gauge("go_memstats_heap_alloc_bytes", "Heap bytes allocated and still in use.", float64(ms.HeapAlloc))
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
