// Package heapprof lets a memory benchmark leave its heap profile behind,
// to attribute the bytes it reports: TICKROOM_BENCH_HEAPPROFILE names the
// file. It is imported by benchmarks only.
package heapprof

import (
	"os"
	"runtime/pprof"
	"testing"
)

// WriteIfAsked writes the heap profile to the file
// TICKROOM_BENCH_HEAPPROFILE names; without it, it does nothing.
func WriteIfAsked(tb testing.TB) {
	tb.Helper()
	path := os.Getenv("TICKROOM_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	err = pprof.WriteHeapProfile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
}
