package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
