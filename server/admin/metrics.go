package admin

import (
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server"
)

// /metrics is served by the Prometheus client library
// (github.com/prometheus/client_golang): its registry, its text and
// OpenMetrics encoders, and its standard collectors for the Go runtime
// (go_*), the process (process_*, process_max_fds included) and the build
// (go_build_info). tickroom's own figures live where they are counted, in
// atomics on the transport, hub and rooms, and are not mirrored into
// client-library counters on the hot path: one custom collector (below)
// reads them at scrape time and hands them to the registry as constant
// metrics. BENCHMARKS.md has the scrape's cost before and after.
// Names follow Prometheus conventions: a tickroom_ prefix, base units
// (seconds, bytes) in the name, _total on counters.

// metricsHandler builds the registry /metrics serves: the standard Go,
// process and build collectors, tickroom_build_info, and the collector of
// tickroom's own figures. Each Handler has its own registry, so several
// servers in one process (tests) do not collide.
func (h *Handler) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		buildInfo(),
		collector{h},
	)
	reg.MustRegister(h.extra...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// buildInfo is the gauge tickroom_build_info, always 1, whose labels say
// which build runs: the main module's version, the VCS revision and the
// Go version.
func buildInfo() prometheus.Collector {
	version, revision, goVersion := "unknown", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tickroom_build_info",
		Help:        "Always 1; the labels say which build of tickroom runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return g
}

// refusalReasons names the HTTP statuses an upgrade is refused with.
var refusalReasons = map[int]string{
	400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
	408: "handshake_timeout", 426: "upgrade_required", 429: "too_many_handshakes", 431: "request_too_large",
	503: "unavailable",
}

// metric is one of tickroom's metric families.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

func newMetric(typ prometheus.ValueType, name, help string, labels ...string) metric {
	return metric{prometheus.NewDesc(name, help, labels, nil), typ}
}

func counter(name, help string, labels ...string) metric {
	return newMetric(prometheus.CounterValue, name, help, labels...)
}

func gauge(name, help string, labels ...string) metric {
	return newMetric(prometheus.GaugeValue, name, help, labels...)
}

// Every family the collector exports.
var (
	mConnsOpen        = gauge("tickroom_connections_open", "Open tickroom.v1 sessions.")
	mConnsOpened      = counter("tickroom_connections_opened_total", "tickroom.v1 sessions accepted.")
	mTCPOpen          = gauge("tickroom_tcp_connections_open", "Open TCP connections on the WebSocket port, upgraded or not.")
	mTCPOpened        = counter("tickroom_tcp_connections_opened_total", "TCP connections accepted on the WebSocket port.")
	mConnsClosed      = counter("tickroom_connections_closed_total", "WebSocket connections closed, by close code (1006: lost; 0: closed by the client with a code of its own in 3000-4999).", "code")
	mClosedFor        = counter("tickroom_connections_closed_by_reason_total", "WebSocket connections closed, by why (peer, app, rate, frame_timeout, slow_deadline, slow_bytes, outbound_budget, ...).", "reason")
	mOutbound         = gauge("tickroom_outbound_bytes", "Bytes the transport holds for its connections: queued frames plus what the kernel refused.")
	mRefused          = counter("tickroom_handshakes_refused_total", "WebSocket upgrades refused, by reason and HTTP status.", "reason", "status")
	mBytesIn          = counter("tickroom_received_bytes_total", "Bytes read from WebSocket connections.")
	mBytesOut         = counter("tickroom_sent_bytes_total", "Frame bytes written to WebSocket connections.")
	mFramesIn         = counter("tickroom_received_frames_total", "WebSocket frames read.")
	mFramesOut        = counter("tickroom_sent_frames_total", "WebSocket frames written.")
	mWrites           = counter("tickroom_writes_total", "writev(2) calls that wrote frames; sent frames / writes is the frames one syscall carried.")
	mWakeups          = counter("tickroom_loop_wakeups_total", "Flush tasks handed to event loops from outside their turn, one wake-up each.")
	mCarried          = counter("tickroom_loop_flushes_carried_total", "Flush tasks that left connections with frames for the loop's next round, after its reads: the loop had more to write than a round's budget.")
	mSendWait         = metric{prometheus.NewDesc("tickroom_send_wait_seconds", "How long a room's frames waited from the start of the tick that made them until the event loop's flush wrote them, the oldest of each connection's flush (frames kept back for a client still reading earlier ones left out); a tail with the server's core busy is the loop behind on its writes.", nil, nil), prometheus.UntypedValue}
	mSkipped          = counter("tickroom_skipped_frames_total", "Droppable frames the transport skipped for congested connections.")
	mBehind           = counter("tickroom_connections_behind_total", "Times a sweep found a connection's link behind by more than the state lag bound (-max-state-lag): its rooms skip its states until it catches up.")
	mMessagesIn       = counter("tickroom_messages_received_total", "tickroom.v1 client messages received.")
	mMessagesOut      = counter("tickroom_messages_sent_total", "tickroom.v1 messages queued on one connection: answers, errors, the welcome and notices to it alone; room states and events, and messages fanned out to several connections (chat lines, presence, notifications), excluded.")
	mInputs           = counter("tickroom_inputs_total", "Inputs queued to rooms.")
	mInputsRefused    = counter("tickroom_inputs_refused_total", "Inputs refused.")
	mRateLimited      = counter("tickroom_rate_limited_messages_total", "Messages dropped by the per-connection rate limit.")
	mProtocolErrors   = counter("tickroom_protocol_errors_total", "Undecodable client messages.")
	mJoins            = counter("tickroom_joins_total", "Seats taken.")
	mResumeAttempts   = counter("tickroom_resume_attempts_total", "Joins that asked to resume a seat.")
	mResumes          = counter("tickroom_resumes_total", "Seats resumed.")
	mRedirects        = counter("tickroom_redirects_total", "Redirects to another node of the cluster: joins and quick-matches answered with one, and members of a room moved off a draining node sent one.")
	mChat             = counter("tickroom_chat_messages_total", "Chat lines and direct messages accepted, by kind.", "kind")
	mChatDeliveries   = counter("tickroom_chat_deliveries_total", "Chat lines queued on connections.")
	mChatRefused      = counter("tickroom_chat_refused_total", "Chat lines and direct messages refused by the chat rate limit, lobby channel lines by the channel's line rate, and direct messages by their recipient's rate for non-friends.")
	mChannelOpensRef  = counter("tickroom_channel_opens_refused_total", "Lobby channel opens refused by the per-user or per-address open rate.")
	mPresence         = counter("tickroom_presence_events_total", "Presence changes queued on watchers' connections.")
	mPresenceRef      = counter("tickroom_presence_queries_refused_total", "Presence queries refused by their user's presence rate, or while the connection's queries await too many answers from other nodes.")
	mSessionsRateRef  = counter("tickroom_sessions_rate_limited_total", "Upgrades with a valid token refused with 429 because the user (per=\"user\"), or the users of its client address (per=\"address\"), opened sessions faster than their rate.", "per")
	mRoomListsRateRef = counter("tickroom_room_lists_rate_limited_total", "ListRooms and WatchRooms refused with ERROR_CODE_RATE_LIMITED, past the connection's own bucket of that request (per=\"connection\") or past the room lists the connections of its client address share (per=\"address\").", "per")
	mContactRefused   = counter("tickroom_contact_requests_refused_total", "Friend requests, answers and removals, blocks and unblocks refused by the user's contact rate or its client address's.")
	mDirectBusy       = counter("tickroom_direct_messages_busy_total", "Direct messages to offline users refused while too many of the connection's or the node's awaited the store.")
	mNotifications    = counter("tickroom_notifications_total", "Operator notifications sent.")
	mDirectStored     = counter("tickroom_direct_messages_stored_total", "Direct messages kept in the store for a recipient connected nowhere.")
	mSocialLoadErrs   = counter("tickroom_social_store_errors_total", "Social data the store could not read, by kind: graph (a user's friends, requests and blocks), inbox (kept direct messages), channel (kept lobby lines).", "kind")
	mRooms            = gauge("tickroom_rooms", "Live rooms, by game and phase.", "game", "phase")
	mPlayers          = gauge("tickroom_players", "Taken player seats, by game.", "game")
	mLateness         = metric{prometheus.NewDesc("tickroom_tick_lateness_seconds", "How late each room tick started, by game.", []string{"game"}, nil), prometheus.UntypedValue}
	mDuration         = metric{prometheus.NewDesc("tickroom_tick_duration_seconds", "How long each room tick took, by game.", []string{"game"}, nil), prometheus.UntypedValue}
	mTicks            = counter("tickroom_ticks_total", "Game steps run, by game.", "game")
	mOverruns         = counter("tickroom_tick_overruns_total", "Times a room stayed late after catching up and skipped ticks, by game.", "game")
	mInboxDrops       = counter("tickroom_inbox_drops_total", "Inputs dropped because a room's inbox was full, by game.", "game")
	mInputRateLimits  = counter("tickroom_input_rate_limited_total", "Inputs dropped by the per-seat input rate, by game.", "game")
	mStateSkipped     = counter("tickroom_state_frames_skipped_total", "State frames not sent to slow clients, by game.", "game")
	mEncoded          = counter("tickroom_encoded_frames_total", "Frames rooms encoded, by game.", "game")
	mSleeps           = counter("tickroom_room_sleeps_total", "Times a room went off its tick until an input or its wake tick (turn-based games), by game.", "game")
	mCrashes          = counter("tickroom_room_crashes_total", "Rooms closed because their game failed (a panic in one of its methods, or a state over the runtime's limit), by game.", "game")
	mStuckWorkers     = counter("tickroom_tick_workers_stuck_total", "Tick workers a shutdown gave up on, each still in a game's call that never returned (stuck past game.StuckAfter, or a second past the deadline).")
)

// allMetrics lists the families for Describe.
var allMetrics = []metric{
	mConnsOpen, mConnsOpened, mTCPOpen, mTCPOpened, mConnsClosed, mClosedFor, mOutbound, mRefused, mBytesIn, mBytesOut, mFramesIn,
	mFramesOut, mWrites, mWakeups, mCarried, mSendWait, mSkipped, mBehind, mMessagesIn, mMessagesOut, mInputs, mInputsRefused, mRateLimited, mProtocolErrors,
	mJoins, mResumeAttempts, mResumes, mRedirects, mChat, mChatDeliveries, mChatRefused, mChannelOpensRef, mPresence, mPresenceRef, mContactRefused, mSessionsRateRef, mRoomListsRateRef, mDirectBusy, mNotifications, mDirectStored, mSocialLoadErrs,
	mRooms, mPlayers, mLateness, mDuration, mTicks, mOverruns, mInboxDrops, mInputRateLimits, mStateSkipped, mEncoded, mSleeps, mCrashes, mStuckWorkers,
}

// collector exports the transport's, the hub's and the rooms' figures at
// scrape time. Collect is safe from any goroutine; the registry may run
// scrapes concurrently. A scrape reads the rooms' figures by game (the
// runtime's Census and GameStats): what it allocates grows with the rooms
// by one pointer a room (Census's list), not by a copy of each room's
// info and figures.
type collector struct{ h *Handler }

var _ prometheus.Collector = collector{}

// Describe sends every family's description.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range allMetrics {
		ch <- m.desc
	}
}

// Collect reads the counters and sends them as constant metrics.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	put := func(m metric, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labels...)
	}
	ts := h.srv.Stats()
	hs := h.hub.Stats()

	put(mConnsOpen, float64(h.hub.OpenSessions()))
	put(mConnsOpened, float64(hs.Sessions.Load()))
	put(mTCPOpen, float64(ts.Open))
	put(mTCPOpened, float64(ts.Opened))
	for code, n := range ts.Closed {
		put(mConnsClosed, float64(n), strconv.Itoa(code))
	}
	for why, n := range ts.ClosedFor {
		put(mClosedFor, float64(n), why.String())
	}
	put(mOutbound, float64(h.srv.OutboundBytes()))
	for st, n := range ts.Refused {
		reason := refusalReasons[st]
		if reason == "" {
			reason = "http_" + strconv.Itoa(st)
		}
		put(mRefused, float64(n), reason, strconv.Itoa(st))
	}
	put(mBytesIn, float64(ts.BytesIn))
	put(mBytesOut, float64(ts.BytesOut))
	put(mFramesIn, float64(ts.FramesIn))
	put(mFramesOut, float64(ts.FramesOut))
	put(mWrites, float64(ts.Writes))
	put(mWakeups, float64(ts.Wakeups))
	put(mCarried, float64(ts.Carried))
	ch <- sendWait(ts.SendWait)
	put(mSkipped, float64(ts.Dropped))
	put(mBehind, float64(ts.Behind))

	put(mMessagesIn, float64(hs.MessagesIn.Load()))
	put(mMessagesOut, float64(hs.MessagesOut.Load()))
	put(mInputs, float64(hs.Inputs.Load()))
	put(mInputsRefused, float64(hs.InputsRefused.Load()))
	put(mRateLimited, float64(hs.RateLimited.Load()))
	put(mProtocolErrors, float64(hs.ProtocolErrors.Load()))
	put(mJoins, float64(hs.Joins.Load()))
	put(mResumeAttempts, float64(hs.ResumeAttempts.Load()))
	put(mResumes, float64(hs.Resumes.Load()))
	put(mRedirects, float64(hs.Redirects.Load()))
	put(mChat, float64(hs.RoomChats.Load()), "room")
	put(mChat, float64(hs.ChannelChats.Load()), "channel")
	put(mChat, float64(hs.DirectMessages.Load()), "direct")
	put(mChatDeliveries, float64(hs.ChatDeliveries.Load()))
	put(mChatRefused, float64(hs.ChatRefused.Load()))
	put(mChannelOpensRef, float64(hs.ChannelOpensRefused.Load()))
	put(mPresence, float64(hs.PresenceEvents.Load()))
	put(mPresenceRef, float64(hs.PresenceRefused.Load()))
	put(mContactRefused, float64(hs.ContactRefused.Load()))
	put(mSessionsRateRef, float64(hs.SessionsUserRate.Load()), "user")
	put(mSessionsRateRef, float64(hs.SessionsAddressRate.Load()), "address")
	put(mRoomListsRateRef, float64(hs.RoomListsConnectionRate.Load()), "connection")
	put(mRoomListsRateRef, float64(hs.RoomListsAddressRate.Load()), "address")
	put(mDirectBusy, float64(hs.DirectBusy.Load()))
	put(mNotifications, float64(hs.Notifications.Load()))
	put(mDirectStored, float64(hs.DirectStored.Load()))
	put(mSocialLoadErrs, float64(hs.GraphLoadErrors.Load()), "graph")
	put(mSocialLoadErrs, float64(hs.InboxErrors.Load()), "inbox")
	put(mSocialLoadErrs, float64(hs.ChannelLoadErrors.Load()), "channel")

	rt := h.hub.Runtime()
	players := map[string]int{}
	for _, c := range rt.Census() {
		put(mRooms, float64(c.Rooms), c.Game, c.Phase.String())
		players[c.Game] += c.Players
	}
	for g, n := range players {
		put(mPlayers, float64(n), g)
	}
	put(mStuckWorkers, float64(rt.StuckWorkers()))
	for g, s := range rt.GameStats() {
		ch <- histogram(mLateness, s.Lateness, g)
		ch <- histogram(mDuration, s.Duration, g)
		put(mTicks, float64(s.Counters.Ticks), g)
		put(mOverruns, float64(s.Counters.Overruns), g)
		put(mInboxDrops, float64(s.Counters.InboxDrops), g)
		put(mInputRateLimits, float64(s.Counters.RateLimited), g)
		put(mStateSkipped, float64(s.Counters.StateSkipped), g)
		put(mEncoded, float64(s.Counters.FramesEncoded), g)
		put(mSleeps, float64(s.Counters.Sleeps), g)
		put(mCrashes, float64(s.Counters.Crashes), g)
	}
}

// histogram turns a room duration histogram into a Prometheus one.
func histogram(m metric, h game.Histogram, labels ...string) prometheus.Metric {
	return constHistogram(m, game.HistogramBounds[:], h.Counts[:], h.Count, h.Sum, labels...)
}

// sendWait turns the transport's send wait histogram into a Prometheus
// one.
func sendWait(h server.WaitHistogram) prometheus.Metric {
	return constHistogram(mSendWait, server.SendWaitBounds[:], h.Counts[:], h.Count, h.Sum)
}

// constHistogram is a Prometheus histogram in seconds from per-bucket
// counts (counts[i] up to bounds[i], and above the bound before; the last,
// above every bound), with cumulative buckets.
func constHistogram(m metric, bounds []time.Duration, counts []uint64, count uint64, sum time.Duration, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(m.desc, count, sum.Seconds(), buckets, labels...)
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
