// Command fanoutcpu measures the references the game path's CPU per
// delivered frame is judged against: a tickroom server's /broadcast fan-out
// at a given delivery rate (the transport's own cost per frame), and the
// floor under it, one small write(2) to a loopback TCP socket.
//
//	taskset -c 1 go run ./cmd/tickroom -conformance-endpoints &
//	taskset -c 0 go run ./cmd/fanoutcpu -mode broadcast -url ws://127.0.0.1:8081/broadcast -server-pid $! -conns 1000 -rate 20
//	taskset -c 0 go run ./cmd/fanoutcpu -mode write -conns 1000 -rate 20000
//
// broadcast opens -conns connections; one of them sends -rate messages a
// second of -size bytes, which the server sends to every other connection
// (one frame per write), and the others read and discard. It prints the
// server process's CPU (from /proc) per frame the clients received, over
// -duration after -warmup. With -inputs, every client but the sender also
// sends that many frames a second of -input-size bytes, unsolicited pongs
// (RFC 6455 §5.5.3: no answer is due), which the server reads, parses and
// drops: the transport's own cost of reading what a game's clients send.
// write opens -conns loopback TCP connections to
// itself and writes -size bytes to one after another, -rate writes a second,
// from one OS thread, and prints that thread's CPU per write (the kernel's
// loopback delivery, billed to the sender, included).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	mode := flag.String("mode", "broadcast", "broadcast or write")
	url := flag.String("url", "ws://127.0.0.1:8081/broadcast", "broadcast: the server's /broadcast URL")
	pid := flag.Int("server-pid", 0, "broadcast: the server's pid, for its CPU from /proc")
	conns := flag.Int("conns", 1000, "connections")
	rate := flag.Float64("rate", 20, "broadcast: messages sent a second; write: writes a second")
	size := flag.Int("size", 64, "payload bytes of a message or write")
	duration := flag.Duration("duration", 20*time.Second, "measured window")
	warmup := flag.Duration("warmup", 3*time.Second, "time before the window")
	inputs := flag.Float64("inputs", 0, "broadcast: frames a second each client but the sender sends the server (unsolicited pongs, read and dropped)")
	inputSize := flag.Int("input-size", 24, "broadcast: payload bytes of each of -inputs' frames (below 126)")
	flag.Parse()
	var (
		r   result
		err error
	)
	switch *mode {
	case "broadcast":
		r, err = broadcast(*url, *pid, *conns, *rate, *size, inflow{*inputs, *inputSize}, *warmup, *duration)
	case "write":
		r, err = writeFloor(*conns, *rate, *size, *warmup, *duration)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanoutcpu:", err)
		os.Exit(1)
	}
	fmt.Println(r)
}

// result is one measurement.
type result struct {
	mode    string
	frames  uint64
	window  time.Duration
	cpu     time.Duration
	cpuWhat string
	// broadcast only: the inputs the clients sent in the window, and the
	// messages and inputs sent in the whole run.
	inputs, sentMsgs, sentInputs uint64
}

func (r result) String() string {
	per := 0.0
	if r.frames > 0 {
		per = float64(r.cpu.Nanoseconds()) / float64(r.frames) / 1e3
	}
	line := fmt.Sprintf("%s: %d frames in %.1f s (%.0f/s), %s CPU %.2f s: %.2f µs per frame",
		r.mode, r.frames, r.window.Seconds(), float64(r.frames)/r.window.Seconds(), r.cpuWhat, r.cpu.Seconds(), per)
	if r.sentInputs > 0 {
		line += fmt.Sprintf("; inputs sent %.0f a second", float64(r.inputs)/r.window.Seconds())
	}
	return line
}
