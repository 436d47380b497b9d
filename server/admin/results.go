package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tickroom/tickroom/store"
)

// Defaults and caps of the result endpoints' limit parameter.
const (
	defaultResultLimit = 20
	maxResultLimit     = 100
)

// resultJSON is one match result in the admin API.
type resultJSON struct {
	ID      int64              `json:"id"`
	Game    string             `json:"game"`
	Room    string             `json:"room"`
	Outcome string             `json:"outcome"`
	Started time.Time          `json:"started"`
	Ended   time.Time          `json:"ended"`
	Players []resultPlayerJSON `json:"players"`
}

type resultPlayerJSON struct {
	UserID  string `json:"user_id"`
	Name    string `json:"name"`
	Seat    int    `json:"seat"`
	Outcome string `json:"outcome"`
	Score   int64  `json:"score"`
}

type standingJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Rank   int    `json:"rank"`
	// RankBeyond: past the first store.RankCounted ranks, counted no further.
	RankBeyond bool  `json:"rank_beyond,omitempty"`
	Wins       int64 `json:"wins"`
	Losses     int64 `json:"losses"`
	Draws      int64 `json:"draws"`
	Played     int64 `json:"played"`
	Score      int64 `json:"score"`
}

func toStanding(s store.Standing) standingJSON {
	return standingJSON{UserID: s.UserID, Name: s.Name, Rank: s.Rank, RankBeyond: s.RankBeyond, Wins: s.Wins, Losses: s.Losses, Draws: s.Draws, Played: s.Played, Score: s.Score}
}

// limitParam reads ?limit= (1..maxResultLimit, default defaultResultLimit)
// and ?before= (a result or line id, 0 for the newest).
func limitParam(w http.ResponseWriter, r *http.Request) (limit int, before int64, ok bool) {
	limit = defaultResultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxResultLimit {
			writeError(w, http.StatusBadRequest, "limit must be 1-100")
			return 0, 0, false
		}
		limit = n
	}
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "before must be a result id")
			return 0, 0, false
		}
		before = n
	}
	return limit, before, true
}

// resultsTimeout bounds the store reads of one history or leaderboard
// request, as the same reads over tickroom.v1 are bounded: a database
// that answers nothing gets the operator a 503, not a request that waits
// until its client gives up.
const resultsTimeout = 5 * time.Second

// withResults answers 404 when the server keeps no results, and runs next
// under resultsTimeout.
func (h *Handler) withResults(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.results == nil {
			writeError(w, http.StatusNotFound, "this server keeps no results (no -data-dir or -database)")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), resultsTimeout)
		defer cancel()
		next(w, r.WithContext(ctx))
	}
}

// leaderboard answers GET /v1/admin/games/{game}/leaderboard?limit=N with
// the top N standings and, with ?user=<id>, that user's standing.
func (h *Handler) leaderboard(w http.ResponseWriter, r *http.Request) {
	limit, _, ok := limitParam(w, r)
	if !ok {
		return
	}
	game := r.PathValue("game")
	top, err := h.results.Leaderboard(r.Context(), game, limit)
	if err != nil {
		h.storeError(w, err)
		return
	}
	out := struct {
		Game string         `json:"game"`
		Top  []standingJSON `json:"top"`
		User *standingJSON  `json:"user,omitempty"`
	}{Game: game, Top: []standingJSON{}}
	for _, s := range top {
		out.Top = append(out.Top, toStanding(s))
	}
	if u := r.URL.Query().Get("user"); u != "" {
		s, err := h.results.Standing(r.Context(), game, u)
		switch {
		case err == nil:
			j := toStanding(s)
			out.User = &j
		case !errors.Is(err, store.ErrNotFound):
			h.storeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// history answers GET /v1/admin/players/{id}/history?limit=N&before=ID
// with the user's results, newest first; next_before pages on, and is
// left out on the last page.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	limit, before, ok := limitParam(w, r)
	if !ok {
		return
	}
	// One more than the page tells whether another page follows, so that
	// a history that fills its last page exactly leads to no empty one.
	rs, err := h.results.History(r.Context(), r.PathValue("id"), before, limit+1)
	if err != nil {
		h.storeError(w, err)
		return
	}
	out := struct {
		Results    []resultJSON `json:"results"`
		NextBefore int64        `json:"next_before,omitempty"`
	}{Results: []resultJSON{}}
	if len(rs) > limit {
		rs = rs[:limit]
		out.NextBefore = rs[limit-1].ID
	}
	for _, x := range rs {
		j := resultJSON{ID: x.ID, Game: x.Game, Room: x.Room, Outcome: x.Outcome, Started: x.Started, Ended: x.Ended}
		for _, p := range x.Players {
			j.Players = append(j.Players, resultPlayerJSON{UserID: p.UserID, Name: p.Name, Seat: p.Seat, Outcome: p.Outcome, Score: p.Score})
		}
		out.Results = append(out.Results, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) storeError(w http.ResponseWriter, err error) {
	h.log.Error("admin: store", "err", err)
	writeError(w, http.StatusServiceUnavailable, "the store is unavailable")
}
