package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		ws, http string
		ok       bool
	}{
		{"127.0.0.1:8081", "http://127.0.0.1:8080", true},
		{"127.0.0.9:1", "http://[::1]:8080", true},
		{"10.0.0.1:8081", "http://127.0.0.1:8080", false},
		{"127.0.0.1:8081", "http://192.168.1.2:8080", false},
		{"example.org:80", "http://127.0.0.1:8080", false},
		{"127.0.0.1", "http://127.0.0.1:8080", false},
	} {
		if err := loopbackOnly(tc.ws, tc.http); (err == nil) != tc.ok {
			t.Errorf("loopbackOnly(%q, %q) = %v, want ok=%v", tc.ws, tc.http, err, tc.ok)
		}
	}
}

func TestCostliestRoomFitsTheBudget(t *testing.T) {
	for _, budget := range []int{1, 4, 32, 128, 305, 1000} {
		p := costliestRoom(budget)
		got := arena.Cost(game.Setup{TickRate: p.tickRate, MaxPlayers: p.maxPlayers, Options: p.options})
		if got != p.cost || got > budget {
			t.Errorf("budget %d: %v, priced %d by the server", budget, p, got)
		}
		// A budget of 32 units or more buys a 120 Hz room of 32 seats
		// with entities to fill the rest; the largest room costs 305.
		if budget >= 32 && (p.tickRate != game.MaxTickRate || p.maxPlayers != 32 || p.cost != min(budget, 305)) {
			t.Errorf("budget %d: %v, want 120 Hz, 32 seats, %d units", budget, p, min(budget, 305))
		}
	}
}

func TestIsState(t *testing.T) {
	for _, tc := range []struct {
		m    *tickroomv1.ServerMessage
		want bool
	}{
		{&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_State{State: &tickroomv1.State{Tick: 7}}}, true},
		{&tickroomv1.ServerMessage{RequestId: 3, Body: &tickroomv1.ServerMessage_Error{Error: &tickroomv1.Error{Code: tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT}}}, false},
		{&tickroomv1.ServerMessage{RequestId: 1, Body: &tickroomv1.ServerMessage_Joined{Joined: &tickroomv1.Joined{RoomId: "r"}}}, false},
	} {
		p, _ := tc.m.MarshalVT()
		if got := isState(p); got != tc.want {
			t.Errorf("isState(%v) = %v", tc.m, got)
		}
	}
}

func TestContactRequestsTakeTurnsWithMadeUpIDs(t *testing.T) {
	seen := map[string]bool{}
	for n := range 8 {
		m := contactRequest(n)
		var kind, user string
		switch {
		case m.GetAddFriend() != nil:
			kind, user = "add", m.GetAddFriend().UserId
			if m.GetAddFriend().Remove {
				kind = "remove"
			}
		case m.GetBlockUser() != nil:
			kind, user = "block", m.GetBlockUser().UserId
			if m.GetBlockUser().Unblock {
				kind = "unblock"
			}
		}
		if want := []string{"remove", "unblock", "add", "block"}[n%4]; kind != want {
			t.Errorf("request %d is %q, want %q", n, kind, want)
		}
		if m.RequestId != uint32(n+1) || user == "" || len(user) > 128 || seen[user] {
			t.Errorf("request %d: id %d, user %q (at most 128 bytes, new each time)", n, m.RequestId, user)
		}
		seen[user] = true
	}
}

// A misspelt attack used to run all three phases with no attack and exit
// 0, its report reading like the attack's.
func TestCheckArgs(t *testing.T) {
	for _, a := range []string{"ping-flood", "slow-drip", "nonreaders", "conns", "room-flood", "channel-squat", "oversized",
		"login-flood", "chat-nonreaders", "http-hold", "contact-flood", "dm-flood", "offline-dm", "reconnect-loop", "join-churn", "none"} {
		if err := checkArgs(a, 200, 10*time.Second, 32); err != nil {
			t.Errorf("attack %s: %v", a, err)
		}
	}
	for _, tc := range []struct {
		attack            string
		attackers, budget int
		phase             time.Duration
	}{
		{"ping-food", 200, 32, 10 * time.Second},
		{"", 200, 32, 10 * time.Second},
		{"none", 2001, 32, 10 * time.Second},
		{"none", 0, 32, 10 * time.Second},
		{"none", 200, 32, 61 * time.Second},
		{"none", 200, 32, 0},
		{"none", 200, 0, 10 * time.Second},
	} {
		if err := checkArgs(tc.attack, tc.attackers, tc.phase, tc.budget); err == nil {
			t.Errorf("checkArgs(%+v) accepted", tc)
		}
	}
}

// TestPercentileRank: a phase's p-th percentile is the nearest-rank
// value, the smallest with at least p % of the samples at or below it
// (rank ⌈p·n/100⌉), as tickroom-bots takes its percentiles. Before, it
// took rank ⌊p·n/100⌋ + 1: with the ~100 pings of a 10 s phase the p99
// was the phase's slowest ping, however alone.
func TestPercentileRank(t *testing.T) {
	for _, tc := range []struct {
		n, slow, p int
		want       time.Duration
	}{
		{1, 1, 99, 100},
		{2, 1, 50, 10},
		{100, 1, 99, 10},
		{100, 2, 99, 100},
		{99, 1, 99, 100},
		{200, 2, 99, 10},
		{200, 3, 99, 100},
		{10, 5, 50, 10},
		{10, 6, 50, 100},
	} {
		ds := make([]time.Duration, tc.n)
		for i := range ds {
			ds[i] = 10
			if i < tc.slow {
				ds[i] = 100 // first, so the order is pct's to sort
			}
		}
		if got := pct(ds, tc.p); got != tc.want {
			t.Errorf("%d samples, %d of them 100, the rest 10: p%d = %d, want %d", tc.n, tc.slow, tc.p, got, tc.want)
		}
	}
	if got := pct(nil, 99); got != 0 {
		t.Errorf("p99 of no samples = %d, want 0", got)
	}
}

// TestTableSaysWhenAPhaseHasNoSamples: a phase in which no pong (or no
// ack) came back has no percentile; its columns read n/a, and the counts
// say how many samples each percentile is over. Before, such a phase read
// 0.00 ms, a perfect ping.
func TestTableSaysWhenAPhaseHasNoSamples(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	var out bytes.Buffer
	writeTable(&out, []phaseStats{
		{name: "before", ack: ms(10, 20), ping: ms(1, 2, 3), bystanderAlive: true},
		{name: "during", ack: ms(30), bystanderAlive: false},
		{name: "after", bystanderAlive: false},
	}, "EOF")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rows:\n%s", out.String())
	}
	cols := func(l string) []string { return strings.Fields(l) }
	header := strings.Join(cols(lines[0]), " ")
	if !strings.Contains(header, "acks pings") {
		t.Errorf("header %q; want acks and pings counted", header)
	}
	// phase RSS CPU ackp50 ackp99 pingp50 pingp99 acks pings bystander…
	for i, want := range [][]string{
		{"before", "0.0", "0.0", "10.00", "20.00", "2.00", "3.00", "2", "3", "playing"},
		{"during", "0.0", "0.0", "30.00", "30.00", "n/a", "n/a", "1", "0", "dropped:", "EOF"},
		{"after", "0.0", "0.0", "n/a", "n/a", "n/a", "n/a", "0", "0", "dropped:", "EOF"},
	} {
		if got := cols(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row %q; want %q", lines[i+1], strings.Join(want, " "))
		}
	}
}
