package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
)

// olderClaim reads a reservation token's value v as a node of a version
// before the refused rooms did: all that follows "<node>|<user>|" is the
// room id ("" for a room to be made there).
func olderClaim(v, node, user string) (room string, ok bool) {
	room, ok = strings.CutPrefix(v, node+"|"+user+"|")
	return room, ok && !strings.Contains(room, "|")
}

// TestReservationsKeepTheOlderFormWhileAnOlderNodeRuns: while a node that
// does not say it reads the refused rooms of a reservation is registered
// (an older version, in a rolling deploy), the tokens of a match and of a
// placement are written as before, without them, so that such a node
// reads the room it was sent to (or none, for a room to make there); once
// it is gone they carry them again. Before, an older node read the
// match's "<room>,<refused>" as a room id it did not have and tried its
// rooms of the pool in turn, and the seat reserved in the room, unless it
// seated the player there, stayed reserved, keeping others out until it
// lapsed.
func TestReservationsKeepTheOlderFormWhileAnOlderNodeRuns(t *testing.T) {
	t.Parallel()
	rs, a, b, fuller, other := twoPoolRooms(t)
	ctx := context.Background()
	rdb := rs.Client(t)
	// An older node: it reads raw bodies and "ops" messages, but its
	// registration has no "refused". It drains, so nothing is placed on
	// it.
	old := a.Keys().Node("old")
	if err := rdb.HSet(ctx, old, "id", "old", "ws", "ws://127.0.0.1:1/v1/ws", "draining", "1",
		"started", "1700000000000", "wire", "1700000000000", "ops", "1700000000000").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, old, 30*time.Second)
	rdb.ZAdd(ctx, a.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(30 * time.Second).UnixMilli()), Member: "old"})

	// The nodes see it at their next heartbeat: until then a match may
	// carry the refusals still.
	refused := []string{fuller.ID()}
	var tok string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, ok, err := a.dir.Match(ctx, "p", "me", refused, nil)
		if err != nil || !ok || r.RoomID != other.ID() {
			t.Fatalf("match passing over the fuller room: %+v %v %v, want b's %s", r, ok, err, other.ID())
		}
		v, _ := rdb.Get(ctx, a.Keys().Reservation(r.Token)).Result()
		room, ok := olderClaim(v, "b", "me")
		if _, has := b.rt.Room(room); ok && has {
			tok = r.Token
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with an older node registered, the match's reservation is %q: an older b reads room %q, which it does not have (want %s)", v, room, other.ID())
		}
	}
	// A node of this version reads it too, without the refusals.
	if got, ok := b.dir.Claim(ctx, tok, "me"); !ok || got.RoomID != other.ID() || got.Refused != nil {
		t.Fatalf("b claims the match: %+v %v, want room %s without refusals", got, ok, other.ID())
	}

	// A placement on another node (b drains, so a is placed) is a room to
	// make there.
	b.SetDraining(true)
	waitFor(t, 5*time.Second, "b draining", func() bool {
		n, _ := b.Nodes(ctx)
		return len(n) == 3 && n[1].Draining
	})
	p, err := b.dir.Place(ctx, "me", refused)
	if err != nil || p.NodeID != "a" {
		t.Fatalf("place from a draining b: %+v %v, want a", p, err)
	}
	v, _ := rdb.Get(ctx, a.Keys().Reservation(p.Token)).Result()
	if room, ok := olderClaim(v, "a", "me"); !ok || room != "" {
		t.Fatalf("with an older node registered, the placement's reservation is %q: an older a reads room %q, want none", v, room)
	}

	// The older node stops: the reservations carry the refusals again.
	rdb.Del(ctx, old)
	rdb.ZRem(ctx, a.Keys().Nodes(), "old")
	waitFor(t, 5*time.Second, "the placement carrying the refusals once the older node is gone", func() bool {
		p, err := b.dir.Place(ctx, "me", refused)
		if err != nil || p.NodeID != "a" {
			return false
		}
		got, ok := a.dir.Claim(ctx, p.Token, "me")
		return ok && got.RoomID == "" && slices.Equal(got.Refused, refused)
	})
}

// twoPoolRooms starts nodes a and b on a private Redis (rs), each with an
// arena room of four in pool "p": a's, fuller, has two seats reserved
// (for x and y), b's (other) none, so a match picks fuller first.
func twoPoolRooms(t *testing.T) (rs *redistest.Server, a, b *testNode, fuller, other *game.Room) {
	t.Helper()
	rs = redistest.Start(t)
	a, b = startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	fuller = a.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	other = b.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	for _, u := range []string{"x", "y"} {
		if _, err := a.dir.Reserve(context.Background(), fuller.ID(), u, ""); err != nil {
			t.Fatal(err)
		}
	}
	return rs, a, b, fuller, other
}
