package server

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

func TestWritePathBatching(t *testing.T) {
	s, _, _ := newFakeServer(Config{})
	fls := []*fakeLoop{{}, {}, {}}
	loops := []*loop{newLoop(s, fls[0]), newLoop(s, fls[1]), newLoop(s, fls[2])}

	t.Run("frames queued in one turn cost one write", func(t *testing.T) {
		c, gc := newFakeConn(s, nil, loops[0], BaseHandler{})
		gc.keep = true
		var want []byte
		for i := 0; i < 10; i++ {
			p := bytes.Repeat([]byte{byte(i)}, i*30)
			if err := c.Send(ws.OpBinary, p); err != nil {
				t.Fatal(err)
			}
			want = append(want, frameWithLen(0x82, p, int64(len(p)), false)...)
		}
		if len(fls[0].tasks) != 1 {
			t.Fatalf("%d flush tasks for one connection's turn, want 1", len(fls[0].tasks))
		}
		fls[0].runTasks()
		if gc.writes != 1 {
			t.Fatalf("%d writes, want 1 Writev", gc.writes)
		}
		if !bytes.Equal(gc.out, want) {
			t.Fatalf("wire bytes differ from the frames in order")
		}
	})

	t.Run("broadcast: one task per loop, one shared frame", func(t *testing.T) {
		to := make([]*Conn, 300)
		gcs := make([]*fakeGnetConn, len(to))
		for i := range to {
			to[i], gcs[i] = newFakeConn(s, nil, loops[i%3], BaseHandler{})
			gcs[i].keep = true
		}
		f := frame.New(5)
		f.Append([]byte("state")...)
		PrepareFrame(f, ws.OpBinary)
		s.Broadcast(f, to, Droppable)
		for i, fl := range fls {
			if len(fl.tasks) != 1 {
				t.Fatalf("loop %d has %d tasks, want 1", i, len(fl.tasks))
			}
		}
		if f.Refs() != int32(1+len(to)) {
			t.Fatalf("refs %d, want one per recipient plus ours", f.Refs())
		}
		for _, fl := range fls {
			fl.runTasks()
		}
		if f.Refs() != 1 {
			t.Fatalf("refs %d after the flushes, want 1", f.Refs())
		}
		for i, gc := range gcs {
			if !bytes.Equal(gc.out, []byte{0x82, 5, 's', 't', 'a', 't', 'e'}) {
				t.Fatalf("recipient %d got %x", i, gc.out)
			}
		}
		f.Release()
	})

	t.Run("unprepared frame refused", func(t *testing.T) {
		c, _ := newFakeConn(s, nil, loops[1], BaseHandler{})
		f := frame.New(1)
		f.Append(1)
		defer f.Release()
		if err := c.SendFrame(f, Reliable); !errors.Is(err, ErrFrameNotPrepared) {
			t.Fatalf("SendFrame: %v", err)
		}
		if err := c.Send(ws.OpPing, make([]byte, 126)); !errors.Is(err, ErrControlTooLong) {
			t.Fatalf("Send long ping: %v", err)
		}
	})
}

func TestCloseFrameSent(t *testing.T) {
	tests := []struct {
		code   ws.StatusCode
		reason string
		want   []byte
	}{
		{1000, "bye", []byte{0x88, 5, 0x03, 0xe8, 'b', 'y', 'e'}},
		{0, "ignored", []byte{0x88, 0}},
		{1005, "", []byte{0x88, 2, 0x03, 0xf3}}, // may not be sent: 1011
		{1013, "", []byte{0x88, 2, 0x03, 0xf5}}, // try again later (IANA registry), as protocol.CloseTryAgainLater
		{4321, string(bytes.Repeat([]byte{'x'}, 200)), append([]byte{0x88, 125, 0x10, 0xe1}, bytes.Repeat([]byte{'x'}, 123)...)},
	}
	for _, tt := range tests {
		t.Run(itoa(int(tt.code)), func(t *testing.T) {
			s, fl, l := newFakeServer(Config{})
			c, gc := newFakeConn(s, nil, l, BaseHandler{})
			gc.keep = true
			c.Close(tt.code, tt.reason)
			c.Close(1000, "second call does nothing")
			fl.runTasks()
			if !bytes.Equal(gc.out, tt.want) {
				t.Fatalf("wire %x, want %x", gc.out, tt.want)
			}
			if c.state != stateClosing {
				t.Fatalf("state %d, want closing", c.state)
			}
		})
	}
}

func TestPutHeaderLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 70000} {
		f := frame.New(n)
		f.Append(make([]byte, n)...)
		PrepareFrame(f, ws.OpText)
		h, err := ws.ReadHeader(bytes.NewReader(f.Wire()))
		if err != nil || h.Length != int64(n) || !h.Fin || h.OpCode != ws.OpText || h.Masked {
			t.Fatalf("n=%d: header %+v, %v", n, h, err)
		}
		f.Release()
	}
}
