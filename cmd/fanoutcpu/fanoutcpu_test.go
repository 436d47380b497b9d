package main

import (
	"os"
	"testing"
	"time"
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
