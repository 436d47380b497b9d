package main

import (
	"os"
	"os/exec"
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
