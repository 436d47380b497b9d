package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/store"
)

// startWithStore is start with a SQLite store in a temporary directory
// holding results (written before the admin API answers): the env's admin
// API answers history and leaderboard requests from it.
func startWithStore(t *testing.T, results []store.Result) *env {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if len(results) > 0 {
		if err := db.WriteResults(context.Background(), results); err != nil {
			t.Fatal(err)
		}
	}
	e := start(t, adminToken)
	h, err := admin.New(admin.Config{Hub: e.hub, Server: e.srv, Token: adminToken, Results: db})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = httptest.NewServer(h)
	t.Cleanup(e.admin.Close)
	return e
}

// amysMatches returns n results of amy's, one a second.
func amysMatches(n int) []store.Result {
	t0 := time.Now().Add(-time.Hour)
	rs := make([]store.Result, n)
	for i := range rs {
		rs[i] = store.Result{
			Game: "count", Room: fmt.Sprintf("r%d", i), Outcome: "done",
			Started: t0.Add(time.Duration(i) * time.Second), Ended: t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond),
			Players: []store.ResultPlayer{{UserID: "amy", Name: "Amy", Seat: 1, Outcome: store.OutcomeWin}},
		}
	}
	return rs
}

// TestHistoryPages walks a user's history by next_before, 3 a page: every
// result once, and no next_before on the last page, so that a history
// that fills its last page exactly sends the operator to no empty one.
func TestHistoryPages(t *testing.T) {
	for _, tc := range []struct {
		results int
		pages   []int // results on each page
	}{
		{0, []int{0}},
		{2, []int{2}},
		{3, []int{3}},
		{4, []int{3, 1}},
		{6, []int{3, 3}},
	} {
		t.Run(strconv.Itoa(tc.results), func(t *testing.T) {
			e := startWithStore(t, amysMatches(tc.results))
			var pages []int
			seen := map[int64]bool{}
			for before := int64(0); len(pages) <= len(tc.pages); {
				status, body := e.do("GET", fmt.Sprintf("/v1/admin/players/amy/history?limit=3&before=%d", before), adminToken, "")
				var page struct {
					Results []struct {
						ID int64 `json:"id"`
					} `json:"results"`
					NextBefore int64 `json:"next_before"`
				}
				if status != 200 || json.Unmarshal([]byte(body), &page) != nil {
					t.Fatalf("history before %d: %d %s", before, status, body)
				}
				pages = append(pages, len(page.Results))
				for _, r := range page.Results {
					if seen[r.ID] {
						t.Fatalf("result %d on two pages", r.ID)
					}
					seen[r.ID] = true
				}
				if page.NextBefore == 0 {
					break
				}
				before = page.NextBefore
			}
			if !slices.Equal(pages, tc.pages) {
				t.Fatalf("%d results, 3 a page: pages of %v, want %v", tc.results, pages, tc.pages)
			}
		})
	}
}
