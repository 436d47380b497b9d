package admin_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/tickroom/tickroom/game"
)

// BenchmarkMetrics measures one /metrics scrape of a server running 200
// rooms, served in-process (no network).
func BenchmarkMetrics(b *testing.B) {
	e := start(b, adminToken)
	for i := range 200 {
		if _, err := e.hub.Runtime().CreateRoom(game.RoomOptions{Game: "count", Metadata: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	h := e.admin.Config.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
}
