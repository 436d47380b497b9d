package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestBinaryRestartKeepsSessions runs the real binary twice on one data
// directory: a session token from before the restart still connects after
// it, as the same user; the guest's device secret logs the same account
// in; and the generated admin token is the same one.
func TestBinaryRestartKeepsSessions(t *testing.T) {
	dir := t.TempDir()
	env := []string{"TICKROOM_DATA_DIR=" + dir}
	r := startBinary(t, env)
	resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token        string `json:"token"`
		UserID       string `json:"user_id"`
		DeviceSecret string `json:"device_secret"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Token == "" || login.DeviceSecret == "" {
		t.Fatalf("login answered %d without a token or a device secret", resp.StatusCode)
	}
	if w := welcome(t, r.ws, login.Token); w.GetUserId() != login.UserID {
		t.Fatalf("welcome before the restart: %v", w)
	}
	adminPrint := fingerprintRE.FindStringSubmatch(r.summary)
	r.stop(t)

	for _, name := range []string{"token-key.key", "admin-token.key", "tickroom.db"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want a 0600 file", name, err, fi.Mode().Perm())
		}
	}

	r2 := startBinary(t, env)
	if w := welcome(t, r2.ws, login.Token); w.GetUserId() != login.UserID || w.GetName() != "ada" {
		t.Fatalf("welcome after the restart with the old token: %v", w)
	}
	// The device secret logs the same account in after the restart.
	resp, err = http.Post("http://"+r2.http+"/v1/login", "application/json", strings.NewReader(`{"device_secret":"`+login.DeviceSecret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var again struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&again)
	resp.Body.Close()
	if resp.StatusCode != 200 || again.UserID != login.UserID || again.Name != "ada" {
		t.Fatalf("device login after the restart: %d %+v, want %s", resp.StatusCode, again, login.UserID)
	}
	if p := fingerprintRE.FindStringSubmatch(r2.summary); adminPrint == nil || p == nil || p[1] != adminPrint[1] {
		t.Fatalf("admin token changed across the restart:\n%s\n---\n%s", r.summary, r2.summary)
	}
	if !strings.Contains(r2.summary, "store       sqlite "+filepath.Join(dir, "tickroom.db")) {
		t.Fatalf("summary does not name the store:\n%s", r2.summary)
	}
}

// TestBinaryRefusesAStoreItCannotOpen: an unreachable database or a data
// directory another tickroom serves from stops the binary at start with a
// clear message.
func TestBinaryRefusesAStoreItCannotOpen(t *testing.T) {
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	startBinary(t, []string{"TICKROOM_DATA_DIR=" + dir})
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unreachable postgres": {[]string{"-database", "postgres://u:hunter2@" + closed + "/tickroom?connect_timeout=2"}, "store: database unavailable: postgres://" + closed + "/tickroom"},
		"data dir in use":      {[]string{"-data-dir", dir}, "store: data directory in use by another process"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", ""}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "hunter2") {
				t.Fatalf("exit %v, output:\n%s\nwant status 1 and %q (and no password)", err, out, tc.want)
			}
		})
	}
}

// welcome connects with token and returns the Welcome.
func welcome(t *testing.T, wsAddr, token string) *tickroomv1.Welcome {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial("ws://"+wsAddr+"/v1/ws?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("connect: %v (HTTP %d)", err, status)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	m := new(tickroomv1.ServerMessage)
	if err := m.UnmarshalVT(p); err != nil {
		t.Fatal(err)
	}
	return m.GetWelcome()
}
