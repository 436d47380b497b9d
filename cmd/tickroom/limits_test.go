package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// running is a tickroom process started by startBinary.
type running struct {
	ws, http, admin string // addresses
	summary         string // the start summary, through the admin lines
	stderr          *syncbuf.Buffer
	cmd             *exec.Cmd
	exited          chan struct{} // closed when the process has exited
	exitErr         error         // cmd.Wait's error, once exited is closed
}

// stop sends SIGTERM and waits for a clean exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		if r.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", r.exitErr, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
}

// startBinary runs the built binary on loopback ports with args and
// extra environment, reads its start summary, and kills it when the test
// ends.
func startBinary(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	return startBinaryUnder(t, nil, env, args...)
}

// startBinaryUnder is startBinary with the binary run by the command
// wrapper (prlimit and its options, say); nil runs it directly.
func startBinaryUnder(t *testing.T, wrapper, env []string, args ...string) *running {
	t.Helper()
	bin := buildBinary(t)
	argv := append(append(append([]string{}, wrapper...), bin), append([]string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "TICKROOM_DATA_DIR="+t.TempDir()), env...)
	r := &running{stderr: &syncbuf.Buffer{}, cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exitErr = cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		r.summary += line + "\n"
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "ws="); ok {
				r.ws = v
			}
			if v, ok := strings.CutPrefix(f, "http="); ok {
				r.http = v
			}
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "admin       http://"); ok {
			r.admin, _, _ = strings.Cut(v, "/")
		}
		if strings.HasPrefix(line, "  admin token") || strings.HasPrefix(line, "  admin       off") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if r.ws == "" || r.admin == "" {
		t.Fatalf("start summary:\n%s\nstderr:\n%s", r.summary, r.stderr)
	}
	return r
}

// adminGet sends GET path to the admin port with an Authorization header.
func (r *running) adminGet(t *testing.T, path, authz string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+r.admin+path, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinaryConformanceEndpoints(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		r := startBinary(t, nil)
		for _, path := range []string{"/echo", "/broadcast"} {
			_, resp, err := websocket.DefaultDialer.Dial("ws://"+r.ws+path, nil)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusNotFound {
				t.Fatalf("%s: %v, want 404", path, err)
			}
		}
		if strings.Contains(r.summary, "/echo") {
			t.Fatalf("the summary lists /echo:\n%s", r.summary)
		}
	})
	t.Run("on, with the largest message and the rate limit", func(t *testing.T) {
		r := startBinary(t, nil, "-conformance-endpoints", "-max-message", "16777216", "-max-frame", "16777216", "-message-rate", "50")
		c, _, err := websocket.DefaultDialer.Dial("ws://"+r.ws+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		msg := bytes.Repeat([]byte("tickroom"), 512<<10) // 4 MiB
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		_, p, err := c.ReadMessage()
		if err != nil || !bytes.Equal(p, msg) {
			t.Fatalf("echo of 4 MiB with -max-message 16 MiB: %d bytes, %v", len(p), err)
		}
		// A ping flood is closed with the typed rate-limit code.
		go func() {
			for i := 0; i < 5000; i++ {
				if c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}()
		for {
			if _, _, err = c.ReadMessage(); err != nil {
				break
			}
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != int(protocol.CloseRateLimited) {
			t.Fatalf("ping flood: %v, want close %d", err, protocol.CloseRateLimited)
		}
	})
}

var fingerprintRE = regexp.MustCompile(`fingerprint (sha256:[0-9a-f]{16})`)

func TestBinarySecrets(t *testing.T) {
	t.Run("generated admin token", func(t *testing.T) {
		r := startBinary(t, nil)
		m := regexp.MustCompile(`in (\S+admin-token(?:\.key)?)`).FindStringSubmatch(r.summary)
		if m == nil {
			t.Fatalf("no token file in the summary:\n%s", r.summary)
		}
		b, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(m[1]); fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
		}
		token := strings.TrimSpace(string(b))
		if len(token) < 32 || strings.Contains(r.summary, token) || strings.Contains(r.stderr.String(), token) {
			t.Fatalf("token %q printed, or too short:\n%s", token, r.summary)
		}
		sum := sha256.Sum256([]byte(token))
		if f := fingerprintRE.FindStringSubmatch(r.summary); f == nil || f[1] != "sha256:"+hex.EncodeToString(sum[:8]) {
			t.Fatalf("fingerprint in the summary does not match the token:\n%s", r.summary)
		}
		if st, body := r.adminGet(t, "/v1/admin/overview", "bearer "+token); st != http.StatusOK {
			t.Fatalf("admin API with the file's token: %d %s", st, body)
		}
	})
	t.Run("secrets from files and the environment", func(t *testing.T) {
		dir := t.TempDir()
		adminFile := filepath.Join(dir, "admin")
		keyFile := filepath.Join(dir, "key")
		_ = os.WriteFile(adminFile, []byte("admin-secret-from-a-file\n"), 0o600)
		_ = os.WriteFile(keyFile, []byte(strings.Repeat("k", 40)+"\n"), 0o600)
		r := startBinary(t, []string{"TICKROOM_IDENTITY_KEY=" + strings.Repeat("i", 40)},
			"-admin-token-file", adminFile, "-token-key-file", keyFile)
		if !strings.Contains(r.summary, "admin token given") || strings.Contains(r.summary, "admin-secret") {
			t.Fatalf("summary:\n%s", r.summary)
		}
		if st, _ := r.adminGet(t, "/v1/admin/overview", "Bearer admin-secret-from-a-file"); st != http.StatusOK {
			t.Fatalf("admin API with the token from the file: %d", st)
		}
		if st, body := r.adminGet(t, "/debug/pprof/cmdline", "Bearer admin-secret-from-a-file"); st != http.StatusOK || strings.Contains(body, dir) {
			t.Fatalf("pprof cmdline %d %q shows a flag value", st, body)
		}
		if strings.Contains(r.stderr.String(), "visible to every local user") {
			t.Fatalf("warned about secrets on the command line with none there:\n%s", r.stderr)
		}
		if strings.Contains(r.stderr.String(), "open to other users") {
			t.Fatalf("warned about private secret files:\n%s", r.stderr)
		}
	})
	t.Run("a secret file other users can read is warned about", func(t *testing.T) {
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "key")
		_ = os.WriteFile(keyFile, []byte(strings.Repeat("k", 40)+"\n"), 0o600)
		if err := os.Chmod(keyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		r := startBinary(t, nil, "-token-key-file", keyFile)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(r.stderr.String(), "open to other users") {
			if time.Now().After(deadline) {
				t.Fatalf("no warning of a 0644 key file on stderr:\n%s", r.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if w := r.stderr.String(); !strings.Contains(w, "-token-key-file") || !strings.Contains(w, "0644") || strings.Contains(w, strings.Repeat("k", 40)) {
			t.Fatalf("warning:\n%s", w)
		}
	})
	t.Run("a secret flag is redacted and warned about", func(t *testing.T) {
		r := startBinary(t, nil, "-admin-token", "on-the-command-line")
		st, body := r.adminGet(t, "/debug/pprof/cmdline", "Bearer on-the-command-line")
		if st != http.StatusOK || strings.Contains(body, "on-the-command-line") || !strings.Contains(body, "-admin-token") {
			t.Fatalf("pprof cmdline %d %q", st, body)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(r.stderr.String(), "visible to every local user") {
			if time.Now().After(deadline) {
				t.Fatalf("no warning on stderr:\n%s", r.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestBinaryRefusesNegativeLimits: a negative size, duration or rate on
// the command line or in the environment stops the binary with status 1
// and a message naming the flag, instead of starting with the default.
func TestBinaryRefusesNegativeLimits(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args, env []string
		want      string
	}{
		{args: []string{"-max-message", "-5"}, want: "-max-message -5"},
		{args: []string{"-max-frame", "-1"}, want: "-max-frame -1"},
		{args: []string{"-drop-grace", "-3s"}, want: "-drop-grace -3s"},
		{args: []string{"-token-ttl", "-1h"}, want: "-token-ttl -1h0m0s"},
		{args: []string{"-room-create-rate", "-1"}, want: "-room-create-rate -1"},
		{args: []string{"-room-create-burst", "-1"}, want: "-room-create-burst -1"},
		{args: []string{"-max-room-cost-per-user", "-2"}, want: "-max-room-cost-per-user -2"},
		{args: []string{"-kick-duration", "-1m"}, want: "-kick-duration -1m0s"},
		{env: []string{"TICKROOM_BAN_DURATION=-1h"}, want: "-ban-duration -1h0m0s"},
		{env: []string{"TICKROOM_MAX_MESSAGE=-5"}, want: "-max-message -5"},
	} {
		t.Run(strings.Join(append(tc.args, tc.env...), " "), func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", ""}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "negative") {
				t.Fatalf("exit %v, output:\n%s\nwant status 1 and %q", err, out, tc.want)
			}
		})
	}
}

// TestBinaryExitsWhenItsTransportStops: gnet stops its whole engine when
// accept(2) fails with anything it does not retry, EMFILE included, so a
// client that opened connections up to the process's open-file limit
// (below -max-conns) left a process that refused every WebSocket
// connection for good while /healthz and /readyz still answered 200 and
// logins still worked. The process now says so and exits non-zero, for its
// supervisor to restart it.
func TestBinaryExitsWhenItsTransportStops(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	r := startBinaryUnder(t, []string{prlimit, "--nofile=128:128"}, nil, "-max-conns", "1000", "-ignore-file-limit")
	exhaustFiles(t, r.ws)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		code, body := r.adminGet(t, "/healthz", "")
		t.Fatalf("still running 20 s after its transport stopped; /healthz %d %q\nstderr:\n%s", code, body, r.stderr)
	}
	if r.exitErr == nil {
		t.Errorf("exit status 0 after the transport stopped\nstderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "WebSocket transport stopped") {
		t.Errorf("no log line says the transport stopped:\n%s", r.stderr)
	}
}

// exhaustFiles opens unfinished handshakes to addr, 60 from each of 4
// addresses (64 is the cap of one): 240 sockets, past the 128 files a
// binary run under prlimit --nofile=128 may hold. They close when the
// test ends.
func exhaustFiles(t *testing.T, addr string) {
	t.Helper()
	openSockets(t, addr, 240)
}

// openSockets opens n TCP connections to addr and sends nothing, 60 from
// each loopback address in turn from 127.0.0.1 (64 unfinished handshakes
// is the cap of one), and returns those that connected. They close when
// the test ends, if not before.
func openSockets(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for a := 1; len(conns) < n && a < 255; a++ {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(a))}}
		for i := 0; i < 60 && len(conns) < n; i++ {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return conns
			}
			conns = append(conns, c)
			t.Cleanup(func() { c.Close() })
		}
	}
	return conns
}

// listenBacklog is net.core.somaxconn, the backlog the WebSocket port
// listens with, or Linux's default when it cannot be read.
func listenBacklog(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var capsRE = regexp.MustCompile(`max-conns (\d+), max-http-conns (\d+)`)

// TestBinaryFitsItsConnectionCapsToTheFileLimit: with -max-conns and
// -max-http-conns left at their defaults (10,000 and 4,096) under an
// open-file limit that cannot hold them besides the listen backlog, a
// client opening more sockets than the limit made accept(2) fail with
// EMFILE, gnet stopped the WebSocket transport and the process exited,
// every player dropped. The caps are now lowered to fit at start, with a
// warning naming the limit, so the excess is refused with 503 and the
// node serves on.
func TestBinaryFitsItsConnectionCapsToTheFileLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	limit := listenBacklog(t) + 400
	r := startBinaryUnder(t, []string{prlimit, fmt.Sprintf("--nofile=%d:%d", limit, limit)}, nil)
	attackers := openSockets(t, r.ws, limit+100)
	if len(attackers) <= limit {
		t.Fatalf("%d sockets connected, want more than the limit %d\nstderr:\n%s", len(attackers), limit, r.stderr)
	}
	for _, c := range attackers {
		c.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-r.exited:
			t.Fatalf("exited under %d sockets with the open-file limit %d: %v\nstderr:\n%s", len(attackers), limit, r.exitErr, r.stderr)
		default:
		}
		if resp, err := http.Get("http://" + r.admin + "/metrics"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "\ntickroom_tcp_connections_open 0\n") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockets still open 20 s after the attackers closed\nstderr:\n%s", r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(`{"name":"after"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	c, _, err := testclient.Dial(t, "ws://"+r.ws+"/v1/ws", login.Token, testclient.Options{Label: "after"})
	if err != nil {
		t.Fatalf("a player after the attack: %v\nstderr:\n%s", err, r.stderr)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	if code, body := r.adminGet(t, "/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz %d %q after the attack", code, body)
	}
	m := capsRE.FindStringSubmatch(r.summary)
	if m == nil {
		t.Fatalf("no caps in the summary:\n%s", r.summary)
	}
	ws, _ := strconv.Atoi(m[1])
	hc, _ := strconv.Atoi(m[2])
	if ws+hc > limit-listenBacklog(t) || ws < 64 || hc < 32 {
		t.Fatalf("summary's caps %d and %d under the limit %d (backlog %d)", ws, hc, limit, listenBacklog(t))
	}
	w := r.stderr.String()
	for _, want := range []string{"lowered to fit the open-file limit", fmt.Sprintf("limit=%d", limit), fmt.Sprintf("max_conns=%d", ws), fmt.Sprintf("max_http_conns=%d", hc), "LimitNOFILE"} {
		if !strings.Contains(w, want) {
			t.Fatalf("no %q in the warning:\n%s", want, w)
		}
	}
}

// TestBinaryRefusesCapsOverTheFileLimit: -max-conns set above what the
// open-file limit holds stops the start with status 1 and the numbers,
// rather than leaving a node a few hundred sockets can stop; with
// -ignore-file-limit it starts (TestBinaryExitsWhenItsTransportStops).
func TestBinaryRefusesCapsOverTheFileLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	cmd := exec.Command(prlimit, "--nofile=128:128", buildBinary(t), "-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "", "-data-dir", t.TempDir(), "-max-conns", "1000")
	out, err := cmd.CombinedOutput()
	want := []string{"-max-conns) 1000", "-max-http-conns) 32 (left at 0", "the limit is 128", fmt.Sprintf("net.core.somaxconn, %d", listenBacklog(t)), "LimitNOFILE", "-ignore-file-limit"}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; output:\n%s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Fatalf("no %q in:\n%s", w, out)
		}
	}
}

// TestBinaryAdminTokenWithWhiteSpace: an admin token ending in a line
// break (TICKROOM_ADMIN_TOKEN from a secret mounted as a file, which keeps
// its last newline) or in a space (a token file written "tok \n") was
// taken whole, and no Authorization header can carry white space around
// its token: every admin request was 401 with the right token, and the
// start said "admin token given". The environment's line break is cut, as
// a -file's is; a token with white space left around it stops the start.
func TestBinaryAdminTokenWithWhiteSpace(t *testing.T) {
	t.Run("a line break in the environment", func(t *testing.T) {
		r := startBinary(t, []string{"TICKROOM_ADMIN_TOKEN=admin-secret-from-the-env\n"})
		if st, body := r.adminGet(t, "/v1/admin/overview", "Bearer admin-secret-from-the-env"); st != http.StatusOK {
			t.Fatalf("admin API with the token of TICKROOM_ADMIN_TOKEN: %d %s", st, body)
		}
		sum := sha256.Sum256([]byte("admin-secret-from-the-env"))
		if f := fingerprintRE.FindStringSubmatch(r.summary); f == nil || f[1] != "sha256:"+hex.EncodeToString(sum[:8]) {
			t.Fatalf("the summary's fingerprint is not the token's:\n%s", r.summary)
		}
	})
	t.Run("a space in the file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "admin")
		_ = os.WriteFile(file, []byte("admin-secret-from-a-file \n"), 0o600)
		// Started, the binary would serve on: the wait is bounded.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, buildBinary(t), "-addr", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0", "-data-dir", "", "-admin-token-file", file)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "white space") {
			t.Fatalf("exit %v, output:\n%s\nwant status 1 naming the white space", err, out)
		}
	})
}
