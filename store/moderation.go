package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PutSanction implements Moderation.
func (db *DB) PutSanction(ctx context.Context, s Sanction) error {
	switch s.Kind {
	case SanctionKick, SanctionBan, SanctionRevoke:
	default:
		return fmt.Errorf("%w: sanction kind %q", ErrInvalid, s.Kind)
	}
	if s.UserID == "" || badText(s.UserID) {
		return fmt.Errorf("%w: sanction without a user, or of a user id holding a NUL byte or bytes that are not UTF-8", ErrInvalid)
	}
	// The reason is an operator's free text: a NUL in it (JSON's "\u0000"),
	// which a PostgreSQL text column refuses and SQLite keeps, is kept as
	// U+FFFD on both, as bytes that are not UTF-8 are, rather than the
	// sanction be refused on one backend alone.
	s.Reason = strings.ReplaceAll(strings.ToValidUTF8(s.Reason, "\uFFFD"), "\x00", "\uFFFD")
	if s.At.IsZero() {
		s.At = time.Now()
	}
	// A user keeps one sanction of each kind, and the server keeps every
	// one in memory, each refusing what it refuses until it ends; so the
	// stored one takes the later start and the later end (0, none, being
	// the latest): a shorter kick or ban after a longer one does not cut
	// it short after a restart. Lifting the sanction is how to shorten it.
	_, err := db.exec(ctx, "storing a sanction", `INSERT INTO sanctions (user_id, kind, reason, at_ms, until_ms) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, kind) DO UPDATE SET reason = excluded.reason,
			at_ms = CASE WHEN excluded.at_ms > sanctions.at_ms THEN excluded.at_ms ELSE sanctions.at_ms END,
			until_ms = CASE WHEN excluded.until_ms = 0 OR sanctions.until_ms = 0 THEN 0
				WHEN excluded.until_ms > sanctions.until_ms THEN excluded.until_ms ELSE sanctions.until_ms END`,
		s.UserID, string(s.Kind), s.Reason, ms(s.At), ms(s.Until))
	return err
}

// LiftSanction implements Moderation.
func (db *DB) LiftSanction(ctx context.Context, userID string, kind SanctionKind) error {
	_, err := db.exec(ctx, "lifting a sanction", `DELETE FROM sanctions WHERE user_id = $1 AND kind = $2`, userID, string(kind))
	return err
}

// Sanctions implements Moderation.
func (db *DB) Sanctions(ctx context.Context, now time.Time) ([]Sanction, error) {
	rows, err := db.query(ctx, `SELECT user_id, kind, reason, at_ms, until_ms FROM sanctions
		WHERE until_ms = 0 OR until_ms > $1 ORDER BY at_ms, user_id, kind`, ms(now))
	if err != nil {
		return nil, db.fail("listing sanctions", err)
	}
	defer rows.Close()
	var out []Sanction
	for rows.Next() {
		var s Sanction
		var kind string
		var at, until int64
		if err := rows.Scan(&s.UserID, &kind, &s.Reason, &at, &until); err != nil {
			return nil, db.fail("listing sanctions", err)
		}
		s.Kind, s.At, s.Until = SanctionKind(kind), fromMS(at), fromMS(until)
		out = append(out, s)
	}
	return out, db.fail("listing sanctions", rows.Err())
}
