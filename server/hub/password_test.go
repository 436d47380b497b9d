package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
)

func joinWith(roomID, password string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: roomID, Password: password}}}
}

// TestRoomPasswordGuessingIsBounded: a guest could try a listed room's
// password at its message rate, from every address it had. Now an
// address gets WrongPasswordBurst (10) wrong passwords, then one every
// two seconds: past them a join with a password, the right one too, is
// RATE_LIMITED with a retry hint, for every guest of that address, while
// another address still joins; once the hint has passed the right
// password gets in.
func TestRoomPasswordGuessingIsBounded(t *testing.T) {
	e := start(t, options{server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") }})
	owner := e.connectFrom("owner", "198.51.100.1")
	room := joined(t, owner.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally", Password: "secret", Spectate: true}))).RoomId

	guesser := e.connectFrom("guesser", "203.0.113.7")
	for i := range 10 {
		if code := errCode(t, guesser.Request(joinWith(room, "guess"+string(rune('a'+i))))); code != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
			t.Fatalf("guess %d: %v, want WRONG_PASSWORD", i+1, code)
		}
	}
	m := guesser.Request(joinWith(room, "secret"))
	if e := m.GetError(); e == nil || e.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || e.RetryAfterMs == 0 || e.RetryAfterMs > 2000 {
		t.Fatalf("11th try, the right password: %v, want RATE_LIMITED with a retry hint of at most 2 s", m)
	}
	// Another guest of the same address is held too; another address is not.
	mate := e.connectFrom("mate", "203.0.113.7")
	if code := errCode(t, mate.Request(joinWith(room, "secret"))); code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("same address, another guest: %v, want RATE_LIMITED", code)
	}
	friend := e.connectFrom("friend", "192.0.2.9")
	joined(t, friend.Request(joinWith(room, "secret")))

	wait := time.Duration(m.GetError().RetryAfterMs) * time.Millisecond
	time.Sleep(wait + 50*time.Millisecond)
	joined(t, guesser.Request(joinWith(room, "secret")))
}

// TestRoomPasswordGuessesOfAProxyAreCountedPerUser: clients behind a
// proxy on the same host (loopback, no trusted proxies) share one
// address, so there the wrong guesses are counted per user: one guesser
// does not keep the others out.
func TestRoomPasswordGuessesOfAProxyAreCountedPerUser(t *testing.T) {
	e := start(t, options{})
	owner, _ := e.connect("owner")
	room := joined(t, owner.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally", Password: "secret", Spectate: true}))).RoomId
	guesser, _ := e.connect("guesser")
	for range 10 {
		if code := errCode(t, guesser.Request(joinWith(room, "nope"))); code != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
			t.Fatalf("guess: %v", code)
		}
	}
	if code := errCode(t, guesser.Request(joinWith(room, "nope"))); code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("11th guess: %v, want RATE_LIMITED", code)
	}
	other, _ := e.connect("other")
	joined(t, other.Request(joinWith(room, "secret")))
}
