package users

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
)

// OnHold reports whether user id is a custodian of at least one active legal hold.
func OnHold(ctx context.Context, q sqlx.QueryerContext, id int64) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM legal_hold_custodians c JOIN legal_holds h ON h.id = c.hold_id WHERE c.user_id = ? AND h.active = 1`, id)
	if err != nil {
		return false, fmt.Errorf("users: legal hold of %d: %w", id, err)
	}
	return n > 0, nil
}

type state struct {
	Status  Status `db:"status"`
	Reason  Reason `db:"status_reason"`
	Pending Reason `db:"pending_reason"`
	OrgID   int64  `db:"org_id"`
}

func current(ctx context.Context, tx *sqlx.Tx, id int64) (state, error) {
	var st state
	err := tx.GetContext(ctx, &st, `SELECT status, status_reason, pending_reason, org_id FROM users WHERE id = ?`, id)
	if err != nil {
		if isNoRows(err) {
			return st, apperr.NotFound("user %d does not exist", id)
		}
		return st, fmt.Errorf("users: read %d: %w", id, err)
	}
	return st, nil
}

func (s *Service) setStatus(ctx context.Context, tx *sqlx.Tx, id int64, st Status, reason, pending Reason) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET status = ?, status_reason = ?, pending_reason = ?, updated_at = ? WHERE id = ?`,
		string(st), string(reason), string(pending), s.stamp(), id)
	if err != nil {
		return fmt.Errorf("users: set status of %d: %w", id, err)
	}
	return nil
}

// DeactivateTx deactivates user id on behalf of by (ReasonAdmin or
// ReasonDirsync) and returns the status the user ends in:
//   - on legal hold: blocked with ReasonLegalHold instead (devices keep
//     backing up, archives stay); an administrator's block is left alone;
//   - otherwise: deactivated, every device deactivated, and every normal
//     archive of those devices moved to cold storage until now plus the
//     org's archiveHoldDays.
//
// An already deactivated user is left as it is.
func (s *Service) DeactivateTx(ctx context.Context, tx *sqlx.Tx, id int64, by Reason) (Status, error) {
	st, err := current(ctx, tx, id)
	if err != nil {
		return "", err
	}
	if st.Status == StatusDeactivated {
		return StatusDeactivated, nil
	}
	held, err := OnHold(ctx, tx, id)
	if err != nil {
		return "", err
	}
	if held {
		if st.Status == StatusBlocked && st.Reason == ReasonAdmin {
			return StatusBlocked, nil
		}
		return StatusBlocked, s.setStatus(ctx, tx, id, StatusBlocked, ReasonLegalHold, by)
	}
	days, err := orgs.HoldDays(ctx, tx, st.OrgID)
	if err != nil {
		return "", err
	}
	if err := s.setStatus(ctx, tx, id, StatusDeactivated, by, ReasonNone); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'deactivated' WHERE user_id = ?`, id); err != nil {
		return "", fmt.Errorf("users: deactivate devices of %d: %w", id, err)
	}
	expires := s.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
	if _, err := tx.ExecContext(ctx, sqlArchivesToCold, expires, id); err != nil {
		return "", fmt.Errorf("users: archives of %d to cold storage: %w", id, err)
	}
	return StatusDeactivated, nil
}

// The archive updates of the lifecycle. They write "+state": the unary plus
// keeps SQLite from choosing the (state, expiry) index, which would scan
// every archive in that state, so that it drives from the user's devices
// instead (archives_device).
const (
	sqlArchivesToCold = `UPDATE archives SET state = 'cold', cold_storage_expires_at = ?
		WHERE +state = 'normal' AND device_guid IN (SELECT guid FROM devices WHERE user_id = ?)`
	sqlArchivesExpire = `UPDATE archives SET state = 'expired'
		WHERE +state = 'cold' AND +cold_storage_expires_at <= ? AND device_guid IN (SELECT guid FROM devices WHERE user_id = ?)`
	sqlArchivesRestore = `UPDATE archives SET state = 'normal', cold_storage_expires_at = NULL
		WHERE +state = 'cold' AND device_guid IN (SELECT guid FROM devices WHERE user_id = ?)`
)

// ReactivateTx makes user id active: every device reactivated, and every
// archive still in cold storage and before its expiry back to normal.
// Archives past their expiry are (or become) expired and stay so.
func (s *Service) ReactivateTx(ctx context.Context, tx *sqlx.Tx, id int64) error {
	st, err := current(ctx, tx, id)
	if err != nil {
		return err
	}
	if st.Status == StatusActive {
		return nil
	}
	if err := s.setStatus(ctx, tx, id, StatusActive, ReasonNone, ReasonNone); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'active' WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("users: reactivate devices of %d: %w", id, err)
	}
	now := s.stamp()
	if _, err := tx.ExecContext(ctx, sqlArchivesExpire, now, id); err != nil {
		return fmt.Errorf("users: expire archives of %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, sqlArchivesRestore, id); err != nil {
		return fmt.Errorf("users: restore archives of %d: %w", id, err)
	}
	return nil
}

// BlockTx blocks user id as an administrator: sign-in refused, backups go on.
// A deactivated user cannot be blocked (reactivate first).
func (s *Service) BlockTx(ctx context.Context, tx *sqlx.Tx, id int64) error {
	st, err := current(ctx, tx, id)
	if err != nil {
		return err
	}
	if st.Status == StatusDeactivated {
		return apperr.Conflict("status", "user %d is deactivated: reactivate it before blocking", id)
	}
	return s.setStatus(ctx, tx, id, StatusBlocked, ReasonAdmin, ReasonNone)
}

// UnblockTx makes a blocked user active again (also one blocked because of a
// legal hold, which is how an administrator reactivates a user still on hold).
func (s *Service) UnblockTx(ctx context.Context, tx *sqlx.Tx, id int64) error {
	st, err := current(ctx, tx, id)
	if err != nil {
		return err
	}
	switch st.Status {
	case StatusActive:
		return nil
	case StatusDeactivated:
		return apperr.Conflict("status", "user %d is deactivated, not blocked: reactivate it instead", id)
	}
	return s.setStatus(ctx, tx, id, StatusActive, ReasonNone, ReasonNone)
}

// MoveTx moves user id to org orgID.
func (s *Service) MoveTx(ctx context.Context, tx *sqlx.Tx, id, orgID int64) error {
	if _, err := current(ctx, tx, id); err != nil {
		return err
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM orgs WHERE id = ?`, orgID); err != nil {
		return fmt.Errorf("users: move %d: %w", id, err)
	}
	if n == 0 {
		return apperr.Invalid("orgId", "org %d does not exist", orgID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET org_id = ?, updated_at = ? WHERE id = ?`, orgID, s.stamp(), id); err != nil {
		return fmt.Errorf("users: move %d: %w", id, err)
	}
	return nil
}

// ReleaseTx is called when user id may have left its last active legal hold:
// a user blocked with ReasonLegalHold and no longer on hold is deactivated at
// once, on behalf of whoever asked for the deactivation. It reports whether
// the user was deactivated.
func (s *Service) ReleaseTx(ctx context.Context, tx *sqlx.Tx, id int64) (bool, error) {
	st, err := current(ctx, tx, id)
	if err != nil {
		return false, err
	}
	if st.Status != StatusBlocked || st.Reason != ReasonLegalHold {
		return false, nil
	}
	held, err := OnHold(ctx, tx, id)
	if err != nil || held {
		return false, err
	}
	by := st.Pending
	if by == ReasonNone {
		by = ReasonAdmin
	}
	// Clear the block first so DeactivateTx sees an ordinary active user.
	if err := s.setStatus(ctx, tx, id, StatusActive, ReasonNone, ReasonNone); err != nil {
		return false, err
	}
	_, err = s.DeactivateTx(ctx, tx, id, by)
	return err == nil, err
}

// UpdateProfileTx sets email and names, reporting whether anything changed.
func (s *Service) UpdateProfileTx(ctx context.Context, tx *sqlx.Tx, id int64, email, first, last string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, first_name = ?, last_name = ?, updated_at = ?
		WHERE id = ? AND (email <> ? OR first_name <> ? OR last_name <> ?)`, email, first, last, s.stamp(), id, email, first, last)
	if err != nil {
		return false, fmt.Errorf("users: update profile of %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
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
	return s.apply(ctx, id, func(tx *sqlx.Tx) error { _, err := s.DeactivateTx(ctx, tx, id, by); return err })
}

// Reactivate reactivates user id.
func (s *Service) Reactivate(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, id, func(tx *sqlx.Tx) error { return s.ReactivateTx(ctx, tx, id) })
}

// Block blocks user id as an administrator.
func (s *Service) Block(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, id, func(tx *sqlx.Tx) error { return s.BlockTx(ctx, tx, id) })
}

// Unblock unblocks user id.
func (s *Service) Unblock(ctx context.Context, id int64) (User, error) {
	return s.apply(ctx, id, func(tx *sqlx.Tx) error { return s.UnblockTx(ctx, tx, id) })
}

// Move moves user id to org orgID.
func (s *Service) Move(ctx context.Context, id, orgID int64) (User, error) {
	return s.apply(ctx, id, func(tx *sqlx.Tx) error { return s.MoveTx(ctx, tx, id, orgID) })
}
