package tickroom_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
)

// TestPublicHTTPRequestHeadsAreBounded runs the attack of clients that
// send the public HTTP port request heads of a megabyte (net/http's
// default) and never end them: each connection held its whole head for
// the 5 s header timeout, so that four addresses at their 64 connections
// each held 256 MB, and the port's 4,096 connections 4 GB. A head past
// 8 KiB (and net/http's 4 KiB of slack) is now answered 431 and its
// connection closed, as the WebSocket port's upgrade requests are.
func TestPublicHTTPRequestHeadsAreBounded(t *testing.T) {
	srv, _, _ := start(t, tickroom.Options{})
	addr := srv.HTTPAddr()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// A head of a usual size is served.
	ok := dialFrom(t, addr, "127.0.4.9")
	if st, _ := ok.send("GET /v1/config HTTP/1.1\r\nHost: test\r\nCookie: " + strings.Repeat("c", 6000) + "\r\n\r\n"); st != http.StatusOK {
		t.Fatalf("a 6 KB head: %d, want 200", st)
	}
	before := heap()
	line := "X-Pad: " + strings.Repeat("a", 8000) + "\r\n"
	var cs []*httpClient
	for i := range 4 {
		src := fmt.Sprintf("127.0.4.%d", i+1)
		for range 64 {
			c := dialFrom(t, addr, src)
			_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c.nc, "GET /v1/config HTTP/1.1\r\nHost: test\r\n")
			for range 128 { // a megabyte, never ended
				if _, err := io.WriteString(c.nc, line); err != nil {
					break // refused and closed
				}
			}
			cs = append(cs, c)
		}
	}
	time.Sleep(500 * time.Millisecond)
	held := int64(heap()) - int64(before)
	t.Logf("256 connections sending a megabyte of head each: the heap grew by %d KB", held>>10)
	if held > 32<<20 {
		t.Fatalf("256 unfinished request heads held %d MB", held>>20)
	}
	// Each was answered 431 and closed.
	c := cs[0]
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("no answer to an oversized head: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized head: %d, want 431", resp.StatusCode)
	}
}
