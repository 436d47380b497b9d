package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNodeInterop runs server/interop/interop.mjs, which drives /echo and
// /broadcast with Node's ws client and exits non-zero on any mismatch.
func TestNodeInterop(t *testing.T) {
	dir, err := filepath.Abs("interop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("server/interop/node_modules is missing (%v): make test installs it", err)
		}
		t.Skip("server/interop/node_modules is missing: run make test (or make npm) to install Node's ws")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not on PATH")
		}
		t.Skip("node is not on PATH: install Node 20 and run make test")
	}
	s := startServer(t, Config{MaxFrameSize: 1 << 20, MaxMessageSize: 1 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "interop.mjs"), s.url)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node interop: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
