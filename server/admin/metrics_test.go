package admin_test

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/admin"
)

// sampleLine is one sample of the Prometheus text format.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// scrape fetches /metrics and returns every sample by its name and labels
// as written ("name{a=\"b\"}"). It fails the test on a malformed line.
func (e *env) scrape() map[string]float64 {
	e.t.Helper()
	status, body := e.do("GET", "/metrics", "", "")
	if status != 200 {
		e.t.Fatalf("/metrics: %d", status)
	}
	out := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			typed[strings.Fields(f)[0]] = true
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			e.t.Fatalf("malformed metrics line %q", line)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		if !typed[m[1]] && !typed[base] {
			e.t.Fatalf("sample %q before its # TYPE", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			e.t.Fatalf("bad value in %q", line)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// waitMetric scrapes until ok accepts the metrics.
func (e *env) waitMetric(what string, ok func(map[string]float64) bool) map[string]float64 {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := e.scrape()
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("metrics never showed %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsAreDescribed: a pedantic registry checks every metric the
// collector of tickroom's figures sends against what its Describe sent,
// as a registry that checks collectors (or a wrapper that merges them)
// does; a family missing from Describe fails its scrape there.
func TestMetricsAreDescribed(t *testing.T) {
	e := start(t, adminToken)
	c := e.connect("ann")
	c.join("")
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(admin.MetricsCollector(e.ah)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gathering tickroom's metrics in a pedantic registry: %v", err)
	}
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	e := start(t, adminToken)
	before := e.scrape()
	for _, name := range []string{"tickroom_connections_open", "tickroom_connections_opened_total", "tickroom_received_bytes_total", "tickroom_resume_attempts_total"} {
		if v, ok := before[name]; !ok || v != 0 {
			t.Fatalf("%s = %v (present %v) on a fresh server", name, v, ok)
		}
	}

	// A refused handshake.
	if _, resp, err := websocket.DefaultDialer.Dial(e.wsURL+"?token=forged", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("forged token: %v %v", resp, err)
	}
	// Two players play and chat.
	ann, bob := e.connect("ann"), e.connect("bob")
	room := ann.join("")
	bob.join(room)
	for i := range 5 {
		ann.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: uint32(i + 1), Data: []byte("+")}}})
	}
	if r := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{RoomId: room, Text: "gg"}}}); r.GetOk() == nil {
		t.Fatalf("chat: %v", r)
	}
	if r := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, ResumeTick: 1}}}); r.GetError() == nil {
		t.Fatalf("resume without a held seat: %v", r)
	}

	during := e.waitMetric("the game running", func(m map[string]float64) bool {
		return m[`tickroom_inputs_total`] == 5 && m[`tickroom_ticks_total{game="count"}`] > 0
	})
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"tickroom_connections_open", 2},
		{"tickroom_connections_opened_total", 2},
		{`tickroom_handshakes_refused_total{reason="unauthorized",status="401"}`, 1},
		{`tickroom_rooms{game="count",phase="running"}`, 1},
		{`tickroom_players{game="count"}`, 2},
		{"tickroom_joins_total", 2},
		{`tickroom_chat_messages_total{kind="room"}`, 1},
		{"tickroom_chat_deliveries_total", 2},
		{"tickroom_resume_attempts_total", 1},
		{"tickroom_resumes_total", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := during[tc.name]; !ok || got != tc.want {
				t.Fatalf("%s = %v (present %v), want %v", tc.name, got, ok, tc.want)
			}
		})
	}
	for _, grew := range []string{
		"tickroom_received_bytes_total", "tickroom_sent_bytes_total", "tickroom_received_frames_total", "tickroom_sent_frames_total",
		"tickroom_writes_total", "tickroom_loop_wakeups_total",
		`tickroom_tick_duration_seconds_count{game="count"}`, `tickroom_tick_lateness_seconds_bucket{game="count",le="+Inf"}`,
		`tickroom_encoded_frames_total{game="count"}`,
		"tickroom_send_wait_seconds_count", // the room's frames say when their tick began
	} {
		if during[grew] <= before[grew] {
			t.Fatalf("%s did not grow: %v → %v", grew, before[grew], during[grew])
		}
	}
	if during[`tickroom_tick_duration_seconds_count{game="count"}`] != during[`tickroom_tick_duration_seconds_bucket{game="count",le="+Inf"}`] {
		t.Fatal("histogram count differs from its +Inf bucket")
	}
	// The send wait's buckets are cumulative: none below the one before,
	// none above the count; and a room on an idle server waits little.
	prev, n := 0.0, during["tickroom_send_wait_seconds_count"]
	if inf := during[`tickroom_send_wait_seconds_bucket{le="+Inf"}`]; inf != n {
		t.Fatalf("send wait: %v counted, %v in the +Inf bucket", n, inf)
	}
	for _, b := range server.SendWaitBounds {
		key := fmt.Sprintf(`tickroom_send_wait_seconds_bucket{le="%g"}`, b.Seconds())
		v, ok := during[key]
		if !ok {
			t.Fatalf("no %s", key)
		}
		if v < prev || v > n {
			t.Fatalf("send wait bucket le=%g holds %v after %v, with %v counted", b.Seconds(), v, prev, n)
		}
		prev = v
	}
	if during["tickroom_send_wait_seconds_sum"]/n > 1 {
		t.Fatalf("send waits: %v s in all over %v", during["tickroom_send_wait_seconds_sum"], n)
	}

	// Both leave: ann closes normally, bob's room is closed by the operator.
	_ = ann.WS.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	ann.WaitClosed()
	if status, body := e.do("POST", "/v1/admin/rooms/"+room+"/close", adminToken, ""); status != 200 {
		t.Fatalf("close: %d %s", status, body)
	}
	after := e.waitMetric("the room gone and ann's close", func(m map[string]float64) bool {
		return m["tickroom_connections_open"] == 1 && m[`tickroom_connections_closed_total{code="1000"}`] == 1 &&
			m[`tickroom_connections_closed_by_reason_total{reason="peer"}`] == 1 &&
			m[`tickroom_rooms{game="count",phase="running"}`] == 0
	})
	// Counters of a room that is gone stay counted.
	if a, d := after[`tickroom_ticks_total{game="count"}`], during[`tickroom_ticks_total{game="count"}`]; a < d {
		t.Fatalf("ticks_total went down from %v to %v when the room closed", d, a)
	}
}

func TestMetricsHaveProcessFigures(t *testing.T) {
	e := start(t, adminToken)
	first := e.scrape()
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"} {
		if first[name] <= 0 {
			t.Fatalf("%s = %v, want a positive figure", name, first[name])
		}
	}
	c := e.connect("ann")
	_ = c
	after := e.waitMetric("one more open file", func(m map[string]float64) bool {
		return m["process_open_fds"] > first["process_open_fds"]
	})
	if after["process_cpu_seconds_total"] < first["process_cpu_seconds_total"] {
		t.Fatalf("CPU seconds went down: %v then %v", first["process_cpu_seconds_total"], after["process_cpu_seconds_total"])
	}
}

// TestMetricsHaveStandardCollectors checks the client library's standard
// series next to tickroom's: the Go runtime, the process (its descriptor
// limit included) and which build runs.
func TestMetricsHaveStandardCollectors(t *testing.T) {
	e := start(t, adminToken)
	m := e.scrape()
	for _, name := range []string{"process_max_fds", "process_start_time_seconds", "go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if m[name] <= 0 {
			t.Errorf("%s = %v, want a positive figure", name, m[name])
		}
	}
	var goBuild, ours bool
	for k, v := range m {
		goBuild = goBuild || (strings.HasPrefix(k, "go_build_info{") && v == 1)
		ours = ours || (strings.HasPrefix(k, "tickroom_build_info{") && strings.Contains(k, `goversion="go`) && v == 1)
	}
	if !goBuild || !ours {
		t.Errorf("go_build_info present %v, tickroom_build_info present %v", goBuild, ours)
	}
	if start := m["process_start_time_seconds"]; start > float64(time.Now().Unix())+1 || start < float64(time.Now().Add(-24*time.Hour).Unix()) {
		t.Errorf("process_start_time_seconds = %v, not a recent start", start)
	}
}
