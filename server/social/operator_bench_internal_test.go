package social

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tickroom/tickroom/server"
)

// connCatcher hands over the connection it accepts.
type connCatcher struct {
	server.BaseHandler
	got chan *server.Conn
}

func (h connCatcher) Accept(c *server.Conn, _ *server.Request) error {
	h.got <- c
	return nil
}

// oneConn returns a live connection of a real server over loopback, for
// members that need one.
func oneConn(b testing.TB) *server.Conn {
	b.Helper()
	h := connCatcher{got: make(chan *server.Conn, 1)}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	srv.Handle("/", h)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	nc, _, _, err := ws.Dial(context.Background(), "ws://"+srv.Addr().String()+"/")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return <-h.got
}

// BenchmarkOperatorListing measures a page of the monitor's overview (200
// players, each refresh every 2 s; the admin API's player list pages
// alike) with 10,000 users online, each with a connection and in a room.
// held: its time under Social.mu, the lock every friend, presence and
// chat operation takes (copying ids and names, then building the page's
// records); call: the whole PlayerPage, sorting included.
func BenchmarkOperatorListing(b *testing.B) {
	const page = 200
	so := onlineSocial(b, 10_000)
	b.Run("held", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			so.mu.Lock()
			all := so.onlineLocked()
			so.mu.Unlock()
			so.mu.Lock()
			so.pageLocked(all[:page])
			so.mu.Unlock()
		}
	})
	b.Run("call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			so.PlayerPage(nil, 0, page)
		}
	})
}

// onlineSocial returns a Social with users online, user00000 on, each named
// "Name <id>", with a connection and in a room.
func onlineSocial(t testing.TB, users int) *Social {
	t.Helper()
	so, err := New(Config{}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := oneConn(t)
	for u := range users {
		uid := fmt.Sprintf("user%05d", u)
		so.Connect(uid, "Name "+uid, c)
		so.mu.Lock()
		so.users[uid].rooms = append(so.users[uid].rooms, RoomPresence{ID: fmt.Sprint("room", u/4), Game: "arena"})
		so.mu.Unlock()
	}
	return so
}

// TestAPlayerPageBuildsThePageOnly: a page of the online users (the
// admin API's player list, the monitor's overview) builds the records of
// that page, not of every user online; it is right, sorted by id, and
// counts every match.
func TestAPlayerPageBuildsThePageOnly(t *testing.T) {
	const users, limit = 2000, 50
	so := onlineSocial(t, users)
	match := func(id, name string) bool { return strings.HasSuffix(id, "7") }
	page := func() ([]PlayerInfo, int) { return so.PlayerPage(match, 10, limit) }
	got, total := page()
	if total != users/10 || len(got) != limit {
		t.Fatalf("page of users ending in 7 from the 10th: %d of %d, want %d of %d", len(got), total, limit, users/10)
	}
	for i, p := range got {
		if want := fmt.Sprintf("user%05d", (10+i)*10+7); p.UserID != want || p.Name != "Name "+want || len(p.Connections) != 1 || len(p.Rooms) != 1 {
			t.Fatalf("row %d: %+v, want %s with its connection and room", i, p, want)
		}
	}
	// Each record takes a few allocations (its rooms, connections, the
	// connection's id and address): the page's 50 take some hundreds,
	// every user's thousands.
	if n := testing.AllocsPerRun(5, func() { page() }); n > 20*limit {
		t.Fatalf("a page of %d of %d users online made %.0f allocations, want at most %d: it built every user's record", limit, users, n, 20*limit)
	}
}
