package frame

import (
	"bytes"
	"sync"
	"testing"
)

func TestHeaderPrecedesPayload(t *testing.T) {
	f := New(16)
	defer f.Release()
	f.Append([]byte("hello")...)
	f.SetHeader([]byte{0x82, 5})
	if got, want := f.Wire(), []byte{0x82, 5, 'h', 'e', 'l', 'l', 'o'}; !bytes.Equal(got, want) {
		t.Fatalf("Wire() = %q, want %q", got, want)
	}
	copy(f.HeaderRoom(3), []byte{1, 2, 3})
	if got := f.Wire(); !bytes.Equal(got[:3], []byte{1, 2, 3}) || !bytes.Equal(f.Payload(), []byte("hello")) {
		t.Fatalf("after HeaderRoom: wire %v payload %q", got, f.Payload())
	}
}

func TestRefCountReturnsOnLastRelease(t *testing.T) {
	f := New(8)
	const holders = 64
	var wg sync.WaitGroup
	for range holders {
		f.Retain()
		wg.Add(1)
		go func() { defer wg.Done(); f.Release() }()
	}
	wg.Wait()
	if got := f.Refs(); got != 1 {
		t.Fatalf("refs after concurrent retain/release = %d, want 1", got)
	}
	f.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("a Release past zero did not panic")
		}
	}()
	f.refs.Store(0)
	f.Release()
}

func BenchmarkNewAppendRelease(b *testing.B) {
	b.ReportAllocs()
	p := bytes.Repeat([]byte{7}, 100)
	for b.Loop() {
		f := New(len(p))
		f.Append(p...)
		f.SetHeader([]byte{0x82, 100})
		f.Release()
	}
}
