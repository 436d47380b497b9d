package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server"
)

func TestParseSteps(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10000,19000", []int{10000, 19000}, false},
		{" 5 , 7 ", []int{5, 7}, false},
		{"50000", nil, true},
		{"10,5", nil, true},
		{"0", nil, true},
		{"x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSteps(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestPoolOpensIdleConnections(t *testing.T) {
	s, err := server.New(server.Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/echo", &server.EchoHandler{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	p := newClientPool(s.Addr().String(), 3)
	t.Cleanup(p.closeAll)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range []int{20, 50} {
		if err := p.grow(ctx, n); err != nil {
			t.Fatalf("grow(%d): %v", n, err)
		}
		if len(p.conns) != n {
			t.Fatalf("pool holds %d, want %d", len(p.conns), n)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Conns() != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("server sees %d connections, want 50", s.Conns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The measured server must take the tool's own connections: they come from
// -sources addresses (8 by default), far more than the server's default
// 256 upgraded connections per address (the default steps, 10,000 and
// 19,000, were refused with 429 past 2,048).
func TestServerTakesManyConnsPerSource(t *testing.T) {
	s, err := server.New(serverConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/echo", &server.EchoHandler{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	p := newClientPool(s.Addr().String(), 1)
	t.Cleanup(p.closeAll)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.grow(ctx, 300); err != nil {
		t.Fatalf("300 connections from one source: %v", err)
	}
}

// TestMain runs the command itself when CONNRSS_TEST_MAIN is set, so a
// test can start it (and the server child it starts) as processes.
func TestMain(m *testing.M) {
	if os.Getenv("CONNRSS_TEST_MAIN") != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A connrss stopped from outside (SIGTERM, or killed) must not leave its
// server child running for good.
func TestServerChildEndsWithTool(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-steps", "5", "-sources", "1", "-settle", "30s")
	cmd.Env = append(os.Environ(), "CONNRSS_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The baseline line names the child's pid only after one -settle:
	// find it in /proc as soon as it exists.
	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		// The children of any of the tool's threads.
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task")
		for _, tk := range tasks {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/" + tk.Name() + "/children")
			for _, f := range strings.Fields(string(b)) {
				child, _ = strconv.Atoi(f)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("no server child started")
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	go func() { _, _ = bufio.NewReader(out).WriteTo(io.Discard) }()
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline = time.Now().Add(10 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("server child %d still runs 10 s after connrss ended", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting to be reaped does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
