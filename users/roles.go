package users

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/users/roles"
)

// Roles lists every role.
func (s *Service) Roles(ctx context.Context) ([]roles.Role, error) { return roles.List(ctx, s.DB) }

// RoleMapping returns the Role Mapping list: the roles LDAP scripts may add and remove.
func (s *Service) RoleMapping(ctx context.Context) ([]string, error) {
	m, err := roles.LoadMapping(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	return m.Names(), nil
}

// SetRoleMapping replaces the Role Mapping list. Every name must be a known
// role. An administrator's change is recorded (audit.SettingsRoleMapping).
func (s *Service) SetRoleMapping(ctx context.Context, names []string) ([]string, error) {
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		before, err := roles.LoadMapping(ctx, tx)
		if err != nil {
			return err
		}
		if err := roles.SetMapping(ctx, tx, names); err != nil {
			return err
		}
		after, err := roles.LoadMapping(ctx, tx)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.SettingsRoleMapping, "settings:role-mapping",
			audit.Diff(map[string]any{"roles": before.Names()}, map[string]any{"roles": after.Names()}))
	})
	if err != nil {
		return nil, err
	}
	return s.RoleMapping(ctx)
}

// Mapping returns the Role Mapping list, for SetManagedRolesTx and the
// decisions of package roles.
func (s *Service) Mapping(ctx context.Context) (roles.Mapping, error) {
	return roles.LoadMapping(ctx, s.DB)
}

// RolesOf returns the roles of users ids (sorted; an empty list for a user
// with none), reading through q.
func RolesOf(ctx context.Context, q sqlx.QueryerContext, ids []int64) (map[int64][]string, error) {
	out := make(map[int64][]string, len(ids))
	for _, id := range ids {
		out[id] = []string{}
	}
	err := inChunks(ids, func(args []any, in string) error {
		return eachRow(ctx, q, `SELECT user_id, role FROM user_roles WHERE user_id IN (`+in+`) ORDER BY user_id, role`, args,
			func(id int64, role string) { out[id] = append(out[id], role) })
	})
	if err != nil {
		return nil, fmt.Errorf("users: roles: %w", err)
	}
	return out, nil
}

// eachRow calls fn with each (id, text) row of query.
func eachRow(ctx context.Context, q sqlx.QueryerContext, query string, args []any, fn func(int64, string)) error {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var text string
		if err := rows.Scan(&id, &text); err != nil {
			return err
		}
		fn(id, text)
	}
	return rows.Err()
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// SetManagedRolesTx makes user id's roles on the Role Mapping list equal to
// wanted (see roles.Mapping.Diff) and returns the roles added and removed.
func (s *Service) SetManagedRolesTx(ctx context.Context, tx *sqlx.Tx, id int64, wanted []string, mapping roles.Mapping) (added, removed []string, err error) {
	have, err := RolesOf(ctx, tx, []int64{id})
	if err != nil {
		return nil, nil, err
	}
	added, removed = mapping.Diff(have[id], wanted)
	for _, r := range removed {
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ? AND role = ?`, id, r); err != nil {
			return nil, nil, fmt.Errorf("users: remove role %s from %d: %w", r, id, err)
		}
	}
	for _, a := range added {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_roles(user_id, role) VALUES(?, ?)`, id, a); err != nil {
			return nil, nil, fmt.Errorf("users: add role %s to %d: %w", a, id, err)
		}
	}
	return added, removed, nil
}

// SetRoles sets user id's roles by hand (an administrator's choice; a sync
// and providers still manage only the roles of their mapping). Every name
// must be a known role. The last active administrator cannot lose
// roles.Sysadmin; a user who loses it is signed out everywhere.
func (s *Service) SetRoles(ctx context.Context, id int64, names []string) (User, error) {
	return s.apply(ctx, audit.UserRoles, id, func(tx *sqlx.Tx) error {
		want, err := roles.Canonical(ctx, tx, "roles", names)
		if err != nil {
			return err
		}
		have, err := RolesOf(ctx, tx, []int64{id})
		if err != nil {
			return err
		}
		if _, _, err := StateTx(ctx, tx, id); err != nil {
			return err
		}
		keeps := false
		for _, r := range want {
			keeps = keeps || r == roles.Sysadmin
		}
		had := false
		for _, r := range have[id] {
			had = had || strings.EqualFold(r, roles.Sysadmin)
		}
		if had && !keeps {
			if err := guardLastAdmin(ctx, tx, id, "take "+roles.Sysadmin+" from"); err != nil {
				return err
			}
			if err := revokeTokens(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("users: set roles of %d: %w", id, err)
		}
		for _, r := range want {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles(user_id, role) VALUES(?, ?)`, id, r); err != nil {
				return fmt.Errorf("users: set roles of %d: %w", id, err)
			}
		}
		return nil
	})
}
