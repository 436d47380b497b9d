package hub_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// newDeps returns what hub.New needs besides its limits: a token
// authority and a transport, not started.
func newDeps(t *testing.T) (*auth.Authority, *server.Server) {
	t.Helper()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	return a, srv
}

// TestNewRefusesNegativeLimits: a negative limit of the hub, of its
// social layer or of its runtime is an error naming the field, never a
// silent default; zero values are the defaults.
func TestNewRefusesNegativeLimits(t *testing.T) {
	a, srv := newDeps(t)
	for _, tc := range []struct {
		field string
		cfg   hub.Config
		want  error
	}{
		{"HeartbeatInterval", hub.Config{HeartbeatInterval: -time.Second}, hub.ErrConfig},
		{"MaxRoomsPerUser", hub.Config{MaxRoomsPerUser: -1}, hub.ErrConfig},
		{"MaxRooms", hub.Config{MaxRooms: -1}, hub.ErrConfig},
		{"RoomCreateRate", hub.Config{RoomCreateRate: -1}, hub.ErrConfig},
		{"RoomCreateBurst", hub.Config{RoomCreateBurst: -1}, hub.ErrConfig},
		{"MaxRoomCostPerUser", hub.Config{MaxRoomCostPerUser: -1}, hub.ErrConfig},
		{"JoinRate", hub.Config{JoinRate: -1}, hub.ErrConfig},
		{"JoinBurst", hub.Config{JoinBurst: -1}, hub.ErrConfig},
		{"IPQuotaFactor", hub.Config{IPQuotaFactor: -1}, hub.ErrConfig},
		{"CreatorGoneTimeout", hub.Config{CreatorGoneTimeout: -time.Second}, hub.ErrConfig},
		{"ListLimit", hub.Config{ListLimit: -1}, hub.ErrConfig},
		{"KickDuration", hub.Config{KickDuration: -time.Minute}, hub.ErrConfig},
		{"MaxTextBytes", hub.Config{Social: hub.SocialConfig{MaxTextBytes: -1}}, social.ErrConfig},
		{"HistoryLines", hub.Config{Social: hub.SocialConfig{HistoryLines: -1}}, social.ErrConfig},
		{"ChatRate", hub.Config{Social: hub.SocialConfig{ChatRate: -0.5}}, social.ErrConfig},
		{"ChatBurst", hub.Config{Social: hub.SocialConfig{ChatBurst: -1}}, social.ErrConfig},
		{"MaxChannels", hub.Config{Social: hub.SocialConfig{MaxChannels: -1}}, social.ErrConfig},
		{"MaxChannelsPerUser", hub.Config{Social: hub.SocialConfig{MaxChannelsPerUser: -1}}, social.ErrConfig},
		{"MaxChannelsPerAddress", hub.Config{Social: hub.SocialConfig{MaxChannelsPerAddress: -1}}, social.ErrConfig},
		{"MaxListSize", hub.Config{Social: hub.SocialConfig{MaxListSize: -1}}, social.ErrConfig},
		{"MaxPresenceQuery", hub.Config{Social: hub.SocialConfig{MaxPresenceQuery: -1}}, social.ErrConfig},
		{"PresenceRate", hub.Config{Social: hub.SocialConfig{PresenceRate: -1}}, social.ErrConfig},
		{"PresenceBurst", hub.Config{Social: hub.SocialConfig{PresenceBurst: -1}}, social.ErrConfig},
		{"MaxPresenceAwaiting", hub.Config{Social: hub.SocialConfig{MaxPresenceAwaiting: -1}}, social.ErrConfig},
		{"DropGrace", hub.Config{Runtime: game.Config{DropGrace: -3 * time.Second}}, game.ErrInvalidOptions},
	} {
		t.Run(tc.field, func(t *testing.T) {
			tc.cfg.Server, tc.cfg.Auth = srv, a
			_, err := hub.New(tc.cfg)
			if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "hub: ") || !strings.Contains(err.Error(), tc.field+" is negative") {
				t.Fatalf("New with negative %s: %v, want %v naming it", tc.field, err, tc.want)
			}
		})
	}
	if _, err := hub.New(hub.Config{Server: srv, Auth: a}); err != nil {
		t.Fatalf("New with zero values: %v", err)
	}
}
