package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"

	"github.com/tickroom/tickroom/internal/freeport"
	"github.com/tickroom/tickroom/internal/testclient"
)

// refusal runs the binary in dir with args and env, which it must refuse
// before it listens: status 1 and a message holding each of want. A
// binary that starts anyway is stopped after a few seconds and the test
// fails.
func refusal(t *testing.T, dir string, env []string, args []string, want ...string) {
	t.Helper()
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the binary started with %q and ran until killed; output:\n%s", args, out)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; output:\n%s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Fatalf("output:\n%s\nwant it to name %q", out, w)
		}
	}
}

// TestBinaryRefusesStrayArguments: a word that is not a flag stops the
// flag package's parsing, so every flag after it used to be dropped
// without a word: a list written with a space after its comma
// (-origins "a, b" unquoted) started the server on the default admin
// address and data directory, whatever followed. Such a word is refused,
// named, with status 1.
func TestBinaryRefusesStrayArguments(t *testing.T) {
	cwd := t.TempDir()
	refusal(t, cwd, nil, []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0",
		"-origins", "https://a.example,", "https://b.example", "-admin", "127.0.0.1:0", "-data-dir", t.TempDir()},
		`"https://b.example"`)
	if _, err := os.Stat(filepath.Join(cwd, ".tickroom")); err == nil {
		t.Error("the refused start made the default data directory .tickroom")
	}
}

// TestBinaryRefusesAnUnknownLogFormat: -log-format takes text or json;
// anything else (a typo of json) used to start the server logging text,
// which a log pipeline expecting JSON then failed to read. It is refused,
// from the command line or the environment.
func TestBinaryRefusesAnUnknownLogFormat(t *testing.T) {
	base := []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "", "-data-dir", ""}
	refusal(t, t.TempDir(), nil, append(base, "-log-format", "jsno"), "-log-format", `"jsno"`)
	refusal(t, t.TempDir(), []string{"TICKROOM_LOG_FORMAT=JSON"}, base, "-log-format", `"JSON"`)
}

// TestBinaryRefusesANaNRate: a rate of NaN (which strconv takes) would
// turn its limit off, since no comparison holds for it; it is refused.
func TestBinaryRefusesANaNRate(t *testing.T) {
	base := []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "", "-data-dir", ""}
	refusal(t, t.TempDir(), nil, append(base, "-guest-login-rate", "NaN"), "-guest-login-rate", "not a number")
	refusal(t, t.TempDir(), []string{"TICKROOM_ROOM_CREATE_RATE=nan"}, base, "-room-create-rate", "not a number")
}

// TestBinaryListFlagsTakeSpacesAfterCommas: the comma-separated lists
// (-origins, -ice-urls, like -trusted-proxies already) take a space after
// a comma, as written in a shell or an environment file. -origins used to
// keep " https://b.example" with its space, an origin no browser sends, so
// every upgrade from the second site was refused with 403; -ice-urls gave
// players " turn:…" as a STUN URL without credentials, which a browser
// refuses as malformed.
func TestBinaryListFlagsTakeSpacesAfterCommas(t *testing.T) {
	r := startBinary(t, nil, "-conformance-endpoints",
		"-origins", "https://a.example, https://b.example",
		"-ice-urls", "stun:stun.example:3478, turn:turn.example:3478",
		"-turn-secret-file", writeFile(t, "turn-secret", "s3cret"))
	for origin, want := range map[string]int{"https://a.example": 101, "https://b.example": 101, "https://c.example": 403} {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+r.ws+"/echo", http.Header{"Origin": {origin}})
		if c != nil {
			c.Close()
		}
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("upgrade from %s: %v %v, want %d", origin, resp, err, want)
		}
	}

	resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(`{"name":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", "http://"+r.http+"/v1/ice-servers", nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ice struct {
		Servers []struct {
			URLs     []string `json:"urls"`
			Username string   `json:"username"`
		} `json:"ice_servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ice); err != nil || len(ice.Servers) != 2 ||
		!slices.Equal(ice.Servers[0].URLs, []string{"stun:stun.example:3478"}) ||
		!slices.Equal(ice.Servers[1].URLs, []string{"turn:turn.example:3478"}) || ice.Servers[1].Username == "" {
		t.Fatalf("ice servers: %v %+v", err, ice)
	}
}

// writeFile writes content to a new file named name in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBinaryRefusesAPublicWSURLClientsCannotUse: -public-ws-url is a path
// on the page's origin or a full URL; a host without its scheme
// (play.example.com/v1/ws) was given to every client as is, which
// resolved it as a path under the page and got 404 at each connect, and
// a cluster node ignored it for its listener's address. It is refused at
// start, as -node-ws-url already was.
func TestBinaryRefusesAPublicWSURLClientsCannotUse(t *testing.T) {
	base := []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "", "-data-dir", ""}
	for _, v := range []string{"play.example.com/v1/ws", "wss//play.example.com/v1/ws", "ftp://play.example.com/v1/ws", "wss:///v1/ws"} {
		refusal(t, t.TempDir(), nil, append(base, "-public-ws-url", v), "PublicWebSocketURL", v)
	}
}

// TestSummaryWithTheHTTPPortOff: with -http "" the start summary gave the
// demo page and the login as http://off/ and POST http://off/v1/login,
// URLs that lead nowhere; it says they are off.
func TestSummaryWithTheHTTPPortOff(t *testing.T) {
	r := startBinary(t, nil, "-http", "")
	if strings.Contains(r.summary, "http://off") || !strings.Contains(r.summary, "http=off") {
		t.Fatalf("start summary:\n%s", r.summary)
	}
	r.stop(t)
}

// TestBinaryJSONLogsWhileRedisIsDown: with -log-format json every line the
// binary logs is a JSON object, also while Redis is out of reach: the
// Redis client's own complaints ("redis: … pool.go: … failed to dial")
// came as plain text lines among them, which a pipeline reading JSON lines
// cannot parse, once a second for as long as Redis stayed down.
func TestBinaryJSONLogsWhileRedisIsDown(t *testing.T) {
	r := startBinary(t, nil, "-log-format", "json", "-data-dir", "",
		"-redis", fmt.Sprintf("redis://127.0.0.1:%d/0", freeport.Port(t)))
	time.Sleep(5 * time.Second) // heartbeats and the Redis client's retries fail
	r.stop(t)
	for _, line := range strings.Split(strings.TrimSpace(r.stderr.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("a log line that is not JSON: %q", line)
		}
	}
}

// TestSummaryShowsWhatAZeroDurationMeans: -drop-grace 0 and -token-ttl 0
// take their defaults (30 s, 24 h), as every limit's 0 does, but the
// start summary said "seats held 0s; tokens live 0s", telling an operator
// who meant to hold no seats that none were held.
func TestSummaryShowsWhatAZeroDurationMeans(t *testing.T) {
	r := startBinary(t, nil, "-drop-grace", "0", "-token-ttl", "0")
	if !strings.Contains(r.summary, "seats held 30s; tokens live 24h0m0s") {
		t.Fatalf("start summary:\n%s", r.summary)
	}
	r.stop(t)
}

// TestSummaryShowsTheLimitsInForce: the limits line printed the flags'
// values, so a start with -max-conns-per-ip and -message-rate at 0 read
// "per IP 0 (0 = 256)" and "0 msg/s (0 = 120)", leaving the operator to
// work out the value in force, and -max-message 0 (64 KiB in force) read
// "message 0 B". It shows what the server enforces, left at 0 or set.
func TestSummaryShowsTheLimitsInForce(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"defaults", []string{"-max-conns-per-ip", "0", "-max-message", "0", "-message-rate", "0", "-drop-grace", "0", "-token-ttl", "0"},
			[]string{"per IP 256,", "message 65536 B,", "120 msg/s", "seats held 30s; tokens live 24h0m0s"}},
		{"set", []string{"-max-conns", "500", "-max-http-conns", "100", "-max-conns-per-ip", "9", "-max-message", "4096", "-max-frame", "4096", "-message-rate", "30", "-drop-grace", "7s", "-token-ttl", "2h"},
			[]string{"max-conns 500, max-http-conns 100, per IP 9, message 4096 B, 30 msg/s\n", "seats held 7s; tokens live 2h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startBinary(t, nil, tc.args...)
			r.stop(t)
			for _, w := range tc.want {
				if !strings.Contains(r.summary, w) {
					t.Errorf("no %q in the start summary:\n%s", w, r.summary)
				}
			}
			if strings.Contains(r.summary, "(0 =") {
				t.Errorf("the start summary leaves a default to work out:\n%s", r.summary)
			}
		})
	}
}

// TestBinaryRefusalNamesTheCommandOnce: a start that tickroom.New refused
// printed "tickroom: tickroom: invalid options: …", main's prefix before
// the library's own; every refusal starts with "tickroom: " once, whether
// the library, the flags or the store refused it.
func TestBinaryRefusalNamesTheCommandOnce(t *testing.T) {
	bin := buildBinary(t)
	base := []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", ""}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"options", []string{"-data-dir", "", "-public-ws-url", "ftp://play.example.com/v1/ws"}, "tickroom: invalid options: PublicWebSocketURL"},
		{"flag", []string{"-data-dir", "", "-guest-login-rate", "NaN"}, "tickroom: -guest-login-rate NaN: not a number"},
		{"store", []string{"-data-dir", "/proc/no-such-dir"}, "tickroom: store: data directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(base, tc.args...)...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; output:\n%s", err, out)
			}
			last := strings.TrimSpace(string(out))
			if i := strings.LastIndexByte(last, '\n'); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, tc.want) {
				t.Fatalf("the refusal reads %q, want it to start %q", last, tc.want)
			}
		})
	}
}

// TestBinaryWarnsOfAClusterNodeWithAKeyOfItsOwn: a node of a cluster
// (-redis) with neither -database nor -token-key-file signs its tokens
// with a key of its own (generated in its data directory), which every
// other node refuses: each client redirected there got 401, and nothing
// at start said why. It is now warned about; a shared key is not.
func TestBinaryWarnsOfAClusterNodeWithAKeyOfItsOwn(t *testing.T) {
	redis := fmt.Sprintf("redis://127.0.0.1:%d/0", freeport.Port(t))
	const warning = "the other nodes refuse its tokens"
	r := startBinary(t, nil, "-redis", redis)
	r.stop(t)
	if !strings.Contains(r.stderr.String(), warning) {
		t.Errorf("a cluster node with a session key of its own started without a warning:\n%s", r.stderr)
	}
	r = startBinary(t, []string{"TICKROOM_TOKEN_KEY=" + strings.Repeat("k", 32)}, "-redis", redis)
	r.stop(t)
	if strings.Contains(r.stderr.String(), warning) {
		t.Errorf("a cluster node given the shared key was warned:\n%s", r.stderr)
	}
}

// TestBinaryWatchPassTTL: -watch-pass-ttl sets how long the watch passes
// a member asks for last.
func TestBinaryWatchPassTTL(t *testing.T) {
	r := startBinary(t, nil, "-watch-pass-ttl", "7m")
	resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(`{"name":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+r.ws+"/v1/ws?token="+login.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	send := func(m *tickroomv1.ClientMessage) {
		t.Helper()
		p, _ := m.MarshalVT()
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			t.Fatal(err)
		}
	}
	reply := func(id uint32) *tickroomv1.ServerMessage {
		t.Helper()
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			m := new(tickroomv1.ServerMessage)
			if err := m.UnmarshalVT(p); err != nil {
				t.Fatal(err)
			}
			if m.RequestId == id {
				return m
			}
		}
	}
	send(&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Private: true}}})
	room := reply(1).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("no room made")
	}
	asked := time.Now()
	send(&tickroomv1.ClientMessage{RequestId: 2, Body: &tickroomv1.ClientMessage_GetWatchPass{GetWatchPass: &tickroomv1.GetWatchPass{RoomId: room}}})
	wp := reply(2).GetWatchPass()
	if wp == nil || wp.Pass == "" {
		t.Fatal("no watch pass")
	}
	if ttl := time.UnixMilli(int64(wp.ExpiresAtMs)).Sub(asked); ttl < 6*time.Minute || ttl > 8*time.Minute {
		t.Fatalf("the pass lasts %v, want the flag's 7m", ttl)
	}
}

// TestBinaryRoomListRatePerIP: -room-list-rate-per-ip sets the rate of
// the room lists the connections of one client address share (their
// burst is 5 × -max-conns-per-ip, here 5), and inf turns it off. At a
// list every 1,000 s the sixth ListRooms is refused with a hint of about
// that long, where the default 64 a second hints a few milliseconds.
func TestBinaryRoomListRatePerIP(t *testing.T) {
	for _, tc := range []struct {
		rate    string
		refused bool
	}{{"0.001", true}, {"inf", false}} {
		t.Run(tc.rate, func(t *testing.T) {
			r := startBinary(t, nil, "-room-list-rate-per-ip", tc.rate, "-max-conns-per-ip", "1", "-trusted-proxies", "127.0.0.1")
			resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(`{"name":"ann"}`))
			if err != nil {
				t.Fatal(err)
			}
			var login struct{ Token string }
			_ = json.NewDecoder(resp.Body).Decode(&login)
			resp.Body.Close()
			c, _, err := testclient.Dial(t, "ws://"+r.ws+"/v1/ws", login.Token, testclient.Options{Label: "ann", Header: http.Header{"X-Forwarded-For": {"203.0.113.22"}}})
			if err != nil {
				t.Fatal(err)
			}
			c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
			list := func() *tickroomv1.ServerMessage {
				t.Helper()
				return c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}})
			}
			for id := 1; id <= 10; id++ {
				m := list()
				if m.GetRoomList() != nil {
					if tc.refused && id > 5 {
						t.Fatalf("ListRooms %d of one address, a burst of 5 at %s a second: served", id, tc.rate)
					}
					continue
				}
				if !tc.refused || id <= 5 || m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || m.GetError().RetryAfterMs < 100_000 {
					t.Fatalf("ListRooms %d of one address, a burst of 5 at %s a second: %v", id, tc.rate, m)
				}
				return
			}
			if tc.refused {
				t.Fatalf("10 ListRooms of one address at %s a second served", tc.rate)
			}
		})
	}
}

// TestBinaryJSONLogsWhileHTTPAcceptFails: with -log-format json, net/http
// wrote its own lines ("http: Accept error: … too many open files;
// retrying in 5ms", some ten in the first second a client held the
// process at its open-file limit through the public HTTP port, then one
// a second) to standard error as plain text among the JSON ones; they now
// go through the server's logger.
func TestBinaryJSONLogsWhileHTTPAcceptFails(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	r := startBinaryUnder(t, []string{prlimit, "--nofile=128:128"}, nil, "-log-format", "json")
	var conns []net.Conn
	for a := 1; a <= 4; a++ {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(a))}}
		for i := 0; i < 60; i++ {
			if c, err := d.Dial("tcp", r.http); err == nil {
				conns = append(conns, c)
			}
		}
	}
	time.Sleep(time.Second)
	for _, c := range conns {
		c.Close()
	}
	r.stop(t)
	out := strings.TrimSpace(r.stderr.String())
	if !strings.Contains(out, "Accept error") {
		t.Fatalf("the HTTP port's accept never failed; nothing was checked:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("a log line that is not JSON: %q", line)
		}
	}
}
