package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runMainEnv makes the test binary run main, with the arguments after "--".
const runMainEnv = "BOTSCLI_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"tickroom-bots"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestZeroCountsRefused: -bots 0 and -duration 0 used to run the
// library's defaults (10 bots, 10 s), neither what was asked nor the
// flags' own defaults; each is now refused with a message naming it,
// before any bot starts.
func TestZeroCountsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bots", "0"}, "-bots 0:"},
		{[]string{"-duration", "0"}, "-duration 0:"},
	} {
		args := append([]string{"-test.run=^$", "--", "-http", "http://127.0.0.1:1", "-quiet"}, tc.args...)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%v: still running after 20 s: %s", tc.args, out)
		}
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("%v: err %v, output %q; want a refusal naming %s", tc.args, err, out, tc.want)
		}
	}
}

// TestRunWithNoBotSeatedFails: a run in which no bot was in a room when
// the window ended (here every login refused, as a server without
// -guest-login-rate inf refuses a ramp from one address) measured
// nothing; it used to print its report of zeros and exit 0, so a script
// took it for a run. It still writes the report, and exits 1 naming why.
func TestRunWithNoBotSeatedFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too many guest logins", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	js := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "-http", srv.URL, "-ws", "ws://127.0.0.1:1/v1/ws",
		"-bots", "3", "-duration", "200ms", "-quiet", "-json", js)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no bot was in a room") {
		t.Fatalf("err %v, output:\n%s\nwant exit status 1 and a message that no bot was seated", err, out)
	}
	if !strings.Contains(string(out), "logged in 0 (failed 3)") {
		t.Fatalf("no report printed:\n%s", out)
	}
	if fi, err := os.Stat(js); err != nil || fi.Size() == 0 {
		t.Fatalf("JSON report: %v", err)
	}
}
