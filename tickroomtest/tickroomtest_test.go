package tickroomtest_test

import (
	"context"
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/tickroomtest"
)

// A match still running when a test ends is closed by Start's cleanup, and
// its result (Reason "closed") is queued for the store as the server shuts
// down: the cleanup gives Shutdown the time to write it, as a SIGTERM's
// does, where it shut down with the test's context, already cancelled
// when cleanups run, and closed the store with the result unwritten.
func TestCleanupWritesTheResultOfAMatchStillRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := tickroom.Options{Games: []game.Definition{gomoku.Definition()}, DataDir: dir}
	var ann string
	t.Run("play", func(t *testing.T) {
		srv := tickroomtest.Start(t, opts)
		a, b := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
		a.QuickMatch("gomoku", nil)
		b.QuickMatch("gomoku", nil)
		a.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
		})
		ann = a.UserID
	})
	srv := tickroomtest.Start(t, opts) // the same data directory
	hist, err := srv.Store().History(context.Background(), ann, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Outcome != "closed" || len(hist[0].Players) != 2 {
		t.Fatalf("ann's history after the test's cleanup: %+v, want the match closed by the shutdown", hist)
	}
}
