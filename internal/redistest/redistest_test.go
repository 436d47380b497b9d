package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A test server answers, loses its data when restarted, and comes back on
// the same port, which is what the cluster's Redis-restart tests rely on.
func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while the server was stopped")
	}
	s.Restart(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("key after restart: exists=%d err=%v, want gone", n, err)
	}
}

// A paused server keeps its port but answers nothing, so a client's
// deadline fires instead of a refused connection; resumed, it answers with
// its data kept.
func TestPauseResume(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Ping(short).Err()
	cancelShort()
	if err == nil {
		t.Fatal("PING answered while the server was paused")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("PING while paused: %v, want a timeout (not a refused connection)", err)
	}
	s.Resume(t)
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET after resume: %q %v, want v", v, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A test binary that never reaches its cleanups (go test's -timeout
// panics it, CI kills it) leaves no redis-server running: the server dies
// with the process that started it.
func TestServerDiesWithTheTestProcess(t *testing.T) {
	if os.Getenv("REDISTEST_ORPHAN") == "1" {
		s := Start(t)
		fmt.Printf("redis-server pid %d\n", s.cmd.Process.Pid)
		select {} // until killed, as a hung test is
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTheTestProcess$", "-test.count=1")
	// The child's temporary directories, which it never removes, are made
	// in this test's.
	cmd.Env = append(os.Environ(), "REDISTEST_ORPHAN=1", "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var pid int
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "redis-server pid %d", &pid)
	}
	if pid == 0 {
		t.Fatal("the child test printed no redis-server pid")
	}
	// Stop the orphan whatever this test finds.
	defer syscall.Kill(pid, syscall.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %d still runs 10 s after its test process was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
