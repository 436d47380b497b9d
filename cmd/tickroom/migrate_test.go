package main

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// TestBinarySignalDuringAMigrationStops: the store's migrations run to
// their end (an index over a large table, or another node's migration
// waited for, up to 5 minutes), and the binary catches SIGTERM and SIGINT
// from before it opens the store, so a signal meanwhile did nothing until
// they were done: an operator's Ctrl-C on a node waiting for the
// migration lock was ignored for minutes. The binary now stops at once.
func TestBinarySignalDuringAMigrationStops(t *testing.T) {
	bin := buildBinary(t)
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	ctx := context.Background()
	// Another node migrating: it holds goose's migration lock.
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "SELECT pg_advisory_lock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-database", url)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	time.Sleep(time.Second) // waiting for the lock
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(stderr.String(), "signal during the start") {
			t.Fatalf("exit %v after SIGTERM during the start, stderr:\n%s", err, stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM, waiting for another node's migration; stderr:\n%s", stderr)
	}
}
