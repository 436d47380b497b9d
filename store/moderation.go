package store

import (
	"context"
	"fmt"
	"time"
)

// PutSanction implements Moderation.
func (db *DB) PutSanction(ctx context.Context, s Sanction) error {
	switch s.Kind {
	case SanctionKick, SanctionBan, SanctionRevoke:
	default:
		return fmt.Errorf("%w: sanction kind %q", ErrInvalid, s.Kind)
	}
	if s.UserID == "" {
		return fmt.Errorf("%w: sanction without a user", ErrInvalid)
	}
	if s.At.IsZero() {
		s.At = time.Now()
	}
	_, err := db.exec(ctx, "storing a sanction", `INSERT INTO sanctions (user_id, kind, reason, at_ms, until_ms) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, kind) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms, until_ms = excluded.until_ms`,
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
