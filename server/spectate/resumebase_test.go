package spectate_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server/spectate"
)

// quietClient is a member's connection the hub does not know: the room's
// frames to it go nowhere.
type quietClient struct{ name string }

func (*quietClient) Congested() bool { return false }

// TestResumeBaseSurvivesARoomEventBurst: a resumed JSON stream gets the
// room's state at its resume tick (the resume base, a keyframe it applies
// unseen) as a reliable frame, behind the room events of the same tick.
// When more than the 32 room events a stream holds between two writes came
// ahead of it, the base was dropped with the excess; the stream could then
// decode none of its deltas and sent nothing but keep-alives, a view frozen
// without a sign until the client happened to reconnect. The room's tick
// worker is held so that the stream's Observe and 34 room events (a
// member's resumes) are applied in one tick, and the stream before its
// first write, so that all of it waits in its sink.
func TestResumeBaseSurvivesARoomEventBurst(t *testing.T) {
	e := start(t, spectate.Config{})
	o := opts(t.Name())
	o.Options["hold"] = t.Name()
	room, dial := e.room(o)
	bob := &quietClient{"bob"}
	resume := func() error { return room.Join(game.JoinRequest{UserID: "bob", Name: "bob", Client: bob}, nil) }
	if err := resume(); err != nil { // bob's first join
		t.Fatal(err)
	}
	dial.Store(1)
	s, _, _ := e.open(room.ID(), "", nil)
	seen := s.stateWith(`"1"`)
	s.resp.Body.Close()
	waitFor(t, func() bool { return room.Info().Observers == 0 })
	dial.Store(2)

	h := holdRoom(t, t.Name())
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the room's tick worker did not reach the hold")
	}
	took := make(chan uint64, 1)
	release := make(chan struct{})
	spectate.SetBeforeRun(t, func(id string) {
		if id == room.ID() {
			took <- room.Info().Tick
			<-release
		}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	wait := e.openLater(room.ID(), http.Header{"Last-Event-ID": {strconv.FormatUint(seen.Tick, 10)}})
	waitFor(t, func() bool { return room.Info().Observers == 1 }) // its Observe is queued
	const burst = 34
	for i := range burst {
		if err := resume(); err != nil {
			t.Fatalf("bob's resume %d: %v", i, err)
		}
	}
	h.release()
	var tick uint64
	select {
	case tick = <-took:
	case <-time.After(10 * time.Second):
		t.Fatal("the room did not take the stream")
	}
	// The tick that took the stream is over: its room events, the base and
	// the delta from the resume tick wait in the stream's sink.
	waitFor(t, func() bool { return room.Info().Tick > tick })
	dropped := e.feeds.Dropped()
	close(release)
	rs := wait()

	events := 0
	deadline := time.After(3 * time.Second)
	for {
		var ev event
		select {
		case ev = <-rs.events:
		case <-deadline:
			t.Fatalf("the resumed stream sent %d room events and no state in 3 s (%d room frames dropped): its resume base was dropped with the room events past 32, and its deltas do not decode", events, dropped)
		}
		if ev.name == "room" {
			events++
			continue
		}
		if ev.name != "state" {
			continue
		}
		st := rs.decode(ev)
		if st.Keyframe || st.BaseTick != seen.Tick || len(st.Upserts) != 1 || string(st.Upserts[0].Value) != `"2"` {
			t.Fatalf("first state after the burst: %+v, want a delta from the resume tick %d showing 2", st, seen.Tick)
		}
		break
	}
	if events != 32 || dropped != burst-32 {
		t.Fatalf("%d room events written and %d dropped, want the 32 a stream holds and the %d past them", events, dropped, burst-32)
	}
	dial.Store(3)
	if st := rs.stateWith(`"3"`); st.Keyframe {
		t.Fatalf("%+v, want the stream to go on with deltas", st)
	}
}
