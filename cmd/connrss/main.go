// Command connrss measures the resident memory a tickroom server spends per
// idle, upgraded WebSocket connection.
//
// It starts the server as a child process (itself, with -serve), records
// the child's VmRSS, opens idle WebSocket connections to /echo from this
// process in steps, spread over several 127.0.0.x source addresses, and
// prints the child's RSS growth per connection at each step; the child
// ends with this process, however it ends. Everything is on loopback and
// bounded: at most 19,500 connections (each process may hold 20,000
// files), a handshake timeout per connection and an overall deadline.
//
//	go run ./cmd/connrss -steps 10000,19000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxConns bounds the connections one run opens: the server process holds
// one descriptor per connection plus a few, under the 20,000 file limit.
const maxConns = 19500

func main() {
	serve := flag.Bool("serve", false, "run as the measured server (internal)")
	steps := flag.String("steps", "10000,19000", "comma-separated connection counts to measure at")
	sources := flag.Int("sources", 8, "number of 127.0.0.x source addresses to spread clients over")
	loops := flag.Int("loops", 0, "server event loops (0: one per CPU)")
	settle := flag.Duration("settle", 2*time.Second, "wait after each step before reading RSS")
	deadline := flag.Duration("deadline", 5*time.Minute, "give up after this long")
	flag.Parse()
	raiseFileLimit()
	var err error
	if *serve {
		err = runServer(*loops)
	} else {
		err = measure(*steps, *sources, *loops, *settle, *deadline)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "connrss:", err)
		os.Exit(1)
	}
}

// measure runs the client side: start the server child, open connections
// step by step and report RSS.
func measure(stepList string, sources, loops int, settle, deadline time.Duration) error {
	steps, err := parseSteps(stepList)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-serve", "-loops", strconv.Itoa(loops))
	cmd.Stderr = os.Stderr
	// However this process ends (an interrupt, SIGTERM, a kill), the
	// server ends with it rather than run on listening.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the server's address: %w", err)
	}
	addr := strings.TrimSpace(line)
	pid := cmd.Process.Pid
	time.Sleep(settle)
	base, err := rssKiB(pid)
	if err != nil {
		return err
	}
	fmt.Printf("server pid %d on %s, -loops %d (0: one per CPU); baseline RSS %d KiB\n", pid, addr, loops, base)
	fmt.Printf("%8s %12s %14s %16s\n", "conns", "RSS KiB", "growth KiB", "bytes/conn")
	pool := newClientPool(addr, sources)
	defer pool.closeAll()
	for _, n := range steps {
		if err := pool.grow(ctx, n); err != nil {
			return fmt.Errorf("opening %d connections: %w", n, err)
		}
		time.Sleep(settle)
		rss, err := rssKiB(pid)
		if err != nil {
			return err
		}
		fmt.Printf("%8d %12d %14d %16.0f\n", n, rss, rss-base, float64(rss-base)*1024/float64(n))
	}
	return nil
}

// parseSteps parses and bounds the step list.
func parseSteps(s string) ([]int, error) {
	var steps []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad step %q", f)
		}
		if n > maxConns {
			return nil, fmt.Errorf("step %d over the %d-connection bound (20,000 files per process)", n, maxConns)
		}
		if len(steps) > 0 && n <= steps[len(steps)-1] {
			return nil, errors.New("steps must increase")
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// rssKiB reads VmRSS of pid from /proc.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// raiseFileLimit lifts the soft open-file limit to the hard one.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
