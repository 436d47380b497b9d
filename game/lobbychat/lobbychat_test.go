package lobbychat_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/game/lobbychat"
)

func TestChat(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{lobbychat.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "lobbychat"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gametest.NewClient("a"), gametest.NewClient("b")
	sa := e.Join(t, r, game.JoinRequest{UserID: "alice", Client: a}).Seat
	e.Join(t, r, game.JoinRequest{UserID: "bob", Client: b})
	tests := []struct {
		name     string
		text     []byte
		toAll    bool
		wantCode uint32
	}{
		{"line", []byte("hello, lobby"), true, lobbychat.ChatCode},
		{"empty", []byte{}, false, lobbychat.ErrorCode},
		{"not utf-8", []byte{0xff, 0xfe}, false, lobbychat.ErrorCode},
		{"too long", make([]byte, lobbychat.MaxText+1), false, lobbychat.ErrorCode},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.Input(sa, uint32(i+1), tc.text); err != nil {
				t.Fatal(err)
			}
			e.Advance(t, time.Second/lobbychat.InputRate) // within the seat's rate
			ma, mb := a.TakeMessages(), b.TakeMessages()
			if len(ma) != 1 || ma[0].Code != tc.wantCode {
				t.Fatalf("sender got %v", ma)
			}
			if tc.toAll != (len(mb) == 1) {
				t.Fatalf("other got %v", mb)
			}
			if tc.toAll && (mb[0].Text != string(tc.text) || string(mb[0].Data) != "alice") {
				t.Fatalf("other got %v", mb[0])
			}
		})
	}
}
