package clustertest

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentQuickMatchSeatsEveryCreator: 24 players, half on each of
// two nodes, quick-match gomoku (rooms of 2) all at once, three rounds. A
// room made for one of them is listed for matching only once its
// creator's seat is held, so every player is seated (no ROOM_FULL for a
// creator whose fresh room others filled first) and no room holds more
// than two. Players who find the pool empty at the same moment used to
// make a room each and wait in it alone (22 to 24 of the 24); one at a
// time makes a room now while the others wait for it to be listed
// (Cluster.TakeTurn), so they pair up: a few rooms with one player at
// most, when a loaded box makes a creation outlast the wait.
func TestConcurrentQuickMatchSeatsEveryCreator(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	nodes := c.Nodes()
	for round := range 3 {
		players := make([]*player, 24)
		for i := range players {
			players[i] = connect(t, nodes[i%2], fmt.Sprintf("q%d-%d", round, i))
		}
		rooms := make([]string, len(players))
		fails := make([]string, len(players))
		var wg sync.WaitGroup
		for i, p := range players {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, r, _ := p.c.Follow(quickMatch("gomoku"))
				if j := r.GetJoined(); j != nil {
					rooms[i] = j.RoomId
				} else {
					fails[i] = r.String()
				}
			}()
		}
		wg.Wait()
		seated := map[string]int{}
		for i := range players {
			if fails[i] != "" {
				t.Fatalf("round %d: player %d got %s, want Joined", round, i, fails[i])
			}
			seated[rooms[i]]++
		}
		lone := 0
		for id, n := range seated {
			if n > 2 {
				t.Fatalf("round %d: room %s holds %d of the players, want at most 2", round, id, n)
			}
			if n == 1 {
				lone++
			}
		}
		t.Logf("round %d: %d rooms, %d with one player", round, len(seated), lone)
		if lone > 6 {
			t.Fatalf("round %d: %d of %d rooms hold one player; players who came at once should pair up", round, lone, len(seated))
		}
	}
}
