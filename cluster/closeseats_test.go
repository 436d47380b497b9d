package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// sealedGame closes its seats (Context.CloseSeats) once its first player
// joined, as eights does at the deal.
type sealedGame struct{}

func (sealedGame) Accept(*game.Context, game.Player) error { return nil }
func (sealedGame) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if kind == game.NoticeJoined && !p.Spectator {
		ctx.CloseSeats()
	}
}
func (sealedGame) Input(*game.Context, uint32, []byte) error { return nil }
func (sealedGame) Update(*game.Context, time.Duration)       {}
func (sealedGame) Encode(*game.Snapshot)                     {}

// publishedRoom starts a node and its directory on a fresh Redis, with
// one game, g, of 4 seats, and publishes a room of it with password pw
// ("" for none).
func publishedRoom(t *testing.T, name string, g game.Game, pw string) (*Directory, *game.Room) {
	t.Helper()
	rs := redistest.Start(t)
	n := startNode(t, rs, "a")
	reg := game.NewRegistry()
	if err := reg.Register(game.Definition{Name: name, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) { return g, nil }}); err != nil {
		t.Fatal(err)
	}
	rt, err := game.NewRuntime(game.Config{Registry: reg, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	d, err := NewDirectory(DirectoryConfig{Node: n, Runtime: rt, SyncInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	r, err := rt.CreateRoom(game.RoomOptions{Game: name, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(context.Background(), r, name); err != nil {
		t.Fatal(err)
	}
	return d, r
}

// TestClosedSeatsLeaveTheJoinableListing: a room whose game closed its
// seats takes no new player, so the cluster's listing of joinable rooms
// (ListRooms and WatchRooms with free_seats_only) leaves it out, as a
// single node's does; it left it in as long as a player seat was free.
func TestClosedSeatsLeaveTheJoinableListing(t *testing.T) {
	t.Parallel()
	d, r := publishedRoom(t, "sealed", sealedGame{}, "")
	ctx := context.Background()
	joined := make(chan game.JoinResult, 1)
	if err := r.Join(game.JoinRequest{UserID: "ann", Name: "ann", Client: idleClient{}}, func(res game.JoinResult) { joined <- res }); err != nil {
		t.Fatal(err)
	}
	if res := <-joined; res.Err != nil {
		t.Fatal(res.Err)
	}
	waitFor(t, 5*time.Second, "the room's closed seats published", func() bool {
		rooms, _, _ := d.List(ctx, hub.RoomQuery{Limit: 10})
		return len(rooms) == 1 && rooms[0].Players == 1
	})
	time.Sleep(200 * time.Millisecond) // a few syncs past the join
	if rooms, _, err := d.List(ctx, hub.RoomQuery{Joinable: true, Limit: 10}); err != nil || len(rooms) != 0 {
		t.Fatalf("joinable rooms: %+v, %v; want none, the room's game closed its seats", rooms, err)
	}
	if rooms, _, _ := d.List(ctx, hub.RoomQuery{Limit: 10}); len(rooms) != 1 || !rooms[0].SeatsClosed {
		t.Fatalf("listed rooms: %+v; want the room with SeatsClosed", rooms)
	}
	// A join from another node is refused as the room's own node refuses
	// it (FORBIDDEN, locked), not sent there with a reservation first.
	var pe *protocol.Error
	if res, err := d.Reserve(ctx, r.ID(), "bob", ""); !errors.As(err, &pe) || pe.Code != protocol.ErrorForbidden || !strings.Contains(pe.Text(), "locked") {
		t.Fatalf("a seat in a room with closed seats: %+v, %v; want FORBIDDEN, locked", res, err)
	}
	// A player of the room still gets its seat back (a resume).
	if _, err := d.Reserve(ctx, r.ID(), "ann", ""); err != nil {
		t.Fatalf("the room's own player: %v", err)
	}
}

// TestALockedRoomRefusesAJoinFromAnotherNode: a locked room is refused as
// on its own node (FORBIDDEN, locked); the cluster said ROOM_CLOSING, as
// if it were ending.
func TestALockedRoomRefusesAJoinFromAnotherNode(t *testing.T) {
	t.Parallel()
	d, r := publishedRoom(t, "plain", plainGame{}, "sesame")
	ctx := context.Background()
	r.Lock()
	waitFor(t, 5*time.Second, "the lock published", func() bool {
		rooms, _, _ := d.List(ctx, hub.RoomQuery{Limit: 10})
		return len(rooms) == 1 && rooms[0].Locked
	})
	var pe *protocol.Error
	if res, err := d.Reserve(ctx, r.ID(), "bob", "sesame"); !errors.As(err, &pe) || pe.Code != protocol.ErrorForbidden || !strings.Contains(pe.Text(), "locked") {
		t.Fatalf("a seat in a locked room: %+v, %v; want FORBIDDEN, locked", res, err)
	}
	// Its own node says locked before it looks at a password (game.Room
	// Join), so a wrong one is no guess there, and none here either.
	if _, err := d.Reserve(ctx, r.ID(), "cy", "wrong"); !errors.As(err, &pe) || pe.Code != protocol.ErrorForbidden {
		t.Fatalf("a wrong password to a locked room: %v; want FORBIDDEN, locked, as its own node says", err)
	}
}

// plainGame takes every player and does nothing.
type plainGame struct{}

func (plainGame) Accept(*game.Context, game.Player) error            { return nil }
func (plainGame) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (plainGame) Input(*game.Context, uint32, []byte) error          { return nil }
func (plainGame) Update(*game.Context, time.Duration)                {}
func (plainGame) Encode(*game.Snapshot)                              {}

// endingGame ends its match as soon as its first player joins.
type endingGame struct{ plainGame }

func (endingGame) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if kind == game.NoticeJoined && !p.Spectator {
		ctx.End(game.MatchResult{Reason: "test"})
	}
}

// TestAFinishedRoomRefusesAWrongPasswordFromAnotherNodeAsFinished: a room
// whose match is over refuses a join on its own node as finished
// (ROOM_CLOSING) before it looks at the password, so a wrong one is no
// guess there; the cluster answered WRONG_PASSWORD and counted it.
func TestAFinishedRoomRefusesAWrongPasswordFromAnotherNodeAsFinished(t *testing.T) {
	t.Parallel()
	d, r := publishedRoom(t, "ending", endingGame{}, "sesame")
	ctx := context.Background()
	joined := make(chan game.JoinResult, 1)
	if err := r.Join(game.JoinRequest{UserID: "ann", Name: "ann", Password: "sesame", Client: idleClient{}}, func(res game.JoinResult) { joined <- res }); err != nil {
		t.Fatal(err)
	}
	<-joined
	waitFor(t, 5*time.Second, "the end published", func() bool {
		ph, _ := d.rdb.HGet(ctx, d.keys.Room(r.ID()), "phase").Int()
		return game.Phase(ph) >= game.PhaseFinished
	})
	if err := r.Join(game.JoinRequest{UserID: "cy", Name: "cy", Password: "wrong", Client: idleClient{}}, nil); !errors.Is(err, game.ErrFinished) {
		t.Fatalf("its own node: %v, want ErrFinished", err)
	}
	var pe *protocol.Error
	for _, pw := range []string{"sesame", "wrong"} {
		if _, err := d.Reserve(ctx, r.ID(), "bob", pw); !errors.As(err, &pe) || pe.Code != protocol.ErrorRoomClosing {
			t.Fatalf("a seat in a finished room with password %q: %v; want ROOM_CLOSING, as its own node says", pw, err)
		}
	}
}
