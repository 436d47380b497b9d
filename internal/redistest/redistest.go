// Package redistest starts a private Redis server for tests: redis-server
// on a free loopback port with a temporary working directory, no
// persistence and no other client, stopped in t.Cleanup. Nothing is shared
// with a system service.
//
// The binary is $TICKROOM_REDIS_SERVER, else redis-server on $PATH;
// scripts/install-redis.sh installs Debian's package. When it is missing
// the test fails, so that CI never passes without running the cluster
// tests; a developer without Redis sets TICKROOM_REDIS_SKIP=1 to skip.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/freeport"
)

// SkipEnv names the variable that, set to 1, skips Redis tests when the
// binary is missing.
const SkipEnv = "TICKROOM_REDIS_SKIP"

// Server is one private redis-server.
type Server struct {
	// Port is the loopback port it listens on; it keeps it across Restart.
	Port int

	bin string
	dir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result once
	log    *logBuffer
	paused bool
}

// logBuffer is the server's output, written by exec's copying goroutine
// while a test may read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts a server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("redis-server not installed (%v); %s=1 skips", err, SkipEnv)
		}
		t.Fatalf("redis-server not installed: %v; run scripts/install-redis.sh (or set %s=1 to skip locally)", err, SkipEnv)
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	// A free port can be taken between the probe and the start by another
	// test process; try a few.
	for attempt := 0; ; attempt++ {
		s.Port = freeport.Port(t) // below the ephemeral range: kept free across Restart
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("starting redis-server: %v", err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server log:\n%s", s.Log())
		}
		s.Stop(t)
	})
	return s
}

// Binary returns the redis-server binary the tests use.
func Binary() (string, error) {
	if p := os.Getenv("TICKROOM_REDIS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	return exec.LookPath("redis-server")
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a go-redis client for the server, closed when t ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop stops the server now (to test a lost Redis); what it held is gone,
// as after a crash of a server without persistence. Stopping a stopped
// server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited, s.paused = nil, nil, false
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Pause freezes the server (SIGSTOP) to test a silent partition: it stays
// alive and its port keeps taking TCP connections (the kernel completes the
// handshake and buffers what clients send), but nothing is answered until
// Resume. Its clock runs on, so keys whose TTL passes meanwhile are gone
// when it resumes. The server is resumed when t ends if the test did not.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.paused {
		t.Fatal("redistest: Pause of a stopped or paused server")
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: pausing redis-server: %v", err)
	}
	s.paused = true
	t.Cleanup(func() { s.Resume(t) })
}

// Resume lets a paused server run again (SIGCONT); it then executes what
// its clients sent meanwhile, as a server behind a healed partition does.
// Resuming a server that is not paused does nothing.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || !s.paused {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("redistest: resuming redis-server: %v", err)
	}
	s.paused = false
}

// Restart starts a stopped server again, empty, on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		// The old socket may linger for a moment after the kill.
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restarting redis-server on port %d: %v", s.Port, err)
}

// Log returns what the server has printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

func (s *Server) start() error {
	log := &logBuffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", "",
		"--pidfile", filepath.Join(s.dir, "redis.pid"),
	)
	cmd.Stdout = log
	cmd.Stderr = log
	// A test binary killed before its cleanups (go test's -timeout, a
	// CI job cancelled) takes the server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.exited, s.log = cmd, exited, log
	s.mu.Unlock()
	return nil
}
