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

// inflow is what the clients send the server beside the broadcast: rate
// frames a second each, of size payload bytes.
type inflow struct {
	rate float64
	size int
}

// broadcast runs the /broadcast load and measures the server's CPU per
// frame the clients received.
func broadcast(url string, pid, conns int, rate float64, size int, in inflow, warmup, window time.Duration) (result, error) {
	if pid <= 0 {
		return result{}, errors.New("broadcast needs -server-pid")
	}
	if conns < 2 || rate <= 0 {
		return result{}, errors.New("broadcast needs -conns ≥ 2 and -rate > 0")
	}
	if in.rate < 0 || in.size < 0 || in.size > 125 {
		return result{}, errors.New("broadcast needs -inputs ≥ 0 and -input-size 0–125")
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
	var msgs, inputs atomic.Uint64 // sent by the sender, and by the others
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
				msgs.Add(1)
			}
		}
	}()
	inDone := make(chan error, 1)
	if in.rate > 0 {
		go func() { inDone <- sendInputs(cs[1:], in, &inputs, stop) }()
	} else {
		inDone <- nil
	}
	time.Sleep(warmup)
	cpu0, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	b0, i0, t0 := got.Load(), inputs.Load(), time.Now()
	fmt.Fprintln(os.Stderr, "window started") // scripts start their recordings on it
	time.Sleep(window)
	cpu1, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	b1, i1, t1 := got.Load(), inputs.Load(), time.Now()
	close(stop)
	if err := <-sent; err != nil {
		return result{}, fmt.Errorf("send: %w", err)
	}
	if err := <-inDone; err != nil {
		return result{}, fmt.Errorf("inputs: %w", err)
	}
	mode := "broadcast"
	if in.rate > 0 {
		mode = fmt.Sprintf("broadcast with %g inputs/s a client", in.rate)
	}
	return result{mode: mode, frames: (b1 - b0) / wire, window: t1.Sub(t0), cpu: cpu1 - cpu0, cpuWhat: "server",
		inputs: i1 - i0, sentMsgs: msgs.Load(), sentInputs: inputs.Load()}, nil
}

// sendInputs writes in.rate masked pong frames a second of in.size bytes
// to each of cs, one connection after another, spread evenly over time,
// until stop closes, counting them in n.
func sendInputs(cs []*websocket.Conn, in inflow, n *atomic.Uint64, stop <-chan struct{}) error {
	frame := make([]byte, 0, 6+in.size)
	frame = append(frame, 0x8a, 0x80|byte(in.size)) // FIN, pong; masked
	key := [4]byte{0x1f, 0x2e, 0x3d, 0x4c}
	frame = append(frame, key[:]...)
	for i := range in.size {
		frame = append(frame, byte('a'+i%26)^key[i%4])
	}
	total := in.rate * float64(len(cs))
	t0 := time.Now()
	var sent uint64
	for next := 0; ; {
		select {
		case <-stop:
			return nil
		default:
		}
		due := uint64(time.Since(t0).Seconds() * total)
		for ; sent < due; sent++ {
			if _, err := cs[next].UnderlyingConn().Write(frame); err != nil {
				return err
			}
			n.Add(1)
			next = (next + 1) % len(cs)
		}
		time.Sleep(time.Millisecond)
	}
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
