// Command tickroom-abuse runs one transport attack against a tickroom
// server on loopback while a bystander plays, and reports the server's
// resident memory and CPU and the bystander's input→ack and Ping round-trip
// percentiles before, during and after the attack. Every attack is bounded
// in connections (-attackers) and time (-phase); scripts/abuse/run.sh runs
// them all against a fresh server.
//
// Attacks:
//
//	ping-flood     each attacker sends WebSocket pings as fast as it can (/v1/ws)
//	slow-drip      each attacker sends a frame header claiming 60 KB, then a byte a second (/v1/ws)
//	nonreaders     attackers join /broadcast and never read; one more sends 100 60-KB messages a second
//	conns          one address opens -attackers upgraded connections and holds them (/v1/ws)
//	room-flood     each attacker creates the costliest arena room its room budget allows (-room-budget), plays in it, and asks for another every 50 ms
//	channel-squat  each attacker asks for 8 new lobby channels every second (the first 8 are as many as one user may hold) and stays
//	oversized      each attacker sends 50 messages a second whose ids, chat text, options or channel name are ~60 KB
//	login-flood    each attacker posts guest logins back to back from its own address (127.0.1.x); run without -guest-login-rate inf
//	chat-nonreaders each attacker joins the lobby channel, chats in it twice a second (500 B) and never reads
//	contact-flood  each attacker sends a contact request every 20 ms, in turn AddFriend remove, BlockUser unblock, AddFriend and BlockUser, each naming a made-up user id (2/s pass the contact rate)
//	dm-flood       each attacker sends the bystander direct messages: the chat burst (10) at once, then one every 400 ms (2.5/s, over the chat rate of 2/s); the bystander counts those it gets
//	offline-dm     each attacker sends the chat burst (10 direct messages) at once, then one every 400 ms (2.5/s, over the chat rate of 2/s), in turn to a made-up user id and to a guest that logged in once and never connects
//	reconnect-loop each attacker logs in as a guest once, then opens a session with its token and closes it, back to back (/v1/ws)
//	join-churn     each attacker spectates the bystander's arena room and leaves it, a JoinRoom as soon as the Left came and a LeaveRoom as soon as the Joined did, at most 100 messages a second; each join and leave is a room event to every member
//	http-hold      attackers from four addresses (127.0.2.1–4) hold connections to the public HTTP port: each starts a login whose body never comes, and starts another when the server ends it; 3 s in, a login from a fifth address (127.0.3.1) is timed
//	none           no attack: the three phases measure the machine's own noise, the baseline for the ratios
//
// The bystander logs in as a guest, quick-matches the arena, sends an input
// every 50 ms and a Ping every 100 ms, and counts the room events
// (members joining and leaving) its room sends it and the direct messages
// it gets. /broadcast needs the server's
// -conformance-endpoints; the attackers' logins need -guest-login-rate inf;
// contact-flood and offline-dm mean something only against a server with a
// store (-data-dir), which checks the user ids and keeps offline messages.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func main() {
	var (
		wsAddr    = flag.String("ws", "127.0.0.1:8081", "server's WebSocket address host:port")
		httpURL   = flag.String("http", "http://127.0.0.1:8080", "server's public HTTP base URL (login)")
		attack    = flag.String("attack", "ping-flood", "ping-flood, slow-drip, nonreaders, conns, room-flood, channel-squat, oversized, login-flood, chat-nonreaders, http-hold, contact-flood, dm-flood, offline-dm, reconnect-loop, join-churn or none")
		attackers = flag.Int("attackers", 200, "attacking connections (at most 2,000)")
		phase     = flag.Duration("phase", 10*time.Second, "length of each phase: before, during, after (at most 60s)")
		pid       = flag.Int("pid", 0, "server's pid, for RSS and CPU from /proc")
		budget    = flag.Int("room-budget", 32, "room-flood: the server's -max-room-cost-per-user (and -room-create-burst), in cost units")
	)
	flag.Parse()
	if err := checkArgs(*attack, *attackers, *phase, *budget); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom-abuse:", err)
		os.Exit(2)
	}
	if err := loopbackOnly(*wsAddr, *httpURL); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom-abuse:", err)
		os.Exit(2)
	}
	if err := run(*wsAddr, *httpURL, *attack, *attackers, *phase, *pid, *budget); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom-abuse:", err)
		os.Exit(1)
	}
}

// attacks are the attacks runAttack knows.
var attacks = []string{"ping-flood", "slow-drip", "nonreaders", "conns", "room-flood", "channel-squat", "oversized",
	"login-flood", "chat-nonreaders", "http-hold", "contact-flood", "dm-flood", "offline-dm", "reconnect-loop", "join-churn", "none"}

// checkArgs refuses an unknown attack and the flags' out-of-bounds values
// before anything runs.
func checkArgs(attack string, attackers int, phase time.Duration, budget int) error {
	if !slices.Contains(attacks, attack) {
		return fmt.Errorf("unknown -attack %q (one of %s)", attack, strings.Join(attacks, ", "))
	}
	if attackers > 2000 || phase > time.Minute || phase <= 0 || attackers < 1 || budget < 1 {
		return errors.New("-attackers 1..2000, -phase above 0 and up to 60s, -room-budget at least 1")
	}
	return nil
}

// loopbackOnly refuses targets outside 127.0.0.0/8 and ::1: the attacks are
// for a server on this machine only.
func loopbackOnly(wsAddr, httpURL string) error {
	u, err := url.Parse(httpURL)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	for _, hostport := range []string{wsAddr, u.Host} {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return fmt.Errorf("target %q: %w", hostport, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return fmt.Errorf("target %q is not a loopback address", hostport)
		}
	}
	return nil
}

// phaseStats is what one phase measured.
type phaseStats struct {
	name           string
	peakRSS        int64   // bytes
	cpu            float64 // percent of one core
	ack, ping      []time.Duration
	ackAt          []time.Time // when each ack arrived
	start          time.Time
	events         int // room events of members joining or leaving the bystander's room
	dms            int // direct messages the bystander got
	bystanderAlive bool
}

func run(wsAddr, httpURL, attack string, attackers int, phase time.Duration, pid, roomBudget int) error {
	b, err := newBystander(wsAddr, httpURL)
	if err != nil {
		return fmt.Errorf("bystander: %w", err)
	}
	defer b.conn.Close()
	go b.play()
	time.Sleep(time.Second) // settle into the room
	var results []phaseStats
	var outcome string
	for _, name := range []string{"before", "during", "after"} {
		b.reset()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var res atomic.Pointer[string]
		if name == "during" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := runAttack(attack, wsAddr, httpURL, b.room, b.user, attackers, roomBudget, stop)
				res.Store(&s)
			}()
		}
		start := time.Now()
		ps := measure(pid, phase)
		ps.start = start
		close(stop)
		wg.Wait()
		if p := res.Load(); p != nil {
			outcome = *p
		}
		ps.name = name
		ps.ack, ps.ackAt, ps.ping, ps.events, ps.dms = b.take()
		ps.bystanderAlive = b.err.Load() == nil
		results = append(results, ps)
	}
	fmt.Printf("attack %s, %d attackers, %s phases\n", attack, attackers, phase)
	var dropped string
	if e := b.err.Load(); e != nil {
		dropped = (*e).Error()
	}
	writeTable(os.Stdout, results, dropped)
	slowest := results[1].slowest(3)
	if slowest == "" {
		slowest = "none: no ack came"
	}
	fmt.Printf("slowest acks during: %s\n", slowest)
	fmt.Printf("room events (a member joined or left) the bystander got a second: before %.1f, during %.1f, after %.1f\n",
		float64(results[0].events)/phase.Seconds(), float64(results[1].events)/phase.Seconds(), float64(results[2].events)/phase.Seconds())
	fmt.Printf("direct messages the bystander got a second: before %.1f, during %.1f, after %.1f\n",
		float64(results[0].dms)/phase.Seconds(), float64(results[1].dms)/phase.Seconds(), float64(results[2].dms)/phase.Seconds())
	fmt.Printf("outcome: %s\n", outcome)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// writeTable writes a row a phase; dropped is why the bystander was
// dropped, for the phases it was not playing in. A percentile over no
// samples (no ack, or no pong, in the phase) reads n/a; the acks and
// pings columns count the samples.
func writeTable(w io.Writer, results []phaseStats, dropped string) {
	fmt.Fprintf(w, "%-7s %9s %6s %12s %12s %12s %12s %6s %6s %s\n", "phase", "RSS MiB", "CPU %", "ack p50 ms", "ack p99 ms", "ping p50 ms", "ping p99 ms", "acks", "pings", "bystander")
	cell := func(ds []time.Duration, p int) string {
		if len(ds) == 0 {
			return "n/a"
		}
		return strconv.FormatFloat(ms(pct(ds, p)), 'f', 2, 64)
	}
	for _, r := range results {
		alive := "playing"
		if !r.bystanderAlive {
			alive = "dropped: " + dropped
		}
		fmt.Fprintf(w, "%-7s %9.1f %6.1f %12s %12s %12s %12s %6d %6d %s\n", r.name, float64(r.peakRSS)/(1<<20), r.cpu,
			cell(r.ack, 50), cell(r.ack, 99), cell(r.ping, 50), cell(r.ping, 99), len(r.ack), len(r.ping), alive)
	}
}

// slowest names the n slowest acks of the phase and when they arrived,
// counted from the phase's start: when in the attack the bystander
// waited.
func (ps phaseStats) slowest(n int) string {
	idx := make([]int, len(ps.ack))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(ps.ack[b] - ps.ack[a]) })
	var parts []string
	for _, i := range idx[:min(n, len(idx))] {
		parts = append(parts, fmt.Sprintf("%.0f ms at +%.2f s", ms(ps.ack[i]), ps.ackAt[i].Sub(ps.start).Seconds()))
	}
	return strings.Join(parts, ", ")
}

// pct returns the p-th percentile of ds by nearest rank: the sample of
// rank ⌈p·n/100⌉, the smallest with at least p % of ds at or below it; 0
// when ds is empty (writeTable shows that as n/a, not as 0).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (len(s)*p + 99) / 100
	return s[min(len(s), max(1, rank))-1]
}

// measure samples the server's RSS and CPU for d.
func measure(pid int, d time.Duration) phaseStats {
	var ps phaseStats
	cpu0, t0 := cpuTicks(pid), time.Now()
	end := t0.Add(d)
	for time.Now().Before(end) {
		ps.peakRSS = max(ps.peakRSS, rss(pid))
		time.Sleep(100 * time.Millisecond)
	}
	if pid > 0 {
		ps.cpu = float64(cpuTicks(pid)-cpu0) / 100 / time.Since(t0).Seconds() * 100
	}
	return ps
}

// cpuTicks reads utime+stime (clock ticks, 100 Hz) from /proc/pid/stat.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rss reads VmRSS from /proc/pid/status, in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// login gets a guest session token.
func login(httpURL, name string) (string, error) {
	tok, _, err := loginUser(httpURL, name)
	return tok, err
}

// loggingIn holds the logins in flight to 16, under the public HTTP port's
// 64 connections per client address (-max-http-conns-per-ip): the
// attackers all log in from 127.0.0.1, and more at once would be refused
// with 429.
var loggingIn = make(chan struct{}, 16)

// loginUser logs a guest in and returns its session token and user id.
func loginUser(httpURL, name string) (token, userID string, err error) {
	loggingIn <- struct{}{}
	defer func() { <-loggingIn }()
	resp, err := http.Post(httpURL+"/v1/login", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var l struct {
		Token  string
		UserID string `json:"user_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Token == "" {
		return "", "", fmt.Errorf("login %s: status %d", name, resp.StatusCode)
	}
	return l.Token, l.UserID, nil
}

// bystander plays the arena and times its inputs' acks and its pings.
type bystander struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	user string
	room string
	seat uint32
	err  atomic.Pointer[error]

	mu      sync.Mutex
	sent    map[uint32]time.Time // input seq → send time
	acked   uint32
	ack     []time.Duration
	ackAt   []time.Time
	ping    []time.Duration
	events  int // member joined and left events of its room
	dms     int // direct messages it got
	started time.Time
}

func newBystander(wsAddr, httpURL string) (*bystander, error) {
	tok, user, err := loginUser(httpURL, "bystander")
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws://"+wsAddr+"/v1/ws?token="+tok, nil)
	if err != nil {
		return nil, err
	}
	b := &bystander{conn: c, user: user, sent: map[uint32]time.Time{}, started: time.Now()}
	b.send(&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "arena"}}})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		m := new(tickroomv1.ServerMessage)
		if m.UnmarshalVT(p) == nil && m.RequestId == 1 {
			j := m.GetJoined()
			if j == nil {
				return nil, fmt.Errorf("quick-match: %v", m)
			}
			b.room, b.seat = j.RoomId, j.Seat
			_ = c.SetReadDeadline(time.Time{})
			return b, nil
		}
	}
}

func (b *bystander) send(m *tickroomv1.ClientMessage) {
	p, _ := m.MarshalVT()
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if err := b.conn.WriteMessage(websocket.BinaryMessage, p); err != nil && b.err.Load() == nil {
		b.err.Store(&err)
	}
}

// play sends inputs and pings and reads until the connection ends.
func (b *bystander) play() {
	go func() {
		in, _ := (&arenav1.Input{Dx: 1}).MarshalVT()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for seq := uint32(1); b.err.Load() == nil; seq++ {
			<-tick.C
			b.mu.Lock()
			b.sent[seq] = time.Now()
			b.mu.Unlock()
			b.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: b.room, Seq: seq, Data: in}}})
			if seq%2 == 0 {
				now := float64(time.Since(b.started)) / 1e6
				b.send(&tickroomv1.ClientMessage{RequestId: seq, Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: now}}})
			}
		}
	}()
	var lastTick uint64
	var ackSeq uint32
	for {
		_, p, err := b.conn.ReadMessage()
		if err != nil {
			b.err.Store(&err)
			return
		}
		m := new(tickroomv1.ServerMessage)
		if m.UnmarshalVT(p) != nil {
			continue
		}
		now := time.Now()
		switch {
		case m.GetPong() != nil:
			sentAt := b.started.Add(time.Duration(m.GetPong().ClientTimeMs * 1e6))
			b.mu.Lock()
			b.ping = append(b.ping, now.Sub(sentAt))
			b.mu.Unlock()
		case m.GetDirectMessage() != nil:
			b.mu.Lock()
			b.dms++
			b.mu.Unlock()
		case m.GetRoomEvent() != nil:
			switch m.GetRoomEvent().Kind {
			case tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED, tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT:
				b.mu.Lock()
				b.events++
				b.mu.Unlock()
			}
		case m.GetState() != nil:
			// Acks travel as changes against the base tick: apply this
			// one to the ack held for that base (none for a keyframe).
			st := m.GetState()
			fits := st.Keyframe || st.BaseTick == lastTick
			if st.Keyframe {
				ackSeq = 0
			}
			lastTick = st.Tick
			v, ok, err := statesync.ScanAck(st.Patch, b.seat)
			if err != nil || !ok || !fits {
				continue
			}
			ackSeq = statesync.ApplyAck(ackSeq, v)
			b.mu.Lock()
			for s := b.acked + 1; s <= ackSeq; s++ {
				if t, ok := b.sent[s]; ok {
					b.ack = append(b.ack, now.Sub(t))
					b.ackAt = append(b.ackAt, now)
					delete(b.sent, s)
				}
			}
			b.acked = max(b.acked, ackSeq)
			b.mu.Unlock()
		}
	}
}

func (b *bystander) reset() {
	b.mu.Lock()
	b.ack, b.ackAt, b.ping, b.events, b.dms = nil, nil, nil, 0, 0
	b.mu.Unlock()
}

func (b *bystander) take() (ack []time.Duration, ackAt []time.Time, ping []time.Duration, events, dms int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ack, b.ackAt, b.ping, b.events, b.dms
}

// maskedFrame builds a masked client frame with a final bit and opcode in
// b0 and a header claiming n payload bytes, followed by payload.
func maskedFrame(b0 byte, payload []byte, n int) []byte {
	h := []byte{b0, 0x80}
	switch {
	case n < 126:
		h[1] |= byte(n)
	case n <= 0xffff:
		h[1] |= 126
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h[1] |= 127
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	return append(append(h, 0, 0, 0, 0), payload...) // zero mask key
}

// dialRaw upgrades a raw TCP connection on path; rcvbuf > 0 shrinks its
// receive buffer first.
func dialRaw(wsAddr, path string, rcvbuf int) (net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", wsAddr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if rcvbuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickroom.v1\r\n\r\n"
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, fmt.Errorf("refused %d", resp.StatusCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// closeCode reads frames until a close frame or an error and names it.
func closeCode(br *bufio.Reader) string {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF):
				return "eof"
			case errors.As(err, &ne) && ne.Timeout():
				return "still open"
			}
			return "reset"
		}
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			_, _ = io.ReadFull(br, l[:])
			n = int64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			_, _ = io.ReadFull(br, l[:])
			n = int64(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, min(n, 1<<20))
		if _, err := io.ReadFull(br, p); err != nil {
			return "reset"
		}
		if _, err := br.Discard(int(n - int64(len(p)))); err != nil {
			return "reset"
		}
		if h[0]&0x0f == 0x8 && len(p) >= 2 {
			return "close " + strconv.Itoa(int(binary.BigEndian.Uint16(p)))
		}
	}
}

// tally counts outcomes by name.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(k string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[k]++
	t.mu.Unlock()
}

func (t *tally) get(k string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[k]
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, t.m[k]))
	}
	return strings.Join(parts, ", ")
}

// runAttack runs the named attack with n connections until stop closes,
// then closes its connections and describes what the server did. room is
// the bystander's, which join-churn spectates, and victim the bystander's
// user id, which dm-flood messages.
func runAttack(name, wsAddr, httpURL, room, victim string, n, roomBudget int, stop <-chan struct{}) string {
	var t tally
	var wg sync.WaitGroup
	var conns sync.Map
	// Handshakes in flight stay under the server's per-address cap on
	// unfinished handshakes, so the attack measures what comes after.
	dialing := make(chan struct{}, 16)
	var attempts atomic.Int64
	asked := "" // what the room flood asks for
	// attacker dials path (a token is fetched for /v1/ws), runs body on
	// its own goroutine, and records how the server ended the connection
	// (a nil body holds the connection without reading; a body that
	// returns once the attack stops reads only then).
	attacker := func(i int, path string, rcvbuf int, body func(nc net.Conn), readAfter bool) {
		defer wg.Done()
		if path == "/v1/ws" {
			tok, err := login(httpURL, "attacker-"+strconv.Itoa(i))
			if err != nil {
				t.add("login failed")
				return
			}
			path += "?token=" + tok
		}
		dialing <- struct{}{}
		nc, br, err := dialRaw(wsAddr, path, rcvbuf)
		<-dialing
		attempts.Add(1)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "refused") {
				err = errors.New("dial failed")
			}
			t.add(err.Error())
			return
		}
		conns.Store(nc, true)
		t.add("upgraded")
		switch {
		case body == nil:
		case readAfter:
			body(nc)
			t.add(closeCode(br))
		default:
			go body(nc)
			t.add(closeCode(br))
		}
	}
	switch name {
	case "ping-flood":
		flood := bytes.Repeat(maskedFrame(0x89, nil, 0), 1024)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go attacker(i, "/v1/ws", 0, func(nc net.Conn) {
				for {
					if _, err := nc.Write(flood); err != nil {
						return
					}
				}
			}, false)
		}
	case "slow-drip":
		for i := 0; i < n; i++ {
			wg.Add(1)
			go attacker(i, "/v1/ws", 0, func(nc net.Conn) {
				if _, err := nc.Write(maskedFrame(0x82, nil, 60000)); err != nil {
					return
				}
				for {
					time.Sleep(time.Second)
					if _, err := nc.Write([]byte{0}); err != nil {
						return
					}
				}
			}, false)
		}
	case "nonreaders":
		// The sender connects first and starts once the others have
		// dialed.
		wg.Add(1)
		go attacker(n, "/broadcast", 0, func(nc net.Conn) {
			for t0 := time.Now(); attempts.Load() < int64(n+1) && time.Since(t0) < 5*time.Second; {
				time.Sleep(10 * time.Millisecond)
			}
			// 100 messages a second: under the message rate, so the
			// sender is never closed and the fan-out is the attack.
			msg := maskedFrame(0x82, make([]byte, 60000), 60000)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := nc.Write(msg); err != nil {
					return
				}
			}
		}, false)
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go attacker(i, "/broadcast", 4<<10, func(net.Conn) { <-stop }, true)
		}
	case "conns":
		for i := 0; i < n; i++ {
			wg.Add(1)
			attacker(i, "/v1/ws", 0, nil, false)
		}
	case "room-flood", "channel-squat", "oversized", "chat-nonreaders", "contact-flood", "dm-flood", "offline-dm", "reconnect-loop", "join-churn":
		plan := costliestRoom(roomBudget)
		if name == "room-flood" {
			asked = "each asked for " + plan.String() + "; "
		}
		rcvbuf := 0
		if name == "chat-nonreaders" {
			rcvbuf = 4 << 10
		}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tok, err := login(httpURL, "attacker-"+strconv.Itoa(i))
				if err != nil {
					t.add("login failed")
					return
				}
				if name == "reconnect-loop" {
					reconnectLoop(wsAddr, tok, dialing, &t, stop)
					return
				}
				// The offline DMs go to a guest that exists (logged in
				// once, so the store has its account) and never connects;
				// dm-flood's to the bystander.
				to := victim
				if name == "offline-dm" {
					if _, to, err = loginUser(httpURL, "offline-"+strconv.Itoa(i)); err != nil || to == "" {
						t.add("login failed")
						return
					}
				}
				dialing <- struct{}{}
				nc, br, err := dialRaw(wsAddr, "/v1/ws?token="+tok, rcvbuf)
				<-dialing
				if err != nil {
					t.add("dial: " + err.Error())
					return
				}
				conns.Store(nc, true)
				t.add("upgraded")
				if name == "join-churn" {
					joinChurn(&hubConn{nc: nc, br: br}, room, &t, stop)
					return
				}
				hubAttack(name, i, &hubConn{nc: nc, br: br}, plan, to, &t, stop)
			}(i)
		}
	case "none":
		return "no attack"
	case "http-hold":
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				httpHold(i, httpURL, &t, stop)
			}(i)
		}
		go func() {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Second):
			}
			t.add(timedLogin(httpURL))
		}()
	case "login-flood":
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				loginFlood(i, httpURL, &t, stop)
			}(i)
		}
	default:
		return "unknown attack " + name
	}
	started := time.Now()
	<-stop
	if name == "join-churn" {
		secs := time.Since(started).Seconds()
		asked = fmt.Sprintf("joins served %.1f a second, refused RATE_LIMITED %.1f a second; ",
			float64(t.get("joined"))/secs, float64(t.get("error RATE_LIMITED"))/secs)
	}
	// Give the readers a moment to see how the server ends each
	// connection, then hang up on the rest.
	conns.Range(func(k, _ any) bool { _ = k.(net.Conn).SetReadDeadline(time.Now().Add(3 * time.Second)); return true })
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	wg.Wait()
	return asked + t.String()
}
