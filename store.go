package tickroom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// Names of the secrets the server keeps in the store.
const (
	secretTokenKey   = "token-key"
	secretAdminToken = "admin-token"
)

// storeOpenTimeout bounds reading the keys from the store at New. Opening
// it is bounded by the store itself (PostgreSQL's connection by
// store.Config.ConnectTimeout, SQLite's locks by its busy timeout), and its
// migrations run to their end: one cut short rolls back, at every start.
const storeOpenTimeout = 30 * time.Second

// openStore opens the store Options name, if any, under start (whose end
// cancels a migration under way), takes the session key and admin token
// from it when Options give none, and starts the write queue.
func (s *Server) openStore(start context.Context) error {
	o := s.opts
	if o.DataDir == "" && o.DatabaseURL == "" {
		return nil
	}
	db, err := store.Open(start, store.Config{Dir: o.DataDir, URL: o.DatabaseURL, GuestTTL: o.GuestTTL, Logger: s.log})
	if err != nil {
		return err
	}
	s.db = db
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	if len(o.TokenKey) == 0 {
		key, err := db.Secret(ctx, secretTokenKey, func() ([]byte, error) {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			return b, err
		})
		if err != nil {
			db.Close()
			return fmt.Errorf("session key: %w", err)
		}
		s.opts.TokenKey = key
	}
	if s.adminToken == "" {
		tok, err := db.Secret(ctx, secretAdminToken, func() ([]byte, error) {
			var b [16]byte
			_, err := rand.Read(b[:])
			return []byte(hex.EncodeToString(b[:])), err
		})
		if err != nil {
			db.Close()
			return fmt.Errorf("admin token: %w", err)
		}
		s.adminToken = string(tok)
		s.adminTokenStored = true
	}
	if s.revocations, err = newStoreRevocations(ctx, db, s.log); err != nil {
		db.Close()
		return fmt.Errorf("loading kicks and bans: %w", err)
	}
	q, err := store.NewWriteQueue(store.QueueConfig{Writer: db, Capacity: o.StoreQueue, Logger: s.log})
	if err != nil {
		db.Close()
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	q.Start()
	s.queue = q
	s.channels = newStoreChannels(db, q)
	s.log.Info("store open", "backend", db.Backend(), "where", db.Where(), "schema", db.SchemaVersion())
	return nil
}

// closeStore writes what the queue holds and closes the store. Safe to
// call without a store and more than once.
func (s *Server) closeStore(ctx context.Context) error {
	if s.db == nil {
		return nil
	}
	var err error
	if s.queue != nil {
		err = s.queue.Shutdown(ctx)
		s.queue = nil
	}
	if s.revocations != nil {
		s.revocations.close(ctx)
		s.revocations = nil
	}
	if cerr := s.db.Close(); cerr != nil && err == nil && cerr != store.ErrClosed {
		err = cerr
	}
	return err
}

// onResult returns the runtime's result callback: the store's queue (when
// there is a store) and Options.OnResult. It runs on a tick worker and
// never waits: the queue drops and counts when full. A result with no
// players (a room that ran until it closed empty, such as an endless
// arena everyone left) is in no one's history and goes to
// Options.OnResult only.
func (s *Server) onResult() func(game.Result) {
	user := s.opts.OnResult
	if s.queue == nil {
		return user
	}
	q := s.queue
	return func(r game.Result) {
		if len(r.Players) > 0 {
			q.AddResult(resultRecord(r))
		}
		if user != nil {
			user(r)
		}
	}
}

// resultRecord turns a room's result into the store's: winners win and
// the other players lose; no winners is a draw, except for a room closed
// before its game decided (Reason "closed", or "error" when its game
// failed: game.Result), which counts as played only. Its Key is the room's
// id, which names one match (a room plays one, and a room restored
// elsewhere keeps its id and its match), so that the queue's retry of a
// batch already committed records the match once.
func resultRecord(r game.Result) store.Result {
	out := store.Result{Game: r.Game, Room: r.RoomID, Key: r.RoomID, Outcome: r.Outcome.Reason, Started: r.Started, Ended: r.Ended}
	for _, p := range r.Players {
		rp := store.ResultPlayer{UserID: p.UserID, Name: p.Name, Seat: int(p.Seat)}
		for _, sc := range r.Outcome.Scores {
			if sc.Seat == p.Seat {
				rp.Score = sc.Score
			}
		}
		switch {
		case slices.Contains(r.Outcome.WinnerSeats, p.Seat):
			rp.Outcome = store.OutcomeWin
		case len(r.Outcome.WinnerSeats) > 0:
			rp.Outcome = store.OutcomeLoss
		case r.Outcome.Reason != "closed" && r.Outcome.Reason != "error":
			rp.Outcome = store.OutcomeDraw
		}
		out.Players = append(out.Players, rp)
	}
	return out
}

// Store returns the open store, or nil when Options name none. Its
// methods wait on the disk or the network: never call them from a game.
func (s *Server) Store() *store.DB { return s.db }

// AdminTokenStored reports whether the admin token is the one kept in the
// store (generated on the first start), rather than given in Options or
// random for this process.
func (s *Server) AdminTokenStored() bool { return s.adminTokenStored }

// hubRevocations returns the Revocations the hub keeps kicks and bans in:
// the store's when there is one, else nil (the hub's own, in memory).
func (s *Server) hubRevocations() hub.Revocations {
	if s.revocations == nil {
		return nil
	}
	return s.revocations
}

// hubChannelLog returns what the hub answers channel history requests
// from: the store's lines with those still waiting in its write queue
// (storeChannels, which the lobby channels keep their lines in), or nil
// without a store.
func (s *Server) hubChannelLog() hub.ChannelLog {
	if s.channels == nil {
		return nil
	}
	return s.channels
}

// hubRecords returns what the hub answers history and leaderboard
// requests from: the store, or nil without one.
func (s *Server) hubRecords() hub.Records {
	if s.db == nil {
		return nil
	}
	return s.db
}
