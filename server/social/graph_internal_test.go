package social

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// downGraph is a Graph whose Load fails until up is set, then returns data.
type downGraph struct {
	up    atomic.Bool
	tries atomic.Int32
	data  GraphData
}

func (g *downGraph) Load(context.Context, string, int) (GraphData, error) {
	g.tries.Add(1)
	if !g.up.Load() {
		return GraphData{}, errors.New("store out of reach")
	}
	return g.data, nil
}

func (*downGraph) Admit(context.Context, GraphChange, int) error { return nil }

func (*downGraph) Save(c GraphChange) {
	if c.Done != nil {
		c.Done()
	}
}

// TestTiesEndedWhileTheListsLoadAreNotedWithinBounds: while a user's
// lists cannot be read (the store out of reach, the load tried again for
// as long as the user is online), the users it unblocks and the ties
// ended with it (its removes, another node's) are noted so the load does
// not undo them; the notes held every user named, made-up ids too, at the
// contact rate for the whole outage. They hold at most MaxListSize users
// each, and the Unblock and the Remove made past them still stand once
// the load ends.
func TestTiesEndedWhileTheListsLoadAreNotedWithinBounds(t *testing.T) {
	const max, many = 4, 50
	g := &downGraph{data: GraphData{Friends: []string{"bob", "cy"}, Blocks: []string{"mallory"}}}
	everyone := func(netip.Addr) bool { return true }
	so, err := New(Config{Graph: g, MaxListSize: max, ContactBurst: 1000, AddressExempt: everyone}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ann := so.Connect("ann", "ann", nil)
	so.Welcomed(ann)
	for deadline := time.Now().Add(10 * time.Second); g.tries.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ann's lists were never read")
		}
	}
	var id uint32
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for i := range many {
		x := fmt.Sprint("made-up", i)
		id++
		must("unblock "+x, so.Block(ann, id, &tickroomv1.BlockUser{UserId: x, Unblock: true}))
		id++
		must("remove "+x, so.AddFriend(ann, id, &tickroomv1.AddFriend{UserId: x, Remove: true}))
		so.Serve(&RemoteOp{Kind: OpUnfriend, From: fmt.Sprint("elsewhere", i), To: "ann", Node: "n-b"})
	}
	id++
	must("unblock mallory", so.Block(ann, id, &tickroomv1.BlockUser{UserId: "mallory", Unblock: true}))
	id++
	must("remove bob", so.AddFriend(ann, id, &tickroomv1.AddFriend{UserId: "bob", Remove: true}))
	so.mu.Lock()
	p := so.users["ann"]
	unblocked, unfriended := len(so.unblocked[p]), len(so.unfriended[p])
	so.mu.Unlock()
	if unblocked > max || unfriended > max {
		t.Fatalf("ann's lists still unread after %d unblocks and %d ended ties: %d unblocked and %d unfriended noted, want at most MaxListSize (%d) each",
			many+1, 2*many+1, unblocked, unfriended, max)
	}

	g.up.Store(true)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		so.mu.Lock()
		merged := p.merged
		so.mu.Unlock()
		if merged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ann's lists were not read once the store answered")
		}
	}
	mallory := so.Connect("mallory", "mallory", nil)
	if err := so.SendDirect(mallory, 1, &tickroomv1.SendDirect{ToUserId: "ann", Text: "hi"}); err != nil {
		t.Fatalf("mallory's message to ann, who unblocked her while her lists loaded: %v, want it delivered", err)
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	if has(p.friends, "bob") {
		t.Fatalf("ann, who removed bob while her lists loaded, has him for a friend once they are read: %v", p.friends)
	}
	if len(so.unblocked)+len(so.unfriended) != 0 {
		t.Fatalf("notes left once the lists are merged: %v, %v", so.unblocked, so.unfriended)
	}
}
