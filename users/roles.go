package users

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
)

// Role is a role and whether LDAP scripts may manage it.
type Role struct {
	Name      string `json:"name" db:"name"`
	Builtin   bool   `json:"builtin" db:"builtin"`
	InMapping bool   `json:"inMapping" db:"in_mapping"`
}

// Roles lists every role.
func (s *Service) Roles(ctx context.Context) ([]Role, error) {
	var out []Role
	if err := s.DB.SelectContext(ctx, &out, `SELECT name, builtin, in_mapping FROM roles ORDER BY name`); err != nil {
		return nil, fmt.Errorf("users: roles: %w", err)
	}
	return out, nil
}

// RoleMapping returns the Role Mapping list: the roles LDAP scripts may add and remove.
func (s *Service) RoleMapping(ctx context.Context) ([]string, error) {
	out := []string{}
	if err := s.DB.SelectContext(ctx, &out, `SELECT name FROM roles WHERE in_mapping = 1 ORDER BY name`); err != nil {
		return nil, fmt.Errorf("users: role mapping: %w", err)
	}
	return out, nil
}

// SetRoleMapping replaces the Role Mapping list. Every name must be a known role.
func (s *Service) SetRoleMapping(ctx context.Context, names []string) ([]string, error) {
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET in_mapping = 0`); err != nil {
			return fmt.Errorf("users: set role mapping: %w", err)
		}
		for _, n := range names {
			res, err := tx.ExecContext(ctx, `UPDATE roles SET in_mapping = 1 WHERE name = ?`, strings.TrimSpace(n))
			if err != nil {
				return fmt.Errorf("users: set role mapping: %w", err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return apperr.Invalid("roles", "unknown role %q", n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.RoleMapping(ctx)
}

// CanonicalRole returns the stored spelling of role name, or false when there is no such role.
func (s *Service) CanonicalRole(ctx context.Context, name string) (string, bool, error) {
	var out string
	err := s.DB.GetContext(ctx, &out, `SELECT name FROM roles WHERE name = ?`, strings.TrimSpace(name))
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("users: role %q: %w", name, err)
	}
	return out, true, nil
}

// DiffManagedRoles returns what makes the roles have, within the Role Mapping
// list (mapping: lower-case name → stored name), equal to wanted: the wanted
// roles missing, and the listed roles not wanted (both sorted). Wanted names
// outside the list are ignored; roles outside it are never removed.
func DiffManagedRoles(have, wanted []string, mapping map[string]string) (added, removed []string) {
	want := map[string]string{}
	for _, w := range wanted {
		if canon, ok := mapping[strings.ToLower(strings.TrimSpace(w))]; ok {
			want[strings.ToLower(canon)] = canon
		}
	}
	has := map[string]bool{}
	for _, h := range have {
		lh := strings.ToLower(h)
		has[lh] = true
		if _, managed := mapping[lh]; managed {
			if _, ok := want[lh]; !ok {
				removed = append(removed, h)
			}
		}
	}
	for lw, canon := range want {
		if !has[lw] {
			added = append(added, canon)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// SetManagedRolesTx makes user id's roles inside the Role Mapping list equal
// to wanted (see DiffManagedRoles) and returns the roles added and removed.
func (s *Service) SetManagedRolesTx(ctx context.Context, tx *sqlx.Tx, id int64, wanted []string, mapping map[string]string) (added, removed []string, err error) {
	var have []string
	if err := tx.SelectContext(ctx, &have, `SELECT role FROM user_roles WHERE user_id = ?`, id); err != nil {
		return nil, nil, fmt.Errorf("users: roles of %d: %w", id, err)
	}
	added, removed = DiffManagedRoles(have, wanted, mapping)
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

// MappingSet returns the Role Mapping list keyed by lower-case name, for SetManagedRolesTx.
func (s *Service) MappingSet(ctx context.Context) (map[string]string, error) {
	names, err := s.RoleMapping(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m, nil
}

func decodeRoles(raw string) []string {
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
