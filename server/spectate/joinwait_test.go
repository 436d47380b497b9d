package spectate_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server/spectate"
)

// TestStreamWaitingForItsRoomEndsWithItsClientOrClose: a stream whose room
// has not taken it yet (its tick worker busy or stuck) waited out
// Config.JoinTimeout whatever happened meanwhile: a viewer gone held its
// slot of the per-address and server-wide caps, and Close, which a
// server's shutdown waits on, waited too. The wait now ends with the
// client, and with Close (503).
func TestStreamWaitingForItsRoomEndsWithItsClientOrClose(t *testing.T) {
	e := start(t, spectate.Config{JoinTimeout: time.Hour})
	room, dial := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "hold": t.Name()}})
	e.member("ann", room.ID()) // the room runs its game while someone sits in it
	h := holdRoom(t, t.Name())
	dial.Store(1)
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the room's tick worker did not reach the hold")
	}
	url := e.http.URL + "/v1/rooms/" + room.ID() + "/events"
	ask := func(ctx context.Context) <-chan int {
		status := make(chan int, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				status <- 0
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		return status
	}

	ctx, cancel := context.WithCancel(t.Context())
	ask(ctx)
	waitFor(t, func() bool { return e.feeds.Open() == 1 && room.Info().Observers == 1 })
	cancel() // the viewer goes away while its stream waits for the room
	for deadline := time.Now().Add(10 * time.Second); e.feeds.Open() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a stream whose viewer went away while it waited for its room still open 10 s later (%d open)", e.feeds.Open())
		}
	}

	answer := ask(t.Context())
	waitFor(t, func() bool { return e.feeds.Open() == 1 })
	closeCtx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := e.feeds.Close(closeCtx); err != nil {
		t.Fatalf("Close with a stream waiting for its room: %v", err)
	}
	if code := <-answer; code != http.StatusServiceUnavailable {
		t.Fatalf("the waiting stream was answered %d, want 503", code)
	}
}
