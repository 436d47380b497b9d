package pgtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A test binary that never reaches its cleanups (go test's -timeout
// panics it, CI kills it) leaves no PostgreSQL server running and no data
// directory behind.
func TestServerDiesWithTheTestProcess(t *testing.T) {
	if os.Getenv("PGTEST_ORPHAN") == "1" {
		s := Start(t)
		fmt.Printf("postmaster %d in %s\n", s.pids(t)[0], s.dir)
		select {} // until killed, as a hung test is
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTheTestProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN=1")
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
	var dir string
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "postmaster %d in %s", &pid, &dir)
	}
	if pid == 0 || dir == "" {
		t.Fatal("the child test printed no postmaster")
	}
	// Stop the orphan whatever this test finds.
	defer os.RemoveAll(dir)
	defer syscall.Kill(pid, syscall.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still runs 30 s after its test process was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there 30 s after its test process was killed", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
