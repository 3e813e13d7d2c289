// Package roles is the set of roles and the Role Mapping list: which roles
// exist, their stored spelling, and which of them a directory (DIRSYNC, the
// sign-in scripts) may add and remove. It decides, without writing, what
// roles a role name script's result asks for, so that registration and a
// sync turn the same result into the same roles.
//
// It owns the roles table; users owns which user holds which role.
package roles

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/stamped"
)

// Sysadmin is the role that rules the server: it may use the API and the
// console.
const Sysadmin = "SYSADMIN"

// RefuseRuling refuses names (for field) when one of them is Sysadmin: no
// directory, script or provider may make anyone an administrator, so that
// role can be neither an org's default role nor on the Role Mapping list.
func RefuseRuling(field string, names []string) error {
	for _, n := range names {
		if fold(n) == fold(Sysadmin) {
			return apperr.Invalid(field, "%s rules the server: it cannot be given by a directory, a script or an org's defaults; grant it to a user by hand", Sysadmin)
		}
	}
	return nil
}

// MaxNameLength bounds a role name, in characters: no role has a longer one
// (a script's role names are at most 100 characters, docs/rules.md section 10).
const MaxNameLength = 100

// Role is a role and whether the directory may manage it.
type Role struct {
	Name      string `json:"name" db:"name"`
	Builtin   bool   `json:"builtin" db:"builtin"`
	InMapping bool   `json:"inMapping" db:"in_mapping"`
}

// List returns every role, ordered by name.
func List(ctx context.Context, q sqlx.QueryerContext) ([]Role, error) {
	var out []Role
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT name, builtin, in_mapping FROM roles ORDER BY name`); err != nil {
		return nil, fmt.Errorf("roles: list: %w", err)
	}
	return out, nil
}

// Canonical returns names in their stored spelling, without duplicates
// (ignoring case) and sorted. A name that is no role is an apperr Invalid
// naming field.
func Canonical(ctx context.Context, q sqlx.QueryerContext, field string, names []string) ([]string, error) {
	all, err := read(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("roles: read: %w", err)
	}
	knownNames := all.names
	out := []string{}
	seen := map[string]bool{}
	for _, n := range names {
		if err := apperr.CheckLine(field, n, MaxNameLength); err != nil {
			return nil, err
		}
		canon, ok := knownNames[fold(n)]
		if !ok {
			return nil, apperr.Invalid(field, "unknown role %q", n)
		}
		if !seen[fold(canon)] {
			seen[fold(canon)] = true
			out = append(out, canon)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Mapping is the Role Mapping list: the roles a directory may add and
// remove, keyed by their case-folded name, with their stored spelling.
type Mapping map[string]string

// LoadMapping reads the Role Mapping list (never with Sysadmin, even if an
// old database has it there).
func LoadMapping(ctx context.Context, q sqlx.QueryerContext) (Mapping, error) {
	all, err := read(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("roles: read: %w", err)
	}
	m := maps.Clone(all.mapping)
	delete(m, fold(Sysadmin))
	return Mapping(m), nil
}

// Names returns the list's roles, sorted.
func (m Mapping) Names() []string {
	out := make([]string, 0, len(m))
	for _, n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has reports whether role is on the list.
func (m Mapping) Has(role string) bool {
	_, ok := m[fold(role)]
	return ok
}

// Wanted returns the roles a role name script's result asks for: the names
// on the list, in their stored spelling, without duplicates, sorted. When
// none is left (no result, an empty one, or only names off the list) the
// org's default roles are wanted instead, as they are (but never Sysadmin).
//
// Registration gives a new user exactly these roles; a sync makes the
// user's roles on the list equal to them (see Diff), so both turn the same
// result into the same roles.
func (m Mapping) Wanted(script, orgDefaults []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range script {
		canon, ok := m[fold(n)]
		if ok && !seen[fold(canon)] {
			seen[fold(canon)] = true
			out = append(out, canon)
		}
	}
	if len(out) == 0 {
		for _, d := range orgDefaults {
			if RefuseRuling("", []string{d}) == nil {
				out = append(out, d)
			}
		}
		return out
	}
	sort.Strings(out)
	return out
}

// Diff returns what makes the roles have, within the list, equal to
// wanted: the wanted roles on the list that are missing, and the roles on
// the list that are not wanted (both sorted). Wanted names off the list are
// ignored; roles off the list are never removed.
func (m Mapping) Diff(have, wanted []string) (added, removed []string) {
	want := map[string]string{}
	for _, w := range wanted {
		if canon, ok := m[fold(w)]; ok {
			want[fold(canon)] = canon
		}
	}
	has := map[string]bool{}
	for _, h := range have {
		has[fold(h)] = true
		if m.Has(h) {
			if _, ok := want[fold(h)]; !ok {
				removed = append(removed, h)
			}
		}
	}
	for f, canon := range want {
		if !has[f] {
			added = append(added, canon)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// Apply returns have after adding and removing, sorted.
func Apply(have, added, removed []string) []string {
	gone := map[string]bool{}
	for _, r := range removed {
		gone[fold(r)] = true
	}
	var out []string
	for _, h := range have {
		if !gone[fold(h)] {
			out = append(out, h)
		}
	}
	out = append(out, added...)
	sort.Strings(out)
	return out
}

// SetMapping makes the list exactly names (each a known role, any case, and
// never Sysadmin: see RefuseRuling), inside tx.
func SetMapping(ctx context.Context, tx *sqlx.Tx, names []string) error {
	canon, err := Canonical(ctx, tx, "roles", names)
	if err != nil {
		return err
	}
	if err := RefuseRuling("roles", canon); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE roles SET in_mapping = 0`); err != nil {
		return fmt.Errorf("roles: set the mapping: %w", err)
	}
	for _, n := range canon {
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET in_mapping = 1 WHERE name = ?`, n); err != nil {
			return fmt.Errorf("roles: set the mapping: %w", err)
		}
	}
	return nil
}

// known is every role and the Role Mapping list, by folded name, with
// their stored spelling; shared (kept), never changed.
type known struct {
	names, mapping map[string]string
}

// kept are the roles last read, kept while the roles_stamp row is unchanged
// (migration 0017: every write to roles changes it).
var kept = stamped.New[*known](`SELECT stamp FROM roles_stamp WHERE id = 1`)

// read returns every role and the Role Mapping list as q sees them, read
// afresh only when a role changed since they were last read.
func read(ctx context.Context, q sqlx.QueryerContext) (*known, error) {
	return kept.Get(ctx, q, func(q sqlx.QueryerContext) (*known, error) { return load(ctx, q) })
}

// load reads every role and whether it is on the Role Mapping list.
func load(ctx context.Context, q sqlx.QueryerContext) (*known, error) {
	var rows []struct {
		Name      string `db:"name"`
		InMapping bool   `db:"in_mapping"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT name, in_mapping FROM roles`); err != nil {
		return nil, err
	}
	k := &known{names: make(map[string]string, len(rows)), mapping: map[string]string{}}
	for _, r := range rows {
		k.names[fold(r.Name)] = r.Name
		if r.InMapping {
			k.mapping[fold(r.Name)] = r.Name
		}
	}
	return k, nil
}

// fold is the key names compare by: trimmed, case-insensitive.
func fold(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// NewMapping returns a list of exactly names (as given; Sysadmin never):
// the roles some other source than the directory (a provisioning
// provider's role mapping) may add and remove.
func NewMapping(names ...string) Mapping {
	m := Mapping{}
	for _, n := range names {
		if RefuseRuling("", []string{n}) == nil && strings.TrimSpace(n) != "" {
			m[fold(n)] = n
		}
	}
	return m
}
