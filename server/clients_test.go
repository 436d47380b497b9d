package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

func TestGorillaEcho(t *testing.T) {
	s := startServer(t, Config{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 4000) // 64,000 bytes, 64-bit length header
	tests := []struct {
		name string
		typ  int
		data []byte
	}{
		{"text", gorilla.TextMessage, []byte("hello, tickroom ✓")},
		{"binary", gorilla.BinaryMessage, []byte{0, 1, 2, 0xff, 0xfe}},
		{"empty text", gorilla.TextMessage, nil},
		{"medium binary", gorilla.BinaryMessage, bytes.Repeat([]byte{7}, 300)},
		{"large binary", gorilla.BinaryMessage, big},
	}
	c, resp, err := gorilla.DefaultDialer.Dial(s.url+"/echo", http.Header{"Sec-WebSocket-Protocol": {"other, tickroom.v1"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != Subprotocol {
		t.Errorf("subprotocol = %q, want %q", got, Subprotocol)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(tt.typ, tt.data); err != nil {
				t.Fatalf("write: %v", err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ != tt.typ || !bytes.Equal(got, tt.data) {
				t.Fatalf("echo = type %d, %d bytes; want type %d, %d bytes", typ, len(got), tt.typ, len(tt.data))
			}
		})
	}
	t.Run("fragmented text", func(t *testing.T) {
		w, err := c.NextWriter(gorilla.TextMessage)
		if err != nil {
			t.Fatal(err)
		}
		// gorilla flushes a frame per 4 KiB write buffer; split a rune
		// across writes too.
		msg := strings.Repeat("héllo wörld ", 2000)
		for i := 0; i < len(msg); i += 999 {
			if _, err := w.Write([]byte(msg[i:min(i+999, len(msg))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil || typ != gorilla.TextMessage || string(got) != msg {
			t.Fatalf("fragmented echo: type %d, %d bytes, err %v", typ, len(got), err)
		}
	})
	t.Run("many in order", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			if err := c.WriteMessage(gorilla.TextMessage, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 200; i++ {
			_, got, err := c.ReadMessage()
			if err != nil || string(got) != fmt.Sprint(i) {
				t.Fatalf("message %d = %q, %v", i, got, err)
			}
		}
	})
	t.Run("ping pong", func(t *testing.T) {
		pong := make(chan string, 1)
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		if err := c.WriteControl(gorilla.PingMessage, []byte("are you there"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The pong handler runs inside a read; an echo gives the read
		// something to return.
		_ = c.WriteMessage(gorilla.TextMessage, []byte("after ping"))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-pong:
			if p != "are you there" {
				t.Fatalf("pong payload %q", p)
			}
		default:
			t.Fatal("no pong before the echo that followed the ping")
		}
	})
	t.Run("close handshake", func(t *testing.T) {
		msg := gorilla.FormatCloseMessage(4001, "bye")
		if err := c.WriteControl(gorilla.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.ReadMessage()
		var ce *gorilla.CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("close echo: %v, want code 4001", err)
		}
	})
}

func TestCoderEchoAndBroadcast(t *testing.T) {
	s := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("echo", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, s.url+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for _, tt := range []struct {
			typ  websocket.MessageType
			data []byte
		}{
			{websocket.MessageText, []byte("coder text")},
			{websocket.MessageBinary, bytes.Repeat([]byte{1, 2, 3}, 20000)},
		} {
			if err := c.Write(ctx, tt.typ, tt.data); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.Read(ctx)
			if err != nil || typ != tt.typ || !bytes.Equal(got, tt.data) {
				t.Fatalf("echo: type %v, %d bytes, %v", typ, len(got), err)
			}
		}
		if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
	})

	t.Run("broadcast", func(t *testing.T) {
		const n = 5
		conns := make([]*websocket.Conn, n)
		for i := range conns {
			c, _, err := websocket.Dial(ctx, s.url+"/broadcast", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			conns[i] = c
		}
		waitFor(t, func() bool { return s.bcast.Len() == n })
		if err := conns[0].Write(ctx, websocket.MessageText, []byte("hi all")); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < n; i++ {
			typ, got, err := conns[i].Read(ctx)
			if err != nil || typ != websocket.MessageText || string(got) != "hi all" {
				t.Fatalf("member %d got %q %v %v", i, got, typ, err)
			}
		}
		// The sender gets nothing: its next read sees the next sender's
		// message first.
		if err := conns[1].Write(ctx, websocket.MessageBinary, []byte{42}); err != nil {
			t.Fatal(err)
		}
		typ, got, err := conns[0].Read(ctx)
		if err != nil || typ != websocket.MessageBinary || !bytes.Equal(got, []byte{42}) {
			t.Fatalf("sender's next message = %q %v %v, want its own message skipped", got, typ, err)
		}
	})
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
