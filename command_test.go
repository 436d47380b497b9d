package tickroom_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tickroom/tickroom"
)

// TestRunCommandServesOnTheFlagsAddresses runs a command's server on the
// addresses its -addr and -http flags give, says where, serves, and
// returns nil after a clean shutdown when its context ends.
func TestRunCommandServesOnTheFlagsAddresses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tickroom.RunCommand(ctx, "mygame", []string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0"},
			tickroom.Options{AdminAddr: tickroom.Off}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address line: %v (run: %v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	httpAddr, ok := strings.CutPrefix(strings.TrimSpace(line), "mygame on http://")
	if !ok || !strings.HasSuffix(httpAddr, "/") {
		t.Fatalf("address line %q", line)
	}
	resp, err := http.Get("http://" + httpAddr + "v1/config")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/config on the -http address: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCommand after its context ended: %v", err)
	}
}

// TestRunCommandRefusesBadCommandLines returns an error, serving nothing,
// for an unknown flag and for a -http address that is taken.
func TestRunCommandRefusesBadCommandLines(t *testing.T) {
	t.Parallel()
	opts := tickroom.Options{AdminAddr: tickroom.Off}
	if err := tickroom.RunCommand(t.Context(), "mygame", []string{"-nope"}, opts, io.Discard); err == nil || !strings.Contains(err.Error(), "-nope") {
		t.Fatalf("unknown flag: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	err = tickroom.RunCommand(t.Context(), "mygame", []string{"-addr", "127.0.0.1:0", "-http", taken}, opts, io.Discard)
	if err == nil || !strings.Contains(err.Error(), taken) {
		t.Fatalf("taken -http address %s: %v", taken, err)
	}
}
