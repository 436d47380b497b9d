package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server"
)

// TestWriteFloor: the write mode writes to real loopback sockets at about
// the asked rate and reports the writer thread's CPU for them.
func TestWriteFloor(t *testing.T) {
	r, err := writeFloor(20, 2000, 64, 100*time.Millisecond, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.frames < 100 || r.cpu <= 0 || r.window < 500*time.Millisecond {
		t.Fatalf("write floor: %v", r)
	}
}

// TestProcCPU reads this process's CPU from /proc.
func TestProcCPU(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	d, err := procCPU(os.Getpid())
	if err != nil || d <= 0 {
		t.Fatalf("procCPU: %v %v", d, err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Fatal("procCPU of no process succeeded")
	}
}

// TestBroadcastWithInputs: with -inputs, every client but the sender sends
// the server frames at the asked rate, which the server reads without
// answering or closing anyone, while the broadcast still reaches them all.
func TestBroadcastWithInputs(t *testing.T) {
	s, err := server.New(server.Config{MaxConns: 64, MaxConnsPerIP: 64})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/broadcast", server.NewBroadcastHandler())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	const conns, inputs = 10, 50.0
	r, err := broadcast("ws://"+s.Addr().String()+"/broadcast", os.Getpid(), conns, 20, 64,
		inflow{rate: inputs, size: 24}, 200*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.frames < 100 {
		t.Fatalf("broadcast with inputs delivered %d frames in %v, want about %d", r.frames, r.window, 20*(conns-1))
	}
	// The inputs of 9 clients for the 1.2 s the run lasted: ~540.
	if want := uint64(inputs * (conns - 1)); r.sentInputs < want || r.inputs < want*3/4 {
		t.Fatalf("the clients sent %d inputs, %d in the window of %v; want at least %d and %d", r.sentInputs, r.inputs, r.window, want, want*3/4)
	}
	// Every frame sent is read: the sender's messages and the inputs.
	var st server.Stats
	for deadline := time.Now().Add(5 * time.Second); ; {
		st = s.Stats()
		if st.FramesIn >= r.sentMsgs+r.sentInputs || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.FramesIn != r.sentMsgs+r.sentInputs {
		t.Fatalf("the server read %d frames; the clients sent %d messages and %d inputs", st.FramesIn, r.sentMsgs, r.sentInputs)
	}
	// And nothing is written but the broadcast: no answer to an input.
	if limit := (conns - 1) * r.sentMsgs; st.FramesOut > limit {
		t.Fatalf("the server wrote %d frames for %d messages to %d clients (at most %d): it answered the inputs", st.FramesOut, r.sentMsgs, conns-1, limit)
	}
}
