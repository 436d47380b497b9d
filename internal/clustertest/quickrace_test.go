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
// than two. (Players arriving at the same moment may each make a room, so
// some rooms wait with one.)
func TestConcurrentQuickMatchSeatsEveryCreator(t *testing.T) {
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
		for id, n := range seated {
			if n > 2 {
				t.Fatalf("round %d: room %s holds %d of the players, want at most 2", round, id, n)
			}
		}
	}
}
