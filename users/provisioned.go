package users

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/casefold"
)

// Provisioned users: users whose source is a provisioning provider (SCIM,
// docs/rules.md section 9). The provider's rules live in package
// provisioning; this file keeps the users table's side of them, so that
// every read and write of users stays in this package.

// Provisioned is a user as its provisioning provider sees it.
type Provisioned struct {
	ID         int64  `db:"id"`
	Username   string `db:"username"`
	ProviderID int64  `db:"provider_id"`
	ExternalID string `db:"external_id"`
	OrgID      int64  `db:"org_id"`
	OrgName    string `db:"org_name"`
	Status     Status `db:"status"`
	Reason     Reason `db:"status_reason"`
	Pending    Reason `db:"pending_reason"`
	Deleted    bool   `db:"scim_deleted"`
	// DeactivateAt is when the provider's pending deactivation is due ("": none).
	DeactivateAt string `db:"deactivate_at"`
	CreatedAt    string `db:"created_at"`
	UpdatedAt    string `db:"updated_at"`
	ProvisionedAttrs
}

// ProvisionedAttrs are the attributes a provider writes on its users: the
// profile of docs/rules.md section 1, the same model whatever the source.
type ProvisionedAttrs = Profile

const provisionedColumns = `u.id, u.username, coalesce(u.provider_id, 0) AS provider_id, u.external_id, u.org_id, o.name AS org_name,
	u.status, u.status_reason, u.pending_reason, u.scim_deleted, coalesce(u.deactivate_at, '') AS deactivate_at, u.created_at, u.updated_at,
	u.email, u.first_name, u.last_name, u.title, u.department, u.division, u.employee_type, u.employee_number, u.city, u.state, u.country, u.manager_id`

// ProviderActive reports whether the user is active as its provider sees
// it: not disabled or deleted by the provider (an administrator's block
// does not show).
func (u Provisioned) ProviderActive() bool {
	return u.Reason != ReasonProvisioning && u.Pending != ReasonProvisioning && u.DeactivateAt == "" &&
		!(u.Status == StatusDeactivated)
}

// ProvisionedFilter narrows ListProvisioned. Zero fields match everything
// of the provider (deleted users never match).
type ProvisionedFilter struct {
	Username   string // exact, ignoring case
	ExternalID string // exact
	IDs        []int64
	Limit      int // 0: no limit
	Offset     int
}

// ListProvisioned returns provider's users matching f, by id, and how many
// match in all.
func ListProvisioned(ctx context.Context, q sqlx.QueryerContext, provider int64, f ProvisionedFilter) ([]Provisioned, int, error) {
	where := []string{"u.provider_id = ?", "u.scim_deleted = 0"}
	args := []any{provider}
	if f.Username != "" {
		where, args = append(where, "u.username_key = ?"), append(args, casefold.Key(f.Username))
	}
	if f.ExternalID != "" {
		where, args = append(where, "u.external_id = ?"), append(args, f.ExternalID)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []Provisioned{}, 0, nil
		}
		where = append(where, "u.id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.IDs)), ",")+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := sqlx.GetContext(ctx, q, &total, `SELECT count(*) FROM users u WHERE `+cond, args...); err != nil {
		return nil, 0, fmt.Errorf("users: count provisioned users: %w", err)
	}
	query := `SELECT ` + provisionedColumns + ` FROM users u JOIN orgs o ON o.id = u.org_id WHERE ` + cond + ` ORDER BY u.id`
	if f.Limit > 0 || f.Offset > 0 {
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		query += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, f.Offset)
	}
	out := []Provisioned{}
	if err := sqlx.SelectContext(ctx, q, &out, query, args...); err != nil {
		return nil, 0, fmt.Errorf("users: list provisioned users: %w", err)
	}
	return out, total, nil
}

// GetProvisioned returns user id when provider is its source and has not
// deleted it; otherwise NotFound (a provider sees only its own users). One
// select by primary key.
func GetProvisioned(ctx context.Context, q sqlx.QueryerContext, provider, id int64) (Provisioned, error) {
	var out []Provisioned
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT `+provisionedColumns+` FROM users u JOIN orgs o ON o.id = u.org_id
		WHERE u.id = ? AND u.provider_id = ? AND u.scim_deleted = 0`, id, provider); err != nil {
		return Provisioned{}, fmt.Errorf("users: get provisioned user %d: %w", id, err)
	}
	if len(out) == 0 {
		return Provisioned{}, apperr.NotFound("user %d does not exist", id)
	}
	return out[0], nil
}

// DeletedProvisionedID returns the id of the user named username that
// provider deleted (0 when there is none): a POST of the same userName by
// the same provider brings it back.
func DeletedProvisionedID(ctx context.Context, q sqlx.QueryerContext, provider int64, username string) (int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, `SELECT id FROM users WHERE provider_id = ? AND scim_deleted = 1 AND username_key = ?`,
		provider, casefold.Key(username)); err != nil {
		return 0, fmt.Errorf("users: find deleted user %q: %w", username, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// CreateProvisionedTx makes a user whose source is provider, in org orgID
// with roles (the org's default roles when empty). A username held by any
// user, of any source, is a Conflict.
func (s *Service) CreateProvisionedTx(ctx context.Context, tx *sqlx.Tx, provider int64, username, externalID string, orgID int64, roleNames []string, a ProvisionedAttrs) (int64, error) {
	if err := ValidateUsername(username); err != nil {
		return 0, err
	}
	if err := a.Validate(); err != nil {
		return 0, err
	}
	var exists int
	if err := tx.GetContext(ctx, &exists, `SELECT count(*) FROM users WHERE username_key = ?`, casefold.Key(username)); err != nil {
		return 0, fmt.Errorf("users: create %s: %w", username, err)
	}
	if exists > 0 {
		return 0, apperr.Conflict("userName", "the username %q is taken", username)
	}
	id, err := s.CreateTx(ctx, tx, NewUser{Username: username, OrgID: orgID, Roles: roleNames, Password: "", Email: a.Email, FirstName: a.FirstName, LastName: a.LastName, provisioned: true})
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET provider_id = ?, external_id = ? WHERE id = ?`, provider, externalID, id); err != nil {
		return 0, fmt.Errorf("users: create %s: %w", username, err)
	}
	_, err = s.SetProvisionedTx(ctx, tx, id, username, externalID, a)
	return id, err
}

// SetProvisionedTx writes what a provider says of user id: username,
// external id and attributes. It reports whether anything changed. A
// username held by another user is a Conflict; a manager must be a user of
// the same provider.
func (s *Service) SetProvisionedTx(ctx context.Context, tx *sqlx.Tx, id int64, username, externalID string, a ProvisionedAttrs) (bool, error) {
	if err := ValidateUsername(username); err != nil {
		return false, err
	}
	if err := a.Validate(); err != nil {
		return false, err
	}
	if err := apperr.CheckLine("externalId", externalID, MaxNameLength); err != nil {
		return false, err
	}
	var clash int
	if err := tx.GetContext(ctx, &clash, `SELECT count(*) FROM users WHERE username_key = ? AND id <> ?`, casefold.Key(username), id); err != nil {
		return false, fmt.Errorf("users: rename %d: %w", id, err)
	}
	if clash > 0 {
		return false, apperr.Conflict("userName", "the username %q is taken", username)
	}
	if a.ManagerID != nil {
		var same int
		if err := tx.GetContext(ctx, &same, `SELECT count(*) FROM users m JOIN users u ON u.id = ? WHERE m.id = ? AND m.id <> u.id AND m.provider_id IS u.provider_id AND m.scim_deleted = 0`, id, *a.ManagerID); err != nil {
			return false, fmt.Errorf("users: manager of %d: %w", id, err)
		}
		if same == 0 {
			return false, apperr.Invalid("manager", "user %d is not a user of this provider", *a.ManagerID)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, username_key = ?, external_id = ?, updated_at = ?
		WHERE id = ? AND NOT (username = ? AND external_id = ?)`,
		username, casefold.Key(username), externalID, s.stampNano(), id, username, externalID)
	if err != nil {
		return false, fmt.Errorf("users: update provisioned user %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	changed, err := s.UpdateProfileTx(ctx, tx, id, a)
	return n > 0 || changed, err
}

// SetProvisioningStateTx records user id's provider-side state: deleted by
// its provider or not, and when a pending deactivation is due (zero: none).
func (s *Service) SetProvisioningStateTx(ctx context.Context, tx *sqlx.Tx, id int64, deleted bool, due time.Time) error {
	var at any
	if !due.IsZero() {
		at = due.UTC().Format(time.RFC3339Nano)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET scim_deleted = ?, deactivate_at = ?, updated_at = ? WHERE id = ?`, deleted, at, s.stampNano(), id); err != nil {
		return fmt.Errorf("users: set provisioning state of %d: %w", id, err)
	}
	return nil
}

// Touch marks user id changed now (its SCIM version moves on).
func (s *Service) Touch(ctx context.Context, e sqlx.ExecerContext, id int64) error {
	if _, err := e.ExecContext(ctx, `UPDATE users SET updated_at = ? WHERE id = ?`, s.stampNano(), id); err != nil {
		return fmt.Errorf("users: touch %d: %w", id, err)
	}
	return nil
}

// DueDeactivations returns the users whose provider's deactivation is due
// at now, oldest first, at most limit.
func DueDeactivations(ctx context.Context, q sqlx.QueryerContext, now time.Time, limit int) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, `SELECT id FROM users WHERE deactivate_at IS NOT NULL AND deactivate_at <= ? ORDER BY deactivate_at, id LIMIT ?`,
		now.UTC().Format(time.RFC3339Nano), limit); err != nil {
		return nil, fmt.Errorf("users: due deactivations: %w", err)
	}
	return ids, nil
}

// NextDeactivation returns when the next pending deactivation is due (zero
// when none is pending).
func NextDeactivation(ctx context.Context, q sqlx.QueryerContext) (time.Time, error) {
	var at *string
	if err := sqlx.GetContext(ctx, q, &at, `SELECT min(deactivate_at) FROM users WHERE deactivate_at IS NOT NULL`); err != nil {
		return time.Time{}, fmt.Errorf("users: next deactivation: %w", err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *at)
	if err != nil {
		return time.Time{}, fmt.Errorf("users: next deactivation %q: %w", *at, err)
	}
	return t, nil
}

// ProviderUserIDs returns the ids of every user whose source is provider
// (deleted ones too).
func ProviderUserIDs(ctx context.Context, q sqlx.QueryerContext, provider int64) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, `SELECT id FROM users WHERE provider_id = ? ORDER BY id`, provider); err != nil {
		return nil, fmt.Errorf("users: users of provider %d: %w", provider, err)
	}
	return ids, nil
}

// stampNano is the time of a change with nanoseconds: a SCIM version (ETag)
// changes with every write, also two in one second.
func (s *Service) stampNano() string { return s.Now().UTC().Format(time.RFC3339Nano) }
