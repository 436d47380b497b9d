package bots

import (
	"os"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestScheduleSendsPingsAndInputsOnTime runs a loop's schedule passes over
// 20 simulated seconds, every millisecond as the loop does, for one bot that only
// heartbeats (pings every 1.3 s) and one that also moves (0.5 Hz, pinging
// every 2.5 s when idle, so its moves stand in for pings): the peer of each socket gets what a server would, at
// the times due, though the passes skip bots that are not due.
func TestScheduleSendsPingsAndInputsOnTime(t *testing.T) {
	e := &engine{cfg: Config{InputHz: 0.5}}
	l := &loop{e: e, st: new(loopStats), rng: 1, epfd: -1, evfd: -1, wbuf: make([]byte, 0, 256)}
	peers := make([]*os.File, 2)
	bots := make([]*bot, 2)
	for i := range bots {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = os.NewFile(uintptr(fds[1]), "peer")
		t.Cleanup(func() { unix.Close(fds[0]); peers[i].Close() })
		bots[i] = &bot{e: e, l: l, fd: fds[0], phase: phaseOpen, heartbeat: 1.3e9, roomID: "r1", seat: 1}
		l.join(bots[i])
	}
	// Bot 1 is seated from t=0 with its first move at 1 s; bot 0 has no seat.
	bots[1].joined, bots[1].nextInput, bots[1].heartbeat = true, 1e9, 2.5e9
	const step, end = int64(schedPeriod), int64(20e9)
	for now := int64(0); now <= end; now += step {
		l.schedule(now)
	}
	for i := range bots {
		unix.Close(bots[i].fd)
	}

	count := func(f *os.File) (pings, inputs int) {
		for {
			fr, err := ws.ReadFrame(f)
			if err != nil {
				return
			}
			ws.Cipher(fr.Payload, fr.Header.Mask, 0)
			var m tickroomv1.ClientMessage
			if err := m.UnmarshalVT(fr.Payload); err != nil {
				t.Fatalf("frame: %v", err)
			}
			switch m.Body.(type) {
			case *tickroomv1.ClientMessage_Ping:
				pings++
			case *tickroomv1.ClientMessage_Input:
				inputs++
			}
		}
	}
	// Bot 0: a ping at 0 s (nothing sent yet), then every 1.3 s up to 20 s.
	if p, in := count(peers[0]); p != 16 || in != 0 {
		t.Fatalf("heartbeating bot sent %d pings and %d inputs in 20 s; want 16 and 0", p, in)
	}
	// Bot 1: a ping at 0 s, then its moves at 1, 3, …, 19 s, each putting
	// the next ping off by 2.5 s, so no other ping.
	if p, in := count(peers[1]); p != 1 || in != 10 {
		t.Fatalf("moving bot sent %d pings and %d inputs in 20 s; want 1 and 10", p, in)
	}
}
