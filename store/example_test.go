package store_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tickroom/tickroom/store"
)

// Open a SQLite store in a data directory, keep a match result and read
// the leaderboard back.
func Example() {
	dir, _ := os.MkdirTemp("", "tickroom-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	err = db.WriteResults(ctx, []store.Result{{
		Game: "gomoku", Room: "r1",
		Players: []store.ResultPlayer{
			{UserID: "u1", Name: "Ada", Outcome: store.OutcomeWin, Score: 1},
			{UserID: "u2", Name: "Bob", Seat: 1, Outcome: store.OutcomeLoss},
		},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	top, _ := db.Leaderboard(ctx, "gomoku", 10)
	for _, s := range top {
		fmt.Printf("%d. %s %d-%d\n", s.Rank, s.Name, s.Wins, s.Losses)
	}
	// Output:
	// 1. Ada 1-0
	// 2. Bob 0-1
}
