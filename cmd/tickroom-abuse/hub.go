package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"google.golang.org/protobuf/encoding/protowire"
)

// The attacks on the session protocol (tickroom.v1 on /v1/ws) and on the
// login endpoint.

// hubConn is an attacker's tickroom.v1 connection.
type hubConn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	buf []byte // read buffer, reused
}

// send writes m as one masked binary frame.
func (h *hubConn) send(m *tickroomv1.ClientMessage) error {
	p, _ := m.MarshalVT()
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_, err := h.nc.Write(maskedFrame(0x82, p, len(p)))
	return err
}

// read returns the next server message, or the close code (or "eof",
// "reset", "still open") once the connection ends.
func (h *hubConn) read() (*tickroomv1.ServerMessage, string) {
	for {
		var hd [2]byte
		if _, err := io.ReadFull(h.br, hd[:]); err != nil {
			return nil, endOf(err)
		}
		n := int64(hd[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(h.br, l[:]); err != nil {
				return nil, endOf(err)
			}
			n = int64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(h.br, l[:]); err != nil {
				return nil, endOf(err)
			}
			n = int64(binary.BigEndian.Uint64(l[:]))
		}
		if n > 1<<20 {
			return nil, "frame too large"
		}
		if int64(cap(h.buf)) < n {
			h.buf = make([]byte, n)
		}
		p := h.buf[:n]
		if _, err := io.ReadFull(h.br, p); err != nil {
			return nil, endOf(err)
		}
		switch hd[0] & 0x0f {
		case 0x8:
			if len(p) >= 2 {
				return nil, "close " + strconv.Itoa(int(binary.BigEndian.Uint16(p)))
			}
			return nil, "close"
		case 0x2:
			if isState(p) {
				// Read, not decoded: the attackers' own CPU would
				// otherwise slow the bystander that shares their
				// process and core.
				continue
			}
			m := new(tickroomv1.ServerMessage)
			if m.UnmarshalVT(p) == nil {
				return m, ""
			}
		}
	}
}

// isState reports whether p, a ServerMessage, carries a State (field 2).
func isState(p []byte) bool {
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return false
		}
		if num == 2 && typ == protowire.BytesType {
			return true
		}
		p = p[n:]
		if n = protowire.ConsumeFieldValue(num, typ, p); n < 0 {
			return false
		}
		p = p[n:]
	}
	return false
}

// endOf names how a read ended.
func endOf(err error) string {
	var ne net.Error
	switch {
	case err == io.EOF:
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "still open"
	case errors.Is(err, net.ErrClosed):
		// The attacker hung up while the server was still answering
		// what it had sent.
		return "still answering at hang-up"
	}
	return "reset"
}

// kind names a server message for the tally: "joined", "error RATE_LIMITED".
func kind(m *tickroomv1.ServerMessage) string {
	if e := m.GetError(); e != nil {
		return "error " + strings.TrimPrefix(e.Code.String(), "ERROR_CODE_")
	}
	switch {
	case m.GetJoined() != nil:
		return "joined"
	case m.GetLeft() != nil:
		return "left"
	case m.GetChatHistory() != nil:
		return "channel joined"
	case m.GetOk() != nil:
		return "ok"
	}
	return ""
}

// roomPlan is the room the room flood asks for: the costliest arena room
// one user's room budget allows.
type roomPlan struct {
	tickRate, maxPlayers int
	options              map[string]string
	cost                 int
}

// costliestRoom returns the costliest arena room whose cost (arena.Cost,
// the price the server charges) fits budget units: the highest tick rate
// and the most seats that fit, then as many pickups and walls as the rest
// of the budget buys, on the default map or on the largest one (2000 ×
// 2000, where each player gets its own view frame), whichever costs more.
// A room over the budget is refused before it runs, so this is the most
// work one user can make the server tick.
func costliestRoom(budget int) roomPlan {
	opts := func(large bool, walls, pickups int) map[string]string {
		o := map[string]string{"walls": strconv.Itoa(walls), "pickups": strconv.Itoa(pickups)}
		if large {
			o["width"], o["height"] = "2000", "2000"
		}
		return o
	}
	cost := func(rate, players int, o map[string]string) int {
		return arena.Cost(game.Setup{TickRate: rate, MaxPlayers: players, Options: o})
	}
	var best roomPlan
	for rate := game.MaxTickRate; rate >= game.MinTickRate && best.cost < budget; rate-- {
		for _, large := range []bool{false, true} {
			players := 32
			for players > 1 && cost(rate, players, opts(large, 0, 0)) > budget {
				players--
			}
			if cost(rate, players, opts(large, 0, 0)) > budget {
				continue
			}
			// As many pickups, then walls, as fit: each adds work.
			walls, pickups := 0, 0
			for pickups < 1000 && cost(rate, players, opts(large, walls, pickups+1)) <= budget {
				pickups++
			}
			for walls < 200 && cost(rate, players, opts(large, walls+1, pickups)) <= budget {
				walls++
			}
			o := opts(large, walls, pickups)
			if c := cost(rate, players, o); c > best.cost {
				best = roomPlan{tickRate: rate, maxPlayers: players, options: o, cost: c}
			}
		}
	}
	return best
}

// create asks for the planned room.
func (r roomPlan) create(id uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
		Game: "arena", TickRate: uint32(r.tickRate), MaxPlayers: uint32(r.maxPlayers), Options: r.options,
	}}}
}

func (r roomPlan) String() string {
	size := "40×30"
	if r.options["width"] != "" {
		size = r.options["width"] + "×" + r.options["height"]
	}
	return fmt.Sprintf("arena at %d Hz, %d seats, %s map, %s walls, %s pickups: %d units",
		r.tickRate, r.maxPlayers, size, r.options["walls"], r.options["pickups"], r.cost)
}

// oversized returns the i-th of the messages whose fields exceed their
// documented maxima, each close to the 64 KiB message limit.
func oversized(i int) *tickroomv1.ClientMessage {
	big := strings.Repeat("x", 60000)
	id := uint32(i)
	switch i % 5 {
	case 0:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: big}}}
	case 1:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: big}}}
	case 2:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: big}}}
	case 3:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
			Game: "arena", Options: map[string]string{"width": big[:20000], strings.Repeat("k", 20000): "1", "x": big[:19000]},
		}}}
	}
	return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: big}}}
}

// nobody returns a user id that names no user: a made-up one each time.
func nobody() string { return fmt.Sprintf("nobody-%016x", rand.Uint64()) }

// contactRequest returns the n-th request of the contact flood: in turn
// an AddFriend remove, a BlockUser unblock, an AddFriend and a BlockUser,
// each naming a user that exists nowhere. With a store the last two are
// checked against it (ERROR_CODE_USER_NOT_FOUND); the first two are
// answered Ok and write nothing once the sender's lists are loaded.
func contactRequest(n int) *tickroomv1.ClientMessage {
	id := uint32(n + 1)
	switch n % 4 {
	case 0:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: nobody(), Remove: true}}}
	case 1:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: nobody(), Unblock: true}}}
	case 2:
		return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: nobody()}}}
	}
	return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: nobody()}}}
}

// hubAttack runs the session-protocol attacks; each attacker logs in, is
// paced by every (under the message rate, so what is measured is the
// server's answer to the requests, not the rate limit), and tallies the
// replies and how its connection ended. offline is the user the offline
// DMs go to besides made-up ids.
func hubAttack(name string, i int, h *hubConn, plan roomPlan, to string, t *tally, stop <-chan struct{}) {
	every := func(d time.Duration, fn func(n int) error) {
		tick := time.NewTicker(d)
		defer tick.Stop()
		for n := 0; ; n++ {
			if err := fn(n); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}
	readAll := func(onMsg func(*tickroomv1.ServerMessage)) string {
		for {
			m, end := h.read()
			if m == nil {
				return end
			}
			if k := kind(m); k != "" {
				t.add(k)
			}
			if onMsg != nil {
				onMsg(m)
			}
		}
	}
	switch name {
	case "room-flood":
		// Create the costliest room the budget allows and play in it (an
		// input every 50 ms, reading every state frame, so the room does
		// all the work a player makes it do), while asking for another
		// such room every 50 ms: the budget refuses them while this one
		// lives.
		var room atomic.Pointer[string]
		go every(50*time.Millisecond, func(n int) error {
			if id := room.Load(); id != nil {
				in, _ := (&arenav1.Input{Dx: int32(n%3-1) * 1000, Dy: 1000}).MarshalVT()
				if err := h.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: *id, Seq: uint32(n + 1), Data: in}}}); err != nil {
					return err
				}
			}
			return h.send(plan.create(uint32(n + 1)))
		})
		t.add(readAll(func(m *tickroomv1.ServerMessage) {
			if j := m.GetJoined(); j != nil && room.Load() == nil {
				room.Store(&j.RoomId)
			}
		}))
	case "channel-squat":
		// Ask for 8 new lobby channels every second (as many as the
		// server lets one user hold, the first time), and stay.
		go every(time.Second, func(n int) error {
			for k := range 8 {
				ch := fmt.Sprintf("squat-%d-%d-%d", i, n, k)
				if err := h.send(&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: ch}}}); err != nil {
					return err
				}
			}
			return nil
		})
		t.add(readAll(nil))
	case "oversized":
		go every(20*time.Millisecond, func(n int) error { return h.send(oversized(n)) })
		t.add(readAll(nil))
	case "chat-nonreaders":
		// Join the lobby channel, chat in it at the chat rate, never read.
		if err := h.send(&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: "lobby"}}}); err != nil {
			return
		}
		line := strings.Repeat("spam ", 100)
		every(500*time.Millisecond, func(int) error {
			return h.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: line}}})
		})
		// Only now read, to see how the server ended the connection.
		_ = h.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		t.add(readAll(nil))
	case "contact-flood":
		// 50 requests a second, under the message rate (120/s) and far
		// over the contact rate (2/s, burst 20).
		go every(20*time.Millisecond, func(n int) error { return h.send(contactRequest(n)) })
		t.add(readAll(nil))
	case "dm-flood":
		// The chat burst at once, then 2.5 messages a second, a bit over
		// the chat rate, all to the bystander.
		id := uint32(0)
		go every(400*time.Millisecond, dmBurst(func() error {
			id++
			return h.send(directMessage(id, to))
		}))
		t.add(readAll(nil))
	case "offline-dm":
		// The chat burst at once, then 2.5 messages a second, a bit over
		// the chat rate: odd request ids to a made-up user, even ones to
		// the offline guest, whose inbox keeps its newest 100.
		offline := to
		to := func(id uint32) string {
			if id%2 == 1 {
				return nobody()
			}
			return offline
		}
		id := uint32(0)
		go every(400*time.Millisecond, dmBurst(func() error {
			id++
			return h.send(directMessage(id, to(id)))
		}))
		for {
			m, end := h.read()
			if m == nil {
				t.add(end)
				return
			}
			if k := kind(m); k != "" {
				who := "to offline guest: "
				if m.RequestId%2 == 1 {
					who = "to nobody: "
				}
				t.add(who + k)
			}
		}
	}
}

// joinChurn spectates room and leaves it, over and over, until stop
// closes: a JoinRoom (spectate) as soon as the Left of the last LeaveRoom
// came, a LeaveRoom as soon as the Joined came, a join refused asked
// again at once, and no more than one message every 10 ms (100 a second,
// under the message rate, so that the server's answer to the joins is
// what is measured). Each join served and each leave is a room event to
// every member of the room. It tallies the replies, the room events of
// other members it got while in the room, and how its connection ended.
func joinChurn(h *hubConn, room string, t *tally, stop <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// ask sends m once the pace allows and returns its reply, or nil once
	// the attack stops or the connection ends.
	ask := func(m *tickroomv1.ClientMessage) *tickroomv1.ServerMessage {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		if err := h.send(m); err != nil {
			return nil
		}
		for {
			r, end := h.read()
			if r == nil {
				t.add(end)
				return nil
			}
			if e := r.GetRoomEvent(); e != nil {
				t.add("room event to an attacker")
			}
			if r.RequestId == m.RequestId {
				if k := kind(r); k != "" {
					t.add(k)
				}
				return r
			}
		}
	}
	for id := uint32(1); ; id += 2 {
		r := ask(&tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}})
		if r == nil {
			return
		}
		if r.GetJoined() == nil {
			continue
		}
		if ask(&tickroomv1.ClientMessage{RequestId: id + 1, Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}) == nil {
			return
		}
	}
}

// loginFlood posts guest logins as fast as one client can from its own
// loopback address (127.0.1.x, so every attacker has its own share) until
// stop closes, and tallies the status codes.
func loginFlood(i int, httpURL string, t *tally, stop <-chan struct{}) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 1+byte(i/250), 1+byte(i%250))}
	d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:         func(ctx context.Context, nw, addr string) (net.Conn, error) { return d.DialContext(ctx, nw, addr) },
		MaxIdleConnsPerHost: 1,
	}}
	defer c.CloseIdleConnections()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := c.Post(httpURL+"/v1/login", "application/json", strings.NewReader(`{"name":"flood`+strconv.Itoa(n%100)+`"}`))
		if err != nil {
			t.add("login error")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.add("login " + strconv.Itoa(resp.StatusCode))
	}
}

// httpHold holds connections to the public HTTP port from one of four
// loopback addresses (127.0.2.1–4) until stop closes: it starts a login
// whose body never comes and, when the server answers or closes, starts
// another, tallying how each ended.
func httpHold(i int, httpURL string, t *tally, stop <-chan struct{}) {
	u, err := url.Parse(httpURL)
	if err != nil {
		t.add("bad url")
		return
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, 1+byte(i%4))}, Timeout: 5 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		nc, err := d.Dial("tcp", u.Host)
		if err != nil {
			t.add("dial error")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-stop:
				nc.Close()
			case <-done:
			}
		}()
		_, _ = io.WriteString(nc, "POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{")
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		switch {
		case err != nil:
			t.add("hold closed with no answer")
		default:
			resp.Body.Close()
			t.add("hold ended: HTTP " + strconv.Itoa(resp.StatusCode))
		}
		close(done)
		nc.Close()
		if err != nil || resp.StatusCode != http.StatusRequestTimeout {
			time.Sleep(time.Second) // refused: try again in a second
		}
	}
}

// timedLogin logs a guest in from a fifth address (127.0.3.1) and says
// how it went and how long it took.
func timedLogin(httpURL string) string {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, 1)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	defer c.CloseIdleConnections()
	t0 := time.Now()
	resp, err := c.Post(httpURL+"/v1/login", "application/json", strings.NewReader(`{"name":"bystander2"}`))
	if err != nil {
		return "login from another address during the hold: error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return fmt.Sprintf("login from another address during the hold: HTTP %d in %d ms", resp.StatusCode, time.Since(t0).Milliseconds())
}

// reconnectLoop opens a session with tok and closes it, back to back,
// until stop closes, tallying each upgrade and each refusal by status.
// dialing bounds the dials in flight across attackers.
func reconnectLoop(wsAddr, tok string, dialing chan struct{}, t *tally, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		dialing <- struct{}{}
		nc, _, err := dialRaw(wsAddr, "/v1/ws?token="+tok, 0)
		<-dialing
		if err != nil {
			if !strings.HasPrefix(err.Error(), "refused") {
				t.add("dial failed")
				time.Sleep(10 * time.Millisecond)
				continue
			}
			t.add(err.Error())
			continue
		}
		t.add("upgraded")
		nc.Close()
	}
}

// dmBurst paces dm for every: the chat burst (10) in its first round, one
// in each round after it.
func dmBurst(dm func() error) func(n int) error {
	return func(n int) error {
		burst := 1
		if n == 0 {
			burst = 10
		}
		for range burst {
			if err := dm(); err != nil {
				return err
			}
		}
		return nil
	}
}

// directMessage is a short direct message to user to, request id.
func directMessage(id uint32, to string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: to, Text: "are you there?"}}}
}
