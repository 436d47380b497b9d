package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// broadcast runs the /broadcast load and measures the server's CPU per
// frame the clients received.
func broadcast(url string, pid, conns int, rate float64, size int, warmup, window time.Duration) (result, error) {
	if pid <= 0 {
		return result{}, errors.New("broadcast needs -server-pid")
	}
	if conns < 2 || rate <= 0 {
		return result{}, errors.New("broadcast needs -conns ≥ 2 and -rate > 0")
	}
	var got atomic.Uint64 // bytes read by every client
	cs := make([]*websocket.Conn, conns)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for i := range cs {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			return result{}, fmt.Errorf("dial %d: %w", i, err)
		}
		defer c.Close()
		cs[i] = c
		if i > 0 {
			go func(nc net.Conn) { _, _ = io.Copy(counter{&got}, nc) }(c.UnderlyingConn())
		}
	}
	// A server frame of size bytes: a 2-byte header below 126 bytes, 4 up to 64 KiB.
	wire := uint64(size + 2)
	if size >= 126 {
		wire = uint64(size + 4)
	}
	msg := bytes.Repeat([]byte{0x5a}, size)
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		for {
			select {
			case <-stop:
				sent <- nil
				return
			case <-t.C:
				if err := cs[0].WriteMessage(websocket.BinaryMessage, msg); err != nil {
					sent <- err
					return
				}
			}
		}
	}()
	time.Sleep(warmup)
	cpu0, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	b0, t0 := got.Load(), time.Now()
	time.Sleep(window)
	cpu1, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	b1, t1 := got.Load(), time.Now()
	close(stop)
	if err := <-sent; err != nil {
		return result{}, fmt.Errorf("send: %w", err)
	}
	return result{mode: "broadcast", frames: (b1 - b0) / wire, window: t1.Sub(t0), cpu: cpu1 - cpu0, cpuWhat: "server"}, nil
}

// counter counts the bytes written to it.
type counter struct{ n *atomic.Uint64 }

func (c counter) Write(p []byte) (int, error) { c.n.Add(uint64(len(p))); return len(p), nil }

// procCPU returns a process's user and system CPU from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after ") ".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}
