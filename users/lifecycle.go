package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users/roles"
)

// heldUsersSQL selects (user_id) the users on legal hold: custodians of at
// least one active matter. It is the one definition of "on hold".
const heldUsersSQL = `SELECT c.user_id FROM legal_hold_custodians c JOIN legal_holds h ON h.id = c.hold_id WHERE h.active = 1`

// onHoldSQL is true for the user u while it is on legal hold (heldUsersSQL
// for one user: an index lookup per user, where "u.id IN (heldUsersSQL)"
// read every custodian each time a user was read).
const onHoldSQL = `EXISTS (SELECT 1 FROM legal_hold_custodians c JOIN legal_holds h ON h.id = c.hold_id WHERE c.user_id = u.id AND h.active = 1)`

// StateTx returns user id's lifecycle state and org, read inside tx.
func StateTx(ctx context.Context, tx *sqlx.Tx, id int64) (State, int64, error) {
	var r struct {
		Status  Status `db:"status"`
		Reason  Reason `db:"status_reason"`
		Pending Reason `db:"pending_reason"`
		OnHold  bool   `db:"on_hold"`
		OrgID   int64  `db:"org_id"`
	}
	err := tx.GetContext(ctx, &r, `SELECT u.status, u.status_reason, u.pending_reason, u.org_id, `+onHoldSQL+` AS on_hold FROM users u WHERE u.id = ?`, id)
	if isNoRows(err) {
		return State{}, 0, apperr.NotFound("user %d does not exist", id)
	}
	if err != nil {
		return State{}, 0, fmt.Errorf("users: read %d: %w", id, err)
	}
	return State{Status: r.Status, Reason: r.Reason, Pending: r.Pending, OnHold: r.OnHold}, r.OrgID, nil
}

// change reads user id's state, asks decide for the next one and writes it
// with its effects (see write).
func (s *Service) change(ctx context.Context, tx *sqlx.Tx, id int64, decide func(State) (State, error)) (Transition, error) {
	before, orgID, err := StateTx(ctx, tx, id)
	if err != nil {
		return Transition{}, err
	}
	after, err := decide(before)
	if err != nil {
		return Transition{}, err
	}
	if before.Status == StatusActive && after.Status != StatusActive {
		if err := guardLastAdmin(ctx, tx, id, "deactivate or block"); err != nil {
			return Transition{}, err
		}
	}
	t := Transition{Before: before, After: after}
	return t, s.write(ctx, tx, id, orgID, t)
}

// guardLastAdmin refuses (Conflict) to let user id stop being an active
// administrator when it is the last one: somebody must always be able to
// sign in to the console.
func guardLastAdmin(ctx context.Context, q sqlx.QueryerContext, id int64, action string) error {
	var last bool
	err := sqlx.GetContext(ctx, q, &last, `SELECT EXISTS(SELECT 1 FROM user_roles WHERE user_id = ? AND role = ?)
		AND NOT EXISTS(SELECT 1 FROM user_roles r JOIN users u ON u.id = r.user_id WHERE r.role = ? AND u.status = 'active' AND u.id <> ?)`,
		id, roles.Sysadmin, roles.Sysadmin, id)
	if err != nil {
		return fmt.Errorf("users: check the last administrator: %w", err)
	}
	if last {
		return apperr.Conflict("status", "user %d is the last active administrator (%s): cannot %s it; give another user the %s role first", id, roles.Sysadmin, action, roles.Sysadmin)
	}
	return nil
}

// revokeTokens ends every API token and console session of user id.
func revokeTokens(ctx context.Context, e sqlx.ExecerContext, id int64) error {
	if _, err := e.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("users: revoke the tokens of %d: %w", id, err)
	}
	return nil
}

// write stores t.After, with what entering or leaving deactivation does:
//   - deactivated: every device of the user deactivated, and every normal
//     archive of those devices to cold storage until now plus the org's
//     archiveHoldDays;
//   - from deactivated to active: every device reactivated, every cold
//     archive back to normal unless past its expiry (then expired).
//
// Blocking and unblocking touch neither devices nor archives.
func (s *Service) write(ctx context.Context, tx *sqlx.Tx, id, orgID int64, t Transition) error {
	if t.Before == t.After {
		return nil
	}
	a := t.After
	if _, err := tx.ExecContext(ctx, `UPDATE users SET status = ?, status_reason = ?, pending_reason = ?, updated_at = ? WHERE id = ?`,
		string(a.Status), string(a.Reason), string(a.Pending), s.stamp(), id); err != nil {
		return fmt.Errorf("users: set status of %d: %w", id, err)
	}
	if a.Status != StatusActive {
		// Blocked or deactivated: every token is revoked, not suspended.
		if err := revokeTokens(ctx, tx, id); err != nil {
			return err
		}
	}
	switch {
	case a.Status == StatusDeactivated && t.Before.Status != StatusDeactivated:
		days, err := orgs.HoldDays(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'deactivated' WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("users: deactivate devices of %d: %w", id, err)
		}
		expires := s.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
		if _, err := tx.ExecContext(ctx, sqlArchivesToCold, expires, id); err != nil {
			return fmt.Errorf("users: archives of %d to cold storage: %w", id, err)
		}
	case a.Status == StatusActive && t.Before.Status == StatusDeactivated:
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'active' WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("users: reactivate devices of %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, sqlArchivesExpire, s.stamp(), id); err != nil {
			return fmt.Errorf("users: expire archives of %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, sqlArchivesRestore, id); err != nil {
			return fmt.Errorf("users: restore archives of %d: %w", id, err)
		}
	}
	return nil
}

// The archive updates of the lifecycle. They write "+state": the unary plus
// keeps SQLite from choosing the (state, expiry) index, which would scan
// every archive in that state, so that it drives from the user's devices
// instead (archives_device).
var sqlArchivesToCold = archivesToColdSQL("?")

// archivesToColdSQL sends to cold storage (until its one argument) the normal
// archives of the devices of the users whose ids bind the placeholders in.
func archivesToColdSQL(in string) string {
	return `UPDATE archives SET state = 'cold', cold_storage_expires_at = ?
		WHERE +state = 'normal' AND device_guid IN (SELECT guid FROM devices WHERE user_id IN (` + in + `))`
}

const (
	sqlArchivesExpire = `UPDATE archives SET state = 'expired'
		WHERE +state = 'cold' AND +cold_storage_expires_at <= ? AND device_guid IN (SELECT guid FROM devices WHERE user_id = ?)`
	sqlArchivesRestore = `UPDATE archives SET state = 'normal', cold_storage_expires_at = NULL
		WHERE +state = 'cold' AND device_guid IN (SELECT guid FROM devices WHERE user_id = ?)`
)

// DeactivateTx deactivates user id on behalf of by (ReasonAdmin or
// ReasonDirsync) as State.Deactivate decides: on legal hold the user is
// blocked instead (devices keep backing up, archives stay).
func (s *Service) DeactivateTx(ctx context.Context, tx *sqlx.Tx, id int64, by Reason) (Transition, error) {
	return s.change(ctx, tx, id, func(st State) (State, error) { return st.Deactivate(by), nil })
}

// ReactivateTx makes user id active: every device reactivated, and every
// archive still in cold storage and before its expiry back to normal.
// Archives past their expiry are (or become) expired and stay so.
func (s *Service) ReactivateTx(ctx context.Context, tx *sqlx.Tx, id int64) (Transition, error) {
	return s.change(ctx, tx, id, func(st State) (State, error) { return st.Reactivate(), nil })
}

// BlockTx blocks user id as an administrator: sign-in refused, backups go on.
// A deactivated user cannot be blocked (reactivate first).
func (s *Service) BlockTx(ctx context.Context, tx *sqlx.Tx, id int64) (Transition, error) {
	return s.change(ctx, tx, id, State.Block)
}

// SourceBlockTx blocks user id on behalf of its source (see
// State.SourceBlock): sign-in refused, tokens revoked, backups go on.
func (s *Service) SourceBlockTx(ctx context.Context, tx *sqlx.Tx, id int64, by Reason) (Transition, error) {
	return s.change(ctx, tx, id, func(st State) (State, error) { return st.SourceBlock(by), nil })
}

// SourceReactivateTx makes user id active again on behalf of its source
// when State.SourceReactivates allows it (never undoing an administrator's
// block); otherwise nothing changes.
func (s *Service) SourceReactivateTx(ctx context.Context, tx *sqlx.Tx, id int64) (Transition, error) {
	return s.change(ctx, tx, id, func(st State) (State, error) {
		if !st.SourceReactivates() {
			return st, nil
		}
		return st.Reactivate(), nil
	})
}

// UnblockTx makes a blocked user active again (also one blocked because of a
// legal hold, which is how an administrator reactivates a user still on hold).
func (s *Service) UnblockTx(ctx context.Context, tx *sqlx.Tx, id int64) (Transition, error) {
	return s.change(ctx, tx, id, State.Unblock)
}

// ReleaseTx is called when user id may have left its last active legal hold:
// see State.Release. It reports whether the user was deactivated.
func (s *Service) ReleaseTx(ctx context.Context, tx *sqlx.Tx, id int64) (bool, error) {
	t, err := s.change(ctx, tx, id, func(st State) (State, error) { return st.Release(), nil })
	return err == nil && t.Changed() && t.After.Status == StatusDeactivated, err
}

// MoveTx moves user id to org orgID and returns the org it was in (orgID
// when it was there already, and nothing is written).
func (s *Service) MoveTx(ctx context.Context, tx *sqlx.Tx, id, orgID int64) (from int64, err error) {
	if _, from, err = StateTx(ctx, tx, id); err != nil || from == orgID {
		return from, err
	}
	if _, err := orgs.GetTx(ctx, tx, orgID); err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			return from, apperr.Invalid("orgId", "org %d does not exist", orgID)
		}
		return from, fmt.Errorf("users: move %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET org_id = ?, updated_at = ? WHERE id = ?`, orgID, s.stamp(), id); err != nil {
		return from, fmt.Errorf("users: move %d: %w", id, err)
	}
	return from, nil
}

// UsernameTaken reports whether a user other than except holds username
// (ignoring case, casefold.Key).
func UsernameTaken(ctx context.Context, q sqlx.QueryerContext, username string, except int64) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM users WHERE username_key = ? AND id <> ?`, casefold.Key(username), except); err != nil {
		return false, fmt.Errorf("users: look for %q: %w", username, err)
	}
	return n > 0, nil
}

// RenameTx gives user id the username its directory entry now has (the
// same user: id, devices, archives, roles and history stay). A username
// another user holds is a Conflict on "username", and nothing changes.
func (s *Service) RenameTx(ctx context.Context, tx *sqlx.Tx, id int64, username string) error {
	if err := ValidateUsername(username); err != nil {
		return err
	}
	taken, err := UsernameTaken(ctx, tx, username, id)
	if err != nil {
		return err
	}
	if taken {
		return apperr.Conflict("username", "the username %q is held by another user", username)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, username_key = ?, updated_at = ? WHERE id = ?`,
		username, casefold.Key(username), s.stamp(), id); err != nil {
		return fmt.Errorf("users: rename %d: %w", id, err)
	}
	return nil
}

// SetLDAPIdentityTx records the directory entry a user matched: server, DN and stable id.
func (s *Service) SetLDAPIdentityTx(ctx context.Context, tx *sqlx.Tx, id, serverID int64, dn, uid string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET ldap_server_id = ?, ldap_dn = ?, ldap_uid = ? WHERE id = ? AND (ldap_server_id IS NOT ? OR ldap_dn <> ? OR ldap_uid <> ?)`,
		serverID, dn, uid, id, serverID, dn, uid); err != nil {
		return fmt.Errorf("users: set LDAP identity of %d: %w", id, err)
	}
	return nil
}

// Deactivate deactivates user id (blocked instead while on legal hold).
func (s *Service) Deactivate(ctx context.Context, id int64, by Reason) (User, error) {
	return s.apply(ctx, audit.UserDeactivate, id, func(tx *sqlx.Tx) error { _, err := s.DeactivateTx(ctx, tx, id, by); return err })
}

// Reactivate reactivates user id.
func (s *Service) Reactivate(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, audit.UserReactivate, id, func(tx *sqlx.Tx) error { _, err := s.ReactivateTx(ctx, tx, id); return err })
}

// Block blocks user id as an administrator.
func (s *Service) Block(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, audit.UserBlock, id, func(tx *sqlx.Tx) error { _, err := s.BlockTx(ctx, tx, id); return err })
}

// Unblock unblocks user id.
func (s *Service) Unblock(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, audit.UserUnblock, id, func(tx *sqlx.Tx) error { _, err := s.UnblockTx(ctx, tx, id); return err })
}

// Move moves user id to org orgID.
func (s *Service) Move(ctx context.Context, id, orgID int64) (User, error) {
	return s.apply(ctx, audit.UserMove, id, func(tx *sqlx.Tx) error { _, err := s.MoveTx(ctx, tx, id, orgID); return err })
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
