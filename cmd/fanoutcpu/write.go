package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"time"
)

// writeFloor writes size-byte messages round-robin to conns loopback TCP
// connections, rate a second, from one locked OS thread, and measures that
// thread's CPU per write.
func writeFloor(conns int, rate float64, size int, warmup, window time.Duration) (result, error) {
	if conns < 1 || rate <= 0 {
		return result{}, errors.New("write needs -conns ≥ 1 and -rate > 0")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	raws := make([]syscall.RawConn, conns)
	for i := range raws {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return result{}, fmt.Errorf("dial %d: %w", i, err)
		}
		defer c.Close()
		if raws[i], err = c.(*net.TCPConn).SyscallConn(); err != nil {
			return result{}, err
		}
	}
	buf := make([]byte, size)
	type out struct {
		r   result
		err error
	}
	done := make(chan out, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		// Writes go out in bursts about once a millisecond, as a tick's
		// frames do; a late wake-up makes a bigger burst, keeping the rate.
		last, owed, i := time.Now(), 0.0, 0
		var writes uint64
		var cpu0 time.Duration
		var t0 time.Time
		start := time.Now()
		measuring := false
		for {
			now := time.Now()
			if !measuring && now.Sub(start) >= warmup {
				measuring, t0, writes, cpu0 = true, now, 0, threadCPU()
			}
			if measuring && now.Sub(t0) >= window {
				done <- out{r: result{mode: "write", frames: writes, window: now.Sub(t0), cpu: threadCPU() - cpu0, cpuWhat: "writer thread"}}
				return
			}
			owed += now.Sub(last).Seconds() * rate
			last = now
			for ; owed >= 1; owed-- {
				var werr error
				_ = raws[i].Write(func(fd uintptr) bool {
					_, werr = syscall.Write(int(fd), buf)
					return true // never wait: a full socket counts as a failed write
				})
				if werr != nil && werr != syscall.EAGAIN {
					done <- out{err: werr}
					return
				}
				writes++
				i = (i + 1) % len(raws)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	o := <-done
	return o.r, o.err
}

// threadCPU returns the calling OS thread's user and system CPU.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
