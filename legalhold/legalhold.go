// Package legalhold keeps legal hold matters and their custodians. A user is
// on hold while a custodian of at least one active matter; such a user is
// blocked instead of deactivated (see package users), and deactivated at once
// when the last active hold on it is released.
package legalhold

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/users"
)

// MaxNameLength bounds matter names, in characters.
const MaxNameLength = 200

// Matter is a legal hold matter with its custodians' user ids.
type Matter struct {
	ID         int64   `json:"id" db:"id"`
	Name       string  `json:"name" db:"name"`
	Active     bool    `json:"active" db:"active"`
	CreatedAt  string  `json:"createdAt" db:"created_at"`
	Custodians []int64 `json:"custodians" db:"-"`
}

// Service changes legal holds, releasing users through the users service.
type Service struct {
	DB    *sqlx.DB
	Users *users.Service
	Now   func() time.Time
}

// New returns a Service.
func New(db *sqlx.DB, u *users.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{DB: db, Users: u, Now: now}
}

// Create opens a new active matter.
func (s *Service) Create(ctx context.Context, name string) (Matter, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Matter{}, apperr.Invalid("name", "is required")
	}
	if err := apperr.CheckLine("name", name, MaxNameLength); err != nil {
		return Matter{}, err
	}
	var id int64
	err := s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO legal_holds(name, active, created_at) VALUES(?, 1, ?)`, name, s.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("legalhold: create: %w", err)
		}
		id, _ = res.LastInsertId()
		return audit.RecordTx(ctx, tx, audit.LegalHoldCreate, Target(id, name),
			[]audit.Change{audit.Field("name", nil, name), audit.Field("active", nil, true)})
	})
	if err != nil {
		return Matter{}, err
	}
	return s.Get(ctx, id)
}

// Target names matter id in the audit log: legalhold:ID/NAME.
func Target(id int64, name string) string { return audit.Target("legalhold", id, name) }

// List returns every matter, newest first.
func (s *Service) List(ctx context.Context) ([]Matter, error) {
	var ms []Matter
	if err := s.DB.SelectContext(ctx, &ms, `SELECT id, name, active, created_at FROM legal_holds ORDER BY id DESC`); err != nil {
		return nil, fmt.Errorf("legalhold: list: %w", err)
	}
	for i := range ms {
		if err := s.custodians(ctx, &ms[i]); err != nil {
			return nil, err
		}
	}
	if ms == nil {
		ms = []Matter{}
	}
	return ms, nil
}

// Get returns one matter.
func (s *Service) Get(ctx context.Context, id int64) (Matter, error) {
	var m Matter
	err := s.DB.GetContext(ctx, &m, `SELECT id, name, active, created_at FROM legal_holds WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Matter{}, apperr.NotFound("legal hold %d does not exist", id)
	}
	if err != nil {
		return Matter{}, fmt.Errorf("legalhold: get %d: %w", id, err)
	}
	return m, s.custodians(ctx, &m)
}

func (s *Service) custodians(ctx context.Context, m *Matter) error {
	m.Custodians = []int64{}
	if err := s.DB.SelectContext(ctx, &m.Custodians, `SELECT user_id FROM legal_hold_custodians WHERE hold_id = ? ORDER BY user_id`, m.ID); err != nil {
		return fmt.Errorf("legalhold: custodians of %d: %w", m.ID, err)
	}
	return nil
}

// AddCustodian puts user userID on hold under matter id.
func (s *Service) AddCustodian(ctx context.Context, id, userID int64) (Matter, error) {
	m, err := s.Get(ctx, id)
	if err != nil {
		return Matter{}, err
	}
	if !m.Active {
		return Matter{}, apperr.Conflict("id", "legal hold %d is closed: open a new matter instead", id)
	}
	if _, err := s.Users.Get(ctx, userID); err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			return Matter{}, apperr.Invalid("userId", "user %d does not exist", userID)
		}
		return Matter{}, err
	}
	err = s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO legal_hold_custodians(hold_id, user_id, added_at) VALUES(?, ?, ?)`,
			id, userID, s.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("legalhold: add custodian: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || !audit.Active(ctx) {
			return nil // a custodian already: nothing changed
		}
		u, err := users.GetTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.LegalHoldCustodianAdd, Target(m.ID, m.Name),
			[]audit.Change{audit.Field("custodian", nil, users.Target(u))})
	})
	if err != nil {
		return Matter{}, err
	}
	return s.Get(ctx, id)
}

// ReleaseCustodian takes user userID off matter id. If that was the user's
// last active hold and the user was blocked pending deactivation, the user is
// deactivated in the same transaction.
func (s *Service) ReleaseCustodian(ctx context.Context, id, userID int64) (Matter, error) {
	m, err := s.Get(ctx, id)
	if err != nil {
		return Matter{}, err
	}
	err = s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM legal_hold_custodians WHERE hold_id = ? AND user_id = ?`, id, userID)
		if err != nil {
			return fmt.Errorf("legalhold: release custodian: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFound("user %d is not a custodian of legal hold %d", userID, id)
		}
		changes, err := s.release(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.LegalHoldCustodianRelease, Target(m.ID, m.Name), changes)
	})
	if err != nil {
		return Matter{}, err
	}
	return s.Get(ctx, id)
}

// Deactivate closes matter id, releasing every custodian (custodians stay on
// record). Users whose last hold this was, and who were blocked pending
// deactivation, are deactivated in the same transaction.
func (s *Service) Deactivate(ctx context.Context, id int64) (Matter, error) {
	m, err := s.Get(ctx, id)
	if err != nil {
		return Matter{}, err
	}
	err = s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE legal_holds SET active = 0 WHERE id = ? AND active = 1`, id)
		if err != nil {
			return fmt.Errorf("legalhold: close %d: %w", id, err)
		}
		changes := []audit.Change{}
		if n, _ := res.RowsAffected(); n > 0 {
			changes = append(changes, audit.Field("active", true, false))
		}
		for _, uid := range m.Custodians {
			c, err := s.release(ctx, tx, uid, false)
			if err != nil {
				return err
			}
			changes = append(changes, c...)
		}
		if len(changes) == 0 {
			return nil // closed already: nothing changed
		}
		return audit.RecordTx(ctx, tx, audit.LegalHoldClose, Target(m.ID, m.Name), changes)
	})
	if err != nil {
		return Matter{}, err
	}
	return s.Get(ctx, id)
}

// release releases custodian userID inside tx (users.ReleaseTx) and returns
// what the audit log records of it: the custodian itself when one is taken
// off the matter (custodian), and the user's status when the release changed
// it (a deactivation that was pending). It reads nothing more when no
// administrator acts.
func (s *Service) release(ctx context.Context, tx *sqlx.Tx, userID int64, custodian bool) ([]audit.Change, error) {
	if !audit.Active(ctx) {
		_, err := s.Users.ReleaseTx(ctx, tx, userID)
		return nil, err
	}
	before, err := users.GetTx(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if _, err := s.Users.ReleaseTx(ctx, tx, userID); err != nil {
		return nil, err
	}
	after, err := users.GetTx(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	var out []audit.Change
	name := users.Target(after)
	if custodian {
		out = append(out, audit.Field("custodian", name, nil))
	}
	// onLegalHold is left out: it changed with the custodian row or the
	// matter, before the user was read, and the entry says so already.
	for _, c := range audit.Diff(before, after, audit.Ignore("id", "createdAt", "onLegalHold")) {
		c.Field = name + "." + c.Field
		out = append(out, c)
	}
	return out, nil
}
