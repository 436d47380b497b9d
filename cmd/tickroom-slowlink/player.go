package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// insecure trusts nginx's self-signed certificate: everything is on
// loopback.
var insecure = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback, self-signed

// player is one tickroom.v1 connection that plays the bulk room and keeps
// when each state arrived.
type player struct {
	ws   *websocket.Conn
	room string

	mu     sync.Mutex
	latest uint64               // the newest state's tick
	states int                  // states read
	at     map[uint64]time.Time // when each tick's state arrived (the reference player only)
	ages   []time.Duration      // how late each state came after the reference's (the slow player only)
	err    error
}

// login gets a guest session token from base (http:// or https://).
func login(base, name string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
	resp, err := c.Post(base+"/v1/login", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var l struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Token == "" {
		return "", fmt.Errorf("login %s at %s: HTTP %d", name, base, resp.StatusCode)
	}
	return l.Token, nil
}

// join logs name in at loginURL, connects to wsURL and quick-matches the
// bulk game.
func join(loginURL, wsURL, name string, keepTimes bool) (*player, error) {
	tok, err := login(loginURL, name)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 5 * time.Second, TLSClientConfig: insecure}
	ws, _, err := d.Dial(wsURL+"?token="+tok, nil)
	if err != nil {
		return nil, fmt.Errorf("%s connecting to %s: %w", name, wsURL, err)
	}
	p := &player{ws: ws}
	if keepTimes {
		p.at = map[uint64]time.Time{}
	}
	p.send(&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "bulk"}}})
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			_ = ws.Close()
			return nil, fmt.Errorf("%s waiting to join: %w", name, err)
		}
		m := new(tickroomv1.ServerMessage)
		if m.UnmarshalVT(b) == nil && m.RequestId == 1 {
			j := m.GetJoined()
			if j == nil {
				_ = ws.Close()
				return nil, fmt.Errorf("%s quick-match: %v", name, m)
			}
			p.room = j.RoomId
			_ = ws.SetReadDeadline(time.Time{})
			return p, nil
		}
	}
}

func (p *player) send(m *tickroomv1.ClientMessage) {
	b, _ := m.MarshalVT()
	_ = p.ws.WriteMessage(websocket.BinaryMessage, b)
}

// play reads until the connection ends, timing each state against ref's
// (nil for the reference itself), and pings every 5 s so the server does
// not close the connection as silent (its uplink is not throttled).
func (p *player) play(ref *player) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.send(&tickroomv1.ClientMessage{RequestId: 2, Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
			}
		}
	}()
	for {
		_, b, err := p.ws.ReadMessage()
		now := time.Now()
		if err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		m := new(tickroomv1.ServerMessage)
		if m.UnmarshalVT(b) != nil || m.GetState() == nil {
			continue
		}
		tick := m.GetState().Tick
		var age time.Duration
		aged := false
		if ref != nil {
			ref.mu.Lock()
			if at, ok := ref.at[tick]; ok {
				age, aged = now.Sub(at), true
			}
			ref.mu.Unlock()
		}
		p.mu.Lock()
		p.latest = max(p.latest, tick)
		p.states++
		if p.at != nil {
			p.at[tick] = now
		}
		if aged {
			p.ages = append(p.ages, age)
		}
		p.mu.Unlock()
	}
}

// sample is what a player has read so far.
type sample struct {
	latest uint64
	states int
	ages   []time.Duration // since the last sample
	err    error
}

func (p *player) sample() sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := sample{latest: p.latest, states: p.states, ages: p.ages, err: p.err}
	p.ages = nil
	return s
}

// localPort is the player's end of its TCP connection.
func (p *player) localPort() int {
	return p.ws.NetConn().LocalAddr().(*net.TCPAddr).Port
}
