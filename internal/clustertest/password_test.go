package clustertest

import (
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRoomPasswordGuessesWithAResumeTickAreBounded: past its wrong
// passwords (10, counted per user from loopback) a guesser is refused
// with RATE_LIMITED; a JoinRoom that also carries a resume_tick for a
// seat the user never held was let through, and in a cluster the room
// directory checks its password, so the guesses went on unbounded and the
// right one was answered with a Redirect into the room. It is refused
// too, whether the room runs on the guesser's node or another.
func TestRoomPasswordGuessesWithAResumeTickAreBounded(t *testing.T) {
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	keeper := connect(t, n1, "keeper")
	r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Password: "sesame"}}})
	locked := joined(t, "keeper", r).RoomId
	try := func(password string, resumeTick uint64) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: password, ResumeTick: resumeTick}}}
	}
	for _, n := range []*Node{n1, n2} {
		p := connect(t, n, "guesser-"+n.ID)
		for i := range 10 {
			if r := p.c.Request(try("guess", 0)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
				t.Fatalf("through %s, guess %d: %v, want WRONG_PASSWORD", n.ID, i+1, r)
			}
		}
		if r := p.c.Request(try("guess", 0)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			t.Fatalf("through %s, 11th guess: %v, want RATE_LIMITED", n.ID, r)
		}
		for _, pw := range []string{"guess", "sesame"} {
			if r := p.c.Request(try(pw, 1)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
				t.Fatalf("through %s, %q with a resume tick past the guesses: %v, want RATE_LIMITED", n.ID, pw, r)
			}
		}
	}
}
