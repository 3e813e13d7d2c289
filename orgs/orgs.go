// Package orgs is the organization tree: unique case-insensitive names,
// registration keys, and the settings an org inherits from its parent
// (authentication method, LDAP servers, archive hold days).
package orgs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/users/roles"
)

// Authentication methods.
const (
	AuthLocal = "local"
	AuthLDAP  = "ldap"
)

// Defaults for the root org, which every other org inherits from unless set.
const (
	RootName               = "Default"
	DefaultArchiveHoldDays = 365
	MaxArchiveHoldDays     = 36500
	MaxNameLength          = 255 // characters: any org name a script may return (docs/rules.md section 10)
)

// DefaultRoles are the roles a new org gives its users unless configured otherwise.
var DefaultRoles = []string{"Desktop User", "PROe User"}

// Org is an organization with its own settings and the effective ones it
// inherits. JSON field names are the API's.
type Org struct {
	ID                       int64    `json:"id"`
	Name                     string   `json:"name"`
	ParentID                 *int64   `json:"parentId"`
	RegistrationKey          string   `json:"registrationKey"`
	AuthMethod               string   `json:"authMethod"` // "", "local" or "ldap"; "" inherits
	EffectiveAuthMethod      string   `json:"effectiveAuthMethod"`
	LDAPServerIDs            []int64  `json:"ldapServerIds"` // own; empty inherits
	EffectiveLDAPServerIDs   []int64  `json:"effectiveLdapServerIds"`
	DefaultRoles             []string `json:"defaultRoles"`
	ArchiveHoldDays          int      `json:"archiveHoldDays"` // effective
	ArchiveHoldDaysInherited bool     `json:"archiveHoldDaysInherited"`
	CreatedAt                string   `json:"createdAt"`
}

// UsesLDAP reports whether the org's effective authentication method is LDAP.
func (o Org) UsesLDAP() bool { return o.EffectiveAuthMethod == AuthLDAP }

// Service reads and changes orgs.
type Service struct {
	DB  *sqlx.DB
	Now func() time.Time
}

// New returns a Service on db, taking time from now (time.Now when nil).
func New(db *sqlx.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{DB: db, Now: now}
}

// List returns every org ordered by id.
func (s *Service) List(ctx context.Context) ([]Org, error) {
	t, err := s.Load(ctx)
	if err != nil {
		return nil, err
	}
	return t.All(), nil
}

// Get returns one org.
func (s *Service) Get(ctx context.Context, id int64) (Org, error) { return GetTx(ctx, s.DB, id) }

// GetTx returns one org with its effective settings, reading through q (a
// transaction of the caller's, or the database).
func GetTx(ctx context.Context, q sqlx.QueryerContext, id int64) (Org, error) {
	t, err := snapshot(ctx, q)
	if err != nil {
		return Org{}, err
	}
	o, ok := t.Get(id)
	if !ok {
		return Org{}, apperr.NotFound("org %d does not exist", id)
	}
	return o, nil
}

// ByName returns the org with that name, ignoring case (casefold.Key).
func (s *Service) ByName(ctx context.Context, name string) (Org, error) {
	t, err := s.Load(ctx)
	if err != nil {
		return Org{}, fmt.Errorf("orgs: by name: %w", err)
	}
	o, ok := t.ByName(name)
	if !ok {
		return Org{}, apperr.NotFound("no org is named %q", name)
	}
	return o, nil
}

// ByRegistrationKey returns the org with that registration key (any case,
// spaces around it ignored).
func (s *Service) ByRegistrationKey(ctx context.Context, key string) (Org, error) {
	t, err := s.Load(ctx)
	if err != nil {
		return Org{}, fmt.Errorf("orgs: by registration key: %w", err)
	}
	o, ok := t.byRegistrationKey(strings.ToUpper(strings.TrimSpace(key)))
	if !ok {
		return Org{}, apperr.NotFound("no org has that registration key")
	}
	return o, nil
}

// EnsureRoot creates the root org Default when there is no org yet, and
// returns the root.
func (s *Service) EnsureRoot(ctx context.Context) (Org, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `SELECT id FROM orgs WHERE parent_id IS NULL ORDER BY id LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		key, kerr := NewRegistrationKey()
		if kerr != nil {
			return Org{}, kerr
		}
		hold := DefaultArchiveHoldDays
		res, err := s.DB.ExecContext(ctx, `INSERT INTO orgs(name, name_key, parent_id, registration_key, auth_method, default_roles, archive_hold_days, created_at) VALUES(?, ?, NULL, ?, 'local', ?, ?, ?)`,
			RootName, casefold.Key(RootName), key, mustJSON(DefaultRoles), hold, s.stamp())
		if err != nil {
			return Org{}, fmt.Errorf("orgs: create root: %w", err)
		}
		id, _ = res.LastInsertId()
	} else if err != nil {
		return Org{}, fmt.Errorf("orgs: find root: %w", err)
	}
	return s.Get(ctx, id)
}

// Input is what an administrator sends to create or change an org. A nil
// field is left as it is (or takes its default on create).
type Input struct {
	Name            *string       `json:"name"`
	ParentID        *int64        `json:"parentId"`
	AuthMethod      *string       `json:"authMethod"`
	LDAPServerIDs   *[]int64      `json:"ldapServerIds"`
	DefaultRoles    *[]string     `json:"defaultRoles"`
	ArchiveHoldDays Nullable[int] `json:"archiveHoldDays"`
	Regenerate      *bool         `json:"regenerateRegistrationKey"`
}

// Nullable is a JSON field that can be absent, null, or a value.
type Nullable[T any] struct {
	Set   bool // present in the JSON
	Null  bool // present and null
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// Create makes a new org. With no parent it goes under the root.
func (s *Service) Create(ctx context.Context, in Input) (Org, error) {
	if in.Name == nil {
		return Org{}, apperr.Invalid("name", "is required")
	}
	var id int64
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		parent := in.ParentID
		if parent == nil {
			var root int64
			if err := tx.GetContext(ctx, &root, `SELECT id FROM orgs WHERE parent_id IS NULL ORDER BY id LIMIT 1`); err != nil {
				return fmt.Errorf("orgs: find root: %w", err)
			}
			parent = &root
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM orgs WHERE id = ?`, *parent); err != nil {
			return fmt.Errorf("orgs: create: %w", err)
		}
		if n == 0 {
			return apperr.Invalid("parentId", "org %d does not exist", *parent)
		}
		key, err := NewRegistrationKey()
		if err != nil {
			return err
		}
		placeholder := "new org " + key // named by apply below
		res, err := tx.ExecContext(ctx, `INSERT INTO orgs(name, name_key, parent_id, registration_key, created_at) VALUES(?, ?, ?, ?, ?)`,
			placeholder, casefold.Key(placeholder), *parent, key, s.stamp())
		if err != nil {
			return fmt.Errorf("orgs: create: %w", err)
		}
		id, _ = res.LastInsertId()
		in.ParentID = parent
		if err := s.apply(ctx, tx, id, in, true); err != nil {
			return err
		}
		return record(ctx, tx, audit.OrgCreate, nil, id)
	})
	if err != nil {
		return Org{}, err
	}
	return s.Get(ctx, id)
}

// Update changes the fields of in that are set.
func (s *Service) Update(ctx context.Context, id int64, in Input) (Org, error) {
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM orgs WHERE id = ?`, id); err != nil {
			return fmt.Errorf("orgs: update: %w", err)
		}
		if n == 0 {
			return apperr.NotFound("org %d does not exist", id)
		}
		var before *Org
		if audit.Active(ctx) {
			o, err := GetTx(ctx, tx, id)
			if err != nil {
				return err
			}
			before = &o
		}
		if err := s.apply(ctx, tx, id, in, false); err != nil {
			return err
		}
		return record(ctx, tx, audit.OrgUpdate, before, id)
	})
	if err != nil {
		return Org{}, err
	}
	return s.Get(ctx, id)
}

// record records an administrator's change of org id (before: nil when
// created) in the audit log, inside tx. The effective values, which follow
// from the org's own and its parents', are left out.
func record(ctx context.Context, tx *sqlx.Tx, action string, before *Org, id int64) error {
	if !audit.Active(ctx) {
		return nil
	}
	after, err := GetTx(ctx, tx, id)
	if err != nil {
		return err
	}
	var b any
	if before != nil {
		b = *before
	}
	return audit.RecordTx(ctx, tx, action, audit.Target("org", id, after.Name),
		audit.Diff(b, after, audit.Ignore("id", "createdAt", "effectiveAuthMethod", "effectiveLdapServerIds")))
}

// apply validates and writes the set fields of in to org id inside tx.
func (s *Service) apply(ctx context.Context, tx *sqlx.Tx, id int64, in Input, creating bool) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return apperr.Invalid("name", "must not be empty")
		}
		if err := apperr.CheckLine("name", name, MaxNameLength); err != nil {
			return err
		}
		var other int64
		err := tx.GetContext(ctx, &other, `SELECT id FROM orgs WHERE name_key = ? AND id <> ?`, casefold.Key(name), id)
		if err == nil {
			return apperr.Invalid("name", "an org named %q already exists (org %d); org names are unique, ignoring case", name, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("orgs: check name: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET name = ?, name_key = ? WHERE id = ?`, name, casefold.Key(name), id); err != nil {
			return fmt.Errorf("orgs: set name: %w", err)
		}
	}
	if in.ParentID != nil {
		if err := s.setParent(ctx, tx, id, *in.ParentID, creating); err != nil {
			return err
		}
	}
	if in.AuthMethod != nil {
		if err := apperr.CheckLine("authMethod", *in.AuthMethod, 16); err != nil {
			return err // no method is longer
		}
		m := strings.ToLower(strings.TrimSpace(*in.AuthMethod))
		if m != "" && m != AuthLocal && m != AuthLDAP {
			return apperr.Invalid("authMethod", "must be \"local\", \"ldap\" or \"\" (inherit from the parent org), not %q", *in.AuthMethod)
		}
		var isRoot bool
		if err := tx.GetContext(ctx, &isRoot, `SELECT parent_id IS NULL FROM orgs WHERE id = ?`, id); err != nil {
			return fmt.Errorf("orgs: set auth method: %w", err)
		}
		if m == "" && isRoot {
			m = AuthLocal // the root has nothing to inherit from
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET auth_method = ? WHERE id = ?`, m, id); err != nil {
			return fmt.Errorf("orgs: set auth method: %w", err)
		}
	}
	if in.LDAPServerIDs != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_ldap_servers WHERE org_id = ?`, id); err != nil {
			return fmt.Errorf("orgs: set servers: %w", err)
		}
		seen := map[int64]bool{}
		for i, sid := range *in.LDAPServerIDs {
			if seen[sid] {
				continue
			}
			seen[sid] = true
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM ldap_servers WHERE id = ?`, sid); err != nil {
				return fmt.Errorf("orgs: check server: %w", err)
			}
			if n == 0 {
				return apperr.Invalid("ldapServerIds", "LDAP server %d does not exist; add it under Settings > Security > LDAP first", sid)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO org_ldap_servers(org_id, server_id, position) VALUES(?, ?, ?)`, id, sid, i); err != nil {
				return fmt.Errorf("orgs: set servers: %w", err)
			}
		}
	}
	if in.DefaultRoles != nil {
		names, err := roles.Canonical(ctx, tx, "defaultRoles", *in.DefaultRoles)
		if err != nil {
			return err
		}
		if err := roles.RefuseRuling("defaultRoles", names); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET default_roles = ? WHERE id = ?`, mustJSON(names), id); err != nil {
			return fmt.Errorf("orgs: set default roles: %w", err)
		}
	}
	if in.ArchiveHoldDays.Set {
		var v any
		if !in.ArchiveHoldDays.Null {
			d := in.ArchiveHoldDays.Value
			if d < 0 || d > MaxArchiveHoldDays {
				return apperr.Invalid("archiveHoldDays", "must be between 0 and %d days, or null to inherit from the parent org", MaxArchiveHoldDays)
			}
			v = d
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET archive_hold_days = ? WHERE id = ?`, v, id); err != nil {
			return fmt.Errorf("orgs: set archive hold days: %w", err)
		}
	}
	if in.Regenerate != nil && *in.Regenerate {
		key, err := NewRegistrationKey()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET registration_key = ? WHERE id = ?`, key, id); err != nil {
			return fmt.Errorf("orgs: new registration key: %w", err)
		}
	}
	// An org that authenticates with LDAP must have a server to ask.
	t, err := load(ctx, tx)
	if err != nil {
		return err
	}
	if o, _ := t.Get(id); o.UsesLDAP() && len(o.EffectiveLDAPServerIDs) == 0 {
		return apperr.Invalid("ldapServerIds", "org %q authenticates with LDAP but has no LDAP server, and none to inherit: choose at least one server", o.Name)
	}
	return nil
}

func (s *Service) setParent(ctx context.Context, tx *sqlx.Tx, id, parent int64, creating bool) error {
	var isRoot bool
	if err := tx.GetContext(ctx, &isRoot, `SELECT parent_id IS NULL FROM orgs WHERE id = ?`, id); err != nil {
		return fmt.Errorf("orgs: set parent: %w", err)
	}
	if isRoot && !creating {
		return apperr.Invalid("parentId", "the root org %d has no parent and cannot be moved", id)
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM orgs WHERE id = ?`, parent); err != nil {
		return fmt.Errorf("orgs: set parent: %w", err)
	}
	if n == 0 {
		return apperr.Invalid("parentId", "org %d does not exist", parent)
	}
	// Walk up from the new parent: meeting id would make a cycle.
	for cur := parent; ; {
		if cur == id {
			return apperr.Invalid("parentId", "org %d is org %d itself or one of its descendants: that would make a cycle", parent, id)
		}
		var p sql.NullInt64
		if err := tx.GetContext(ctx, &p, `SELECT parent_id FROM orgs WHERE id = ?`, cur); err != nil {
			return fmt.Errorf("orgs: set parent: %w", err)
		}
		if !p.Valid {
			break
		}
		cur = p.Int64
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orgs SET parent_id = ? WHERE id = ?`, parent, id); err != nil {
		return fmt.Errorf("orgs: set parent: %w", err)
	}
	return nil
}

func (s *Service) stamp() string { return s.Now().UTC().Format(time.RFC3339) }

const keyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/I

// NewRegistrationKey returns a random key of the form XXXX-XXXX-XXXX-XXXX.
func NewRegistrationKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("orgs: registration key: %w", err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(keyAlphabet[int(c)%len(keyAlphabet)])
	}
	return sb.String(), nil
}

// HoldDays returns the effective archiveHoldDays of org id (its own value, or
// the nearest ancestor's, or the default), reading through q.
func HoldDays(ctx context.Context, q sqlx.QueryerContext, id int64) (int, error) {
	o, err := GetTx(ctx, q, id)
	if err != nil {
		return 0, err
	}
	return o.ArchiveHoldDays, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
