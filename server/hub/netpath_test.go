package hub_test

import (
	"testing"

	"github.com/tickroom/tickroom/internal/netpath"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// netPath is a bad network between test clients and a server
// (internal/netpath): each direction can be delayed, throttled or
// stalled.
type netPath struct{ *netpath.Path }

// startNetPath listens on loopback and relays each connection to target.
func startNetPath(t *testing.T, target string) *netPath {
	t.Helper()
	p, err := netpath.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &netPath{p}
}

// url is the WebSocket URL of path (hub.Path) through the relay.
func (p *netPath) url(path string) string { return "ws://" + p.Addr() + path }

// connect logs in with tok through the path and reads the Welcome.
func (p *netPath) connect(t *testing.T, tok string) *client {
	t.Helper()
	c, _, err := dial(t, p.url(hub.Path), tok)
	if err != nil {
		t.Fatal(err)
	}
	c.Next(isKind[*tickroomv1.ServerMessage_Welcome])
	return c
}
