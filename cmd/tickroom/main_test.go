package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildBinary builds the tickroom binary once for all the tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tickroom-test-")
		if buildErr != nil {
			return
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "tickroom"), ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "tickroom")
}

// TestBinaryServesAndShutsDownGracefully builds and runs the real binary,
// configured partly from the environment: a guest logs in over HTTP,
// connects, quick-matches, and on SIGTERM gets the resumable shutdown close
// while the process exits cleanly.
func TestBinaryServesAndShutsDownGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-http", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TICKROOM_ADMIN=127.0.0.1:0", "TICKROOM_DROP_GRACE=7s", "TICKROOM_DATA_DIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("no start line")
	}
	var wsAddr, httpAddr string
	for _, f := range strings.Fields(sc.Text()) {
		if v, ok := strings.CutPrefix(f, "ws="); ok {
			wsAddr = v
		}
		if v, ok := strings.CutPrefix(f, "http="); ok {
			httpAddr = v
		}
	}
	summary := sc.Text()
	for sc.Scan() {
		summary += "\n" + sc.Text()
		if strings.Contains(sc.Text(), "resume") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if wsAddr == "" || httpAddr == "" || !strings.Contains(summary, "seats held 7s") {
		t.Fatalf("start summary:\n%s", summary)
	}

	resp, err := http.Post("http://"+httpAddr+"/v1/login", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}}
	c, _, err := d.Dial("ws://"+wsAddr+"/v1/ws?token="+login.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() (*tickroomv1.ServerMessage, error) {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		m := new(tickroomv1.ServerMessage)
		return m, m.UnmarshalVT(p)
	}
	m, err := read()
	if err != nil || m.GetWelcome().GetName() != "ada" || m.GetWelcome().GetResumeWindowMs() != 7000 {
		t.Fatalf("welcome %v %v", m, err)
	}
	req, _ := (&tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "arena"}}}).MarshalVT()
	_ = c.WriteMessage(websocket.BinaryMessage, req)
	for {
		m, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if m.RequestId == 1 {
			if m.GetJoined() == nil {
				t.Fatalf("quick-match: %v", m)
			}
			break
		}
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	for {
		_, err := read()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != int(protocol.CloseServerShutdown) {
			t.Fatalf("after SIGTERM: %v, want close %d", err, protocol.CloseServerShutdown)
		}
		break
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}
