// Package clustertest runs a cluster of real tickroom processes for tests:
// the binary is built once per test binary from ./cmd/tickroom, and each
// node is a process of its own on private loopback ports, sharing a
// private redis-server (internal/redistest) and a private PostgreSQL
// database (internal/pgtest), as production nodes would. Nodes can be
// killed (SIGKILL, a crash), stopped (SIGTERM, a graceful shutdown) and
// started again under the same id. Every process is stopped in t.Cleanup,
// and a failed test prints the node logs.
//
// A test binary that uses it calls Main from its TestMain, which removes
// the built binary at the end.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/redistest"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Main runs the tests and removes the binary they built.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary builds ./cmd/tickroom once for the test binary and returns its
// path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tickroom-cluster-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "tickroom"), "github.com/tickroom/tickroom/cmd/tickroom").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/tickroom: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "tickroom")
}

// Config configures a test cluster.
type Config struct {
	// Nodes is how many nodes start with the cluster. Zero value means
	// none (AddNode starts them).
	Nodes int
	// Args are flags every node gets after the harness's own (a later
	// flag wins), e.g. "-drop-grace", "5s".
	Args []string
	// NodeArgs, when set, gives the flags of node id (n1, n2, …) after
	// Args, e.g. its own -node-ws-url. Zero value means none.
	NodeArgs func(id string) []string
}

// Cluster is a Redis, a PostgreSQL database and the nodes sharing them.
type Cluster struct {
	Redis *redistest.Server
	PG    *pgtest.Server
	// DatabaseURL is the nodes' shared store.
	DatabaseURL string
	// AdminToken is every node's admin token.
	AdminToken string

	t        testing.TB
	bin      string
	args     []string
	nodeArgs func(id string) []string

	mu    sync.Mutex
	nodes []*Node
	seq   int
}

// Start starts Redis, PostgreSQL and cfg.Nodes nodes, each registered in
// the cluster before it returns.
func Start(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster of real processes")
	}
	bin := Binary(t)
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	c := &Cluster{t: t, bin: bin, args: cfg.Args, nodeArgs: cfg.NodeArgs, AdminToken: hex.EncodeToString(tok[:])}
	c.Redis = redistest.Start(t)
	c.PG = pgtest.Start(t)
	c.DatabaseURL = c.PG.NewDatabase(t)
	// Cleanups run last-in first-out: the nodes stop before Redis and
	// PostgreSQL do.
	t.Cleanup(c.stopAll)
	for i := 0; i < cfg.Nodes; i++ {
		c.AddNode(t)
	}
	return c
}

// Nodes returns the cluster's nodes, in the order they were added.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// AddNode starts one more node, named n1, n2, … in order, and waits until
// it is registered.
func (c *Cluster) AddNode(t testing.TB) *Node {
	t.Helper()
	c.mu.Lock()
	c.seq++
	n := &Node{ID: fmt.Sprintf("n%d", c.seq), c: c, dataDir: t.TempDir()}
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	n.start(t)
	c.WaitRegistered(t, 15*time.Second, n.ID)
	return n
}

// Registered returns the ids of the nodes registered in Redis now.
func (c *Cluster) Registered(t testing.TB) ([]cluster.NodeInfo, error) {
	t.Helper()
	rdb, err := cluster.Dial(c.Redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	view, err := cluster.New(cluster.Config{Client: rdb, ID: "clustertest-view"})
	if err != nil {
		t.Fatal(err)
	}
	return view.Nodes(context.Background())
}

// WaitRegistered waits until every node of ids is registered, or fails t
// after d.
func (c *Cluster) WaitRegistered(t testing.TB, d time.Duration, ids ...string) {
	t.Helper()
	c.waitRegistry(t, d, func(have map[string]bool) bool {
		for _, id := range ids {
			if !have[id] {
				return false
			}
		}
		return true
	}, "registered: "+strings.Join(ids, ", "))
}

// WaitGone waits until no node of ids is registered and returns how long
// that took, or fails t after d.
func (c *Cluster) WaitGone(t testing.TB, d time.Duration, ids ...string) time.Duration {
	t.Helper()
	start := time.Now()
	c.waitRegistry(t, d, func(have map[string]bool) bool {
		for _, id := range ids {
			if have[id] {
				return false
			}
		}
		return true
	}, "gone from the registry: "+strings.Join(ids, ", "))
	return time.Since(start)
}

// RegistrationExpires fails t unless the registration of node id, read
// from Redis, ends within ttl by Redis's own clock: its hash's PTTL and
// its expiry in the node index. A registration already gone passes. It
// tells a registration that will lapse in time without timing how long
// it lasts.
func (c *Cluster) RegistrationExpires(t testing.TB, id string, ttl time.Duration) {
	t.Helper()
	rdb := c.Redis.Client(t)
	ctx := context.Background()
	k := cluster.Keys{Prefix: cluster.DefaultPrefix}
	pttl, err := rdb.PTTL(ctx, k.Node(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// -2 (as a Duration): the hash is gone; -1: it has no TTL.
	if pttl == -1 || pttl > ttl {
		t.Fatalf("node %s's registration has a TTL of %v, want %v at most", id, pttl, ttl)
	}
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	score, err := rdb.ZScore(ctx, k.Nodes(), id).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if left := time.UnixMilli(int64(score)).Sub(now); err == nil && left > ttl {
		t.Fatalf("node %s's entry in the node index expires in %v, want %v at most", id, left, ttl)
	}
}

// HoldRegistration keeps node id's registration in Redis, its hash and
// its entry in the node index, until the returned func is called, which
// gives them back the expiry they had: what the other nodes tell of the
// node meanwhile cannot come from its registration's expiry. It fails t
// when the registration is gone already.
func (c *Cluster) HoldRegistration(t testing.TB, id string) (release func()) {
	t.Helper()
	rdb := c.Redis.Client(t)
	ctx := context.Background()
	k := cluster.Keys{Prefix: cluster.DefaultPrefix}
	pttl, err := rdb.PTTL(ctx, k.Node(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	score, err := rdb.ZScore(ctx, k.Nodes(), id).Result()
	if err != nil || pttl <= 0 {
		t.Fatalf("node %s's registration (TTL %v) not there to hold: %v", id, pttl, err)
	}
	if err := rdb.Persist(ctx, k.Node(id)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAddXX(ctx, k.Nodes(), redis.Z{Score: score + float64(time.Hour.Milliseconds()), Member: id}).Err(); err != nil {
		t.Fatal(err)
	}
	return func() {
		// The hash gets back the expiry of its entry in the index, on
		// Redis's clock, so that the two go together as they would have:
		// the time it had left then, given back now, would outlive the
		// entry by as long as the hold lasted.
		if err := rdb.PExpireAt(ctx, k.Node(id), time.UnixMilli(int64(score))).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAddXX(ctx, k.Nodes(), redis.Z{Score: score, Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// WaitSessionGone waits until the cluster's record of who is connected
// where (cluster.Users, in Redis) holds no session of userID on node n,
// or fails t after d. A node removes a closed session's record a moment
// after the close, not at once.
func (c *Cluster) WaitSessionGone(t testing.TB, d time.Duration, n *Node, userID string) {
	t.Helper()
	c.waitSession(t, d, n, userID, false)
}

// WaitSessionRecorded waits until that record holds a session of userID
// on node n, or fails t after d: a node writes it a moment after the
// welcome, so a wait for it to go would pass before it came.
func (c *Cluster) WaitSessionRecorded(t testing.TB, d time.Duration, n *Node, userID string) {
	t.Helper()
	c.waitSession(t, d, n, userID, true)
}

func (c *Cluster) waitSession(t testing.TB, d time.Duration, n *Node, userID string, present bool) {
	t.Helper()
	rdb, err := cluster.Dial(c.Redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	users, err := cluster.NewUsers(cluster.UsersConfig{Client: rdb, Node: "clustertest-view"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	for {
		loc, err := users.Locate(context.Background(), userID)
		if err == nil && slices.ContainsFunc(loc[userID], func(s cluster.UserSession) bool { return s.Node == n.ID }) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s's sessions of %s recorded: %v (err %v), want one there: %v", d, n.ID, userID, loc[userID], err, present)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) waitRegistry(t testing.TB, d time.Duration, ok func(map[string]bool) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last []cluster.NodeInfo
	for {
		nodes, err := c.Registered(t)
		if err == nil {
			last = nodes
			have := map[string]bool{}
			for _, n := range nodes {
				have[n.ID] = true
			}
			if ok(have) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, not %s; registry: %+v (err %v)", d, what, last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll kills every node still running, printing their logs when the
// test failed.
func (c *Cluster) stopAll() {
	for _, n := range c.Nodes() {
		n.kill()
		if c.t.Failed() {
			c.t.Logf("node %s log:\n%s", n.ID, n.Log())
		}
	}
}

// Node is one tickroom process of the cluster.
type Node struct {
	// ID is the node's cluster id; it keeps it across Restart.
	ID string

	c       *Cluster
	dataDir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status, once exited is closed
	ws     string
	http   string
	admin  string
	log    *syncBuffer
}

// WS returns the node's WebSocket host:port.
func (n *Node) WS() string { n.mu.Lock(); defer n.mu.Unlock(); return n.ws }

// WSURL returns the node's tickroom.v1 URL.
func (n *Node) WSURL() string { return "ws://" + n.WS() + "/v1/ws" }

// HTTP returns the node's public HTTP host:port.
func (n *Node) HTTP() string { n.mu.Lock(); defer n.mu.Unlock(); return n.http }

// Admin returns the node's admin host:port.
func (n *Node) Admin() string { n.mu.Lock(); defer n.mu.Unlock(); return n.admin }

// Log returns what the node printed (start summary and logs).
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.log == nil {
		return ""
	}
	return n.log.String()
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// start runs the process on fresh ports and reads its start summary.
func (n *Node) start(t testing.TB) {
	t.Helper()
	args := []string{
		"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-node-id", n.ID, "-data-dir", n.dataDir, "-guest-login-rate", "inf",
	}
	args = append(args, n.c.args...)
	if n.c.nodeArgs != nil {
		args = append(args, n.c.nodeArgs(n.ID)...)
	}
	cmd := exec.Command(n.c.bin, args...)
	cmd.Env = append(os.Environ(),
		"TICKROOM_REDIS="+n.c.Redis.URL(),
		"TICKROOM_DATABASE="+n.c.DatabaseURL,
		"TICKROOM_ADMIN_TOKEN="+n.c.AdminToken,
	)
	log := &syncBuffer{}
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", n.ID, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.log = cmd, exited, log
	n.mu.Unlock()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(exited)
	}()
	timeout := time.After(60 * time.Second)
	var ws, httpAddr, admin string
	for admin == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				<-exited
				t.Fatalf("node %s exited before its summary: %v\n%s", n.ID, n.err, log)
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "ws="); ok {
					ws = v
				}
				if v, ok := strings.CutPrefix(f, "http="); ok {
					httpAddr = v
				}
			}
			if rest, ok := strings.CutPrefix(line, "  admin       http://"); ok {
				admin, _, _ = strings.Cut(rest, "/")
			}
		case <-timeout:
			t.Fatalf("node %s printed no summary in 60 s:\n%s", n.ID, log)
		}
	}
	n.mu.Lock()
	n.ws, n.http, n.admin = ws, httpAddr, admin
	n.mu.Unlock()
}

// Kill kills the process with SIGKILL (a crash: nothing is cleaned up)
// and waits for it to end.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.kill()
}

func (n *Node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Pause stops the process with SIGSTOP (alive, its ports open, answering
// nothing) until Resume or the end of the test.
func (n *Node) Pause(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { n.signal(t, syscall.SIGCONT) })
}

// Resume lets a paused process run again.
func (n *Node) Resume(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGCONT)
}

func (n *Node) signal(t testing.TB, sig syscall.Signal) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		t.Fatalf("node %s was never started", n.ID)
	}
	_ = cmd.Process.Signal(sig)
}

// Term sends SIGTERM (a graceful shutdown) and waits up to d for the
// process to end; it returns the exit status (nil after a clean exit) and
// fails t when the process outlives d.
func (n *Node) Term(t testing.TB, d time.Duration) error {
	t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		t.Fatalf("node %s was never started", n.ID)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(d):
		t.Fatalf("node %s still running %v after SIGTERM:\n%s", n.ID, d, n.Log())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Restart starts a stopped (killed or terminated) node again under the
// same id, on fresh ports, and waits until it is registered: once the
// registration of a killed process lapsed, since a process does not take
// over another's.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if n.Running() {
		t.Fatalf("node %s is still running", n.ID)
	}
	n.start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		nodes, err := n.c.Registered(t)
		for _, x := range nodes {
			if x.ID == n.ID && x.WebSocketURL == n.WSURL() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s started again, not registered after 15 s; registry: %+v (err %v)", n.ID, nodes, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Login logs a guest named name in through the node's HTTP port and
// returns the session token and user id.
func (n *Node) Login(t testing.TB, name string) (token, userID string) {
	t.Helper()
	resp, err := http.Post("http://"+n.HTTP()+"/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	if err != nil {
		t.Fatalf("login on %s: %v", n.ID, err)
	}
	defer resp.Body.Close()
	var out struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("login on %s: HTTP %d, %v", n.ID, resp.StatusCode, err)
	}
	return out.Token, out.UserID
}

// AdminRequest sends an admin API request with the cluster's admin token
// and returns the status and body.
func (n *Node) AdminRequest(t testing.TB, method, path string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.Admin()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.c.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s on %s: %v", method, path, n.ID, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
