package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// Records answers the match history and leaderboard requests. *store.DB
// implements it; its methods wait on the database and run on lookup
// workers, never on a loop.
type Records interface {
	History(ctx context.Context, user string, before int64, limit int) ([]store.Result, error)
	Leaderboard(ctx context.Context, game string, limit int) ([]store.Standing, error)
	Standing(ctx context.Context, game, user string) (store.Standing, error)
}

var _ Records = (*store.DB)(nil)

// Page sizes of the history and leaderboard requests: a zero limit means
// the default, a larger one is capped at the maximum (docs/limits.md).
const (
	historyPageDefault     = 20
	historyPageMax         = 50
	leaderboardPageDefault = 10
	leaderboardPageMax     = 100
)

func pageSize(asked uint32, def, most int) int {
	if asked == 0 {
		return def
	}
	return min(int(asked), most)
}

var errNoRecords = protocol.NewError(protocol.ErrorUnsupported, "this server keeps no match history")

// storeError is the refusal for a store read that failed: the client may
// retry; the cause stays in the server's log, one line every
// logspace.Every at most with the number left out since the last (a
// client's requests during a database outage would otherwise write one
// each, at its message rate).
func (h *Hub) storeError(op string, err error) error {
	h.logStoreReadFailed(op, err)
	return protocol.NewError(protocol.ErrorInternal, "match history unavailable; retry later")
}

func (h *Hub) logStoreReadFailed(op string, err error) {
	if ok, skipped := h.storeReadLogs.Allow(time.Now()); ok {
		h.log.Warn("store read failed", "op", op, "err", err, "left_out", skipped)
	}
}

// matchHistory serves GetMatchHistory: the caller's own history, or an
// accepted friend's.
func (s *Session) matchHistory(id uint32, q *tickroomv1.GetMatchHistory) error {
	h := s.h
	if h.cfg.Records == nil {
		return errNoRecords
	}
	user := q.UserId
	if user == "" {
		user = s.claims.UserID
	}
	if user != s.claims.UserID && !h.social.IsFriend(s.claims.UserID, user) {
		return protocol.NewError(protocol.ErrorForbidden, "only your own and your friends' match history")
	}
	limit := pageSize(q.Limit, historyPageDefault, historyPageMax)
	before := int64(min(q.BeforeId, 1<<63-1))
	return h.lookups.submit(s, id, func(ctx context.Context) (*tickroomv1.ServerMessage, error) {
		// One more than the page tells whether another page follows.
		rs, err := h.cfg.Records.History(ctx, user, before, limit+1)
		if err != nil {
			return nil, h.storeError("history", err)
		}
		out := &tickroomv1.MatchHistory{UserId: user}
		if len(rs) > limit {
			rs = rs[:limit]
			out.NextBeforeId = uint64(rs[limit-1].ID)
		}
		out.Matches = make([]*tickroomv1.MatchRecord, 0, len(rs))
		for _, r := range rs {
			out.Matches = append(out.Matches, matchRecord(r))
		}
		return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_MatchHistory{MatchHistory: out}}, nil
	})
}

func matchRecord(r store.Result) *tickroomv1.MatchRecord {
	m := &tickroomv1.MatchRecord{
		Id: uint64(r.ID), Game: r.Game, RoomId: r.Room, Reason: r.Outcome,
		StartedAtMs: r.Started.UnixMilli(), EndedAtMs: r.Ended.UnixMilli(),
		Players: make([]*tickroomv1.MatchPlayer, 0, len(r.Players)),
	}
	for _, p := range r.Players {
		m.Players = append(m.Players, &tickroomv1.MatchPlayer{
			UserId: p.UserID, Name: p.Name, Seat: uint32(p.Seat), Outcome: matchOutcome(p.Outcome), Score: p.Score,
		})
	}
	return m
}

func matchOutcome(o string) tickroomv1.MatchOutcome {
	switch o {
	case store.OutcomeWin:
		return tickroomv1.MatchOutcome_MATCH_OUTCOME_WIN
	case store.OutcomeLoss:
		return tickroomv1.MatchOutcome_MATCH_OUTCOME_LOSS
	case store.OutcomeDraw:
		return tickroomv1.MatchOutcome_MATCH_OUTCOME_DRAW
	}
	return tickroomv1.MatchOutcome_MATCH_OUTCOME_UNSPECIFIED
}

// leaderboard serves GetLeaderboard: a registered game's top players and
// the caller's own line.
func (s *Session) leaderboard(id uint32, q *tickroomv1.GetLeaderboard) error {
	h := s.h
	if h.cfg.Records == nil {
		return errNoRecords
	}
	if _, ok := h.cfg.Games.Lookup(q.Game); !ok {
		return protocol.NewError(protocol.ErrorUnknownGame, fmt.Sprintf("no game %q", q.Game))
	}
	limit := pageSize(q.Limit, leaderboardPageDefault, leaderboardPageMax)
	user := s.claims.UserID
	return h.lookups.submit(s, id, func(ctx context.Context) (*tickroomv1.ServerMessage, error) {
		top, err := h.cfg.Records.Leaderboard(ctx, q.Game, limit)
		if err != nil {
			return nil, h.storeError("leaderboard", err)
		}
		out := &tickroomv1.Leaderboard{Game: q.Game, Top: make([]*tickroomv1.Standing, 0, len(top))}
		for _, st := range top {
			w := standing(st)
			out.Top = append(out.Top, w)
			if st.UserID == user {
				out.Own = w
			}
		}
		if out.Own == nil {
			st, err := h.cfg.Records.Standing(ctx, q.Game, user)
			switch {
			case err == nil:
				out.Own = standing(st)
			case !errors.Is(err, store.ErrNotFound):
				return nil, h.storeError("standing", err)
			}
		}
		return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Leaderboard{Leaderboard: out}}, nil
	})
}

func standing(s store.Standing) *tickroomv1.Standing {
	return &tickroomv1.Standing{
		Rank: uint32(s.Rank), RankBeyond: s.RankBeyond, UserId: s.UserID, Name: s.Name,
		Wins: uint32(s.Wins), Losses: uint32(s.Losses), Draws: uint32(s.Draws), Played: uint32(s.Played),
		Score: s.Score,
	}
}
