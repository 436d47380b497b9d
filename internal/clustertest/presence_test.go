package clustertest

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// cutProxy stands between one node and Redis, so that a test can cut that
// node off while the other nodes still reach Redis: Cut closes every
// connection through it and closes those that come while it is cut, as a
// broken link does; Heal lets them through again.
type cutProxy struct {
	ln    net.Listener
	redis string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startCutProxy listens on a free loopback port and forwards to the
// cluster's Redis until t ends.
func startCutProxy(t *testing.T, c *Cluster) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, redis: c.Redis.Addr(), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// URL is the redis:// URL a node reaches Redis through.
func (p *cutProxy) URL() string { return "redis://" + p.ln.Addr().String() + "/0" }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.redis)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

// Cut closes every connection through the proxy and refuses new ones
// until Heal.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Heal lets connections through again.
func (p *cutProxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// TestPresenceMissedWhileANodeIsCutOffFromRedis: ann on n1 is a friend of
// bob and dave on n2; bob is online, dave in a room. One node is cut off
// from Redis (n1, ann's, whose subscription so misses the pushes n2
// publishes; or n2, whose pushes cannot be published) until its heartbeat
// fails, or Redis stops under both and starts again empty, and meanwhile
// bob closes his connection and dave leaves his room.
// Once the node reaches Redis again, ann must see bob offline and dave
// online. Before, n1 asked
// nothing again: cut off itself, ann saw bob online and dave in his room
// for good; with n2 cut off, n2 told ann of dave again (its users'
// presence) but not of bob, gone from it, whom ann saw online for good.
// Nor may ann be told dave is offline meanwhile: with Redis restarted
// empty, n1 asked again before n2 recorded its users again, found dave
// connected nowhere and told ann so, until n2 told her of him again.
func TestPresenceMissedWhileANodeIsCutOffFromRedis(t *testing.T) {
	t.Parallel()
	for _, cut := range []string{"n1", "n2", "redis"} {
		t.Run(cut+" cut off", func(t *testing.T) {
			t.Parallel()
			testPresenceMissedWhileCutOff(t, cut)
		})
	}
}

func testPresenceMissedWhileCutOff(t *testing.T, cutID string) {
	var proxy *cutProxy
	c := Start(t, Config{NodeArgs: func(id string) []string {
		if id == cutID {
			return []string{"-redis", proxy.URL()}
		}
		return nil
	}})
	proxy = startCutProxy(t, c)
	n1, n2 := c.AddNode(t), c.AddNode(t)
	cutNodes := map[string][]*Node{"n1": {n1}, "n2": {n2}, "redis": {n1, n2}}[cutID]

	ann, annID := connectUser(t, n1, "ann")
	bob, bobID := connectUser(t, n2, "bob")
	daveTok, daveID := n2.Login(t, "dave")
	dave := connectAs(t, n2, "dave", daveTok)
	reachUntil(t, ann, bobID, bob)
	for _, f := range []struct {
		c  *testclient.Client
		id string
	}{{bob, bobID}, {dave.c, daveID}} {
		ok(t, "ann asks", request(ann, &tickroomv1.AddFriend{UserId: f.id}))
		f.c.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
		ok(t, "accept", request(f.c, &tickroomv1.AnswerFriend{UserId: annID, Accept: true}))
		if pr := presenceOf(ann, f.id); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
			t.Fatalf("ann sees her new friend %s as %v", f.id, pr)
		}
	}
	room := createGomoku(t, dave)
	if pr := presenceOf(ann, daveID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || pr.RoomId != room {
		t.Fatalf("ann sees dave, who made room %s, as %v", room, pr)
	}

	if cutID == "redis" {
		c.Redis.Stop(t)
	} else {
		proxy.Cut()
	}
	for _, n := range cutNodes {
		waitUntil(t, 30*time.Second, n.ID+" not ready when cut off from Redis", func() bool {
			code, body := readyz(t, n)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
		})
	}
	bob.WS.Close()
	if m := dave.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}); m.GetLeft() == nil {
		t.Fatalf("dave leaving his room: %v", m)
	}
	// What n2 pushed meanwhile is lost (or was never published).
	ann.Drain(time.Second)
	if cutID == "redis" {
		c.Redis.Restart(t)
	} else {
		proxy.Heal()
	}
	healed := time.Now()

	// The node's next heartbeat reaches Redis (one heartbeat), it asks
	// again (each answer within a call's deadline; one more round for a
	// subscription coming back late): seconds. The bound is ten times
	// that, a guard that only catches a node that never asks again,
	// which left ann's view wrong for good.
	bound := 10 * (2*cluster.DefaultHeartbeat + 2*cluster.DefaultCallTimeout)
	last := map[string]*tickroomv1.Presence{}
	for {
		for _, m := range ann.Drain(200 * time.Millisecond) {
			if pr := m.GetPresence(); pr != nil {
				if pr.UserId == daveID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
					t.Fatalf("%v after the cut (%s) ended, ann was told dave, online all along, is offline", time.Since(healed).Round(100*time.Millisecond), cutID)
				}
				last[pr.UserId] = pr
			}
		}
		b, d := last[bobID], last[daveID]
		if b.GetStatus() == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE && d.GetStatus() == tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
			t.Logf("ann sees bob offline and dave online %v after the cut (%s) ended", time.Since(healed).Round(100*time.Millisecond), cutID)
			return
		}
		if time.Since(healed) > bound {
			t.Fatalf("%v after the cut (%s) ended, ann last saw bob (gone) as %v and dave (out of his room) as %v", bound, cutID, b, d)
		}
	}
}
