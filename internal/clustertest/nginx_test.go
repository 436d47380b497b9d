package clustertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/freeport"
	"github.com/tickroom/tickroom/internal/nginxrun"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestNginxInFront runs Debian's nginx with deploy/nginx-cluster.conf in
// front of two nodes (TLS left out: deploy/nginx.conf's tests cover it):
// players log in and connect through nginx only, and a join of a room on
// the other node is redirected to that node's route on nginx and joins
// there.
func TestNginxInFront(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("NGINX_PATH")
	if bin == "" {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run scripts/install-nginx.sh (make nginx)", bin)
	}
	// nginx's port stays held while the cluster starts: a port picked and
	// let go at once could be picked again by PostgreSQL's or Redis's
	// start, and nginx would then fail to bind it.
	// Below the ephemeral range (internal/freeport), so no connection the
	// cluster opens meanwhile takes it once it is let go.
	hold := freeport.Listen(t)
	front := hold.Addr().String()
	c := Start(t, Config{Nodes: 2, NodeArgs: func(id string) []string {
		return []string{"-public-ws-url", "/v1/ws", "-node-ws-url", "ws://" + front + "/nodes/" + id + "/v1/ws"}
	}})
	n := c.Nodes()
	hold.Close()
	startNginx(t, bin, front, n[0], n[1])

	login := func(name string) string {
		resp, err := http.Post("http://"+front+"/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
			t.Fatalf("login through nginx: HTTP %d, %v", resp.StatusCode, err)
		}
		return out.Token
	}
	dial := func(name string) *testclient.Client {
		cl, resp, err := testclient.Dial(t, "ws://"+front+"/v1/ws", login(name), testclient.Options{Label: name})
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Fatalf("%s connecting through nginx: %v (HTTP %d)", name, err, status)
		}
		cl.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return cl
	}
	alice := dial("alice")
	joined := alice.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}}).GetJoined()
	if joined == nil {
		t.Fatal("alice could not create a room")
	}
	// nginx sends a first connection to the node with the fewest
	// (least_conn): bob lands on the node alice is not on.
	bob := dial("bob")
	bob, reply, hops := bob.Follow(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: joined.RoomId}}})
	if len(hops) != 1 || !regexp.MustCompile(`^ws://`+regexp.QuoteMeta(front)+`/nodes/n[12]/v1/ws$`).MatchString(hops[0].Url) {
		t.Fatalf("redirects %v; want one, to a node's route on nginx", hops)
	}
	if j := reply.GetJoined(); j == nil || j.RoomId != joined.RoomId {
		t.Fatalf("bob's join after the redirect: %v", reply)
	}
	// The match starts for both, through nginx.
	for _, cl := range []*testclient.Client{alice, bob} {
		cl.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
		})
	}
}

// startNginx runs nginx on front with deploy/nginx-cluster.conf, its first
// example node replaced by a, the others by b, and plain HTTP in place of
// TLS. It is stopped in t.Cleanup.
func startNginx(t *testing.T, bin, front string, a, b *Node) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/nginx-cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := string(raw)
	swap := func(from, to string) {
		if !strings.Contains(conf, from) {
			t.Fatalf("deploy/nginx-cluster.conf no longer has %q", from)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	swap("10.0.0.11:8080;", a.HTTP()+";")
	swap("10.0.0.11:8081;", a.WS()+";")
	for _, host := range []string{"10.0.0.12", "10.0.0.13"} {
		swap(host+":8080;", b.HTTP()+";")
		swap(host+":8081;", b.WS()+";")
	}
	swap("listen 443 ssl http2;", "listen "+front+";")
	swap("/var/log/nginx/access.log", filepath.Join(dir, "access.log"))
	conf = regexp.MustCompile(`(?m)^\s*(listen \[::\]|ssl_).*$`).ReplaceAllString(conf, "")
	ng, err := nginxrun.Start(bin, dir, conf, "access_log off;")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ng.Stop()
		if t.Failed() {
			t.Logf("nginx error log:\n%s", ng.ErrorLog())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", front, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s: %v", front, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
