package tickroom_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// publicRaceRoom has a new player create a public race room, which stays
// open while the player is in it, and returns its id.
func publicRaceRoom(t *testing.T, srv *tickroom.Server) string {
	t.Helper()
	j := dial(t, srv, "host").Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined()
	if j == nil {
		t.Fatal("create refused")
	}
	return j.RoomId
}

// openFeeds opens n feeds of room from this (loopback) address, each
// kept open after its first state, and returns how many streamed before
// the first refusal, with that refusal's status and text.
func openFeeds(t *testing.T, srv *tickroom.Server, room string, n int) (opened, status int, refusal string) {
	t.Helper()
	url := "http://" + srv.HTTPAddr().String() + "/v1/rooms/" + room + "/events"
	for opened < n {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return opened, resp.StatusCode, strings.TrimSpace(string(b))
		}
		t.Cleanup(func() { resp.Body.Close() })
		opened++
	}
	return opened, http.StatusOK, ""
}

// TestSpectatorOpenRateFollowsThePerAddressCap: an operator whose viewers
// share one address (a NAT, a venue's network) raises
// MaxSpectatorStreamsPerIP; the streams that address opens at once were
// still held to 16 and then 1 a second, a bound with no option of its
// own, so with a cap of 40 the 17th viewer was refused and the 40th let
// in half a minute later. The burst now grows with the cap (4 streams
// opened for each it holds), and SpectatorOpenRate and
// SpectatorOpenBurst set it.
func TestSpectatorOpenRateFollowsThePerAddressCap(t *testing.T) {
	t.Parallel()
	t.Run("raised cap", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, MaxSpectatorStreamsPerIP: 40})
		room := publicRaceRoom(t, srv)
		if opened, status, refusal := openFeeds(t, srv, room, 40); opened < 40 {
			t.Fatalf("a cap of 40 streams per address: %d viewers of one address let in, then %d (%s)", opened, status, refusal)
		}
		// The cap itself still holds.
		if _, status, refusal := openFeeds(t, srv, room, 1); status != http.StatusTooManyRequests || !strings.Contains(refusal, "too many open streams") {
			t.Fatalf("stream 41 of an address capped at 40: %d (%s), want 429 for too many open streams", status, refusal)
		}
	})
	t.Run("set", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, SpectatorOpenBurst: 2})
		room := publicRaceRoom(t, srv)
		if opened, status, refusal := openFeeds(t, srv, room, 3); opened != 2 || status != http.StatusTooManyRequests || !strings.Contains(refusal, "opened too fast") {
			t.Fatalf("SpectatorOpenBurst 2: %d streams opened, then %d (%s); want 2, then 429 for streams opened too fast", opened, status, refusal)
		}
	})
}
