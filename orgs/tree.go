package orgs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/stamped"
)

// row is one row of the orgs table (tree.go reads the tree: every org, or
// one org and its ancestors, with inheritance resolved).
type row struct {
	ID              int64         `db:"id"`
	Name            string        `db:"name"`
	ParentID        sql.NullInt64 `db:"parent_id"`
	RegistrationKey string        `db:"registration_key"`
	AuthMethod      string        `db:"auth_method"`
	DefaultRoles    string        `db:"default_roles"`
	ArchiveHoldDays sql.NullInt64 `db:"archive_hold_days"`
	CreatedAt       string        `db:"created_at"`
}

// Tree is a snapshot of every org, with inheritance resolved. It is never
// changed once built (trees are shared: see snapshot); its methods return
// copies.
type Tree struct {
	byID   map[int64]*Org
	byName map[string]int64 // casefold.Key of the name
	byKey  map[string]int64 // registration key
	sorted []Org
}

// Get returns the org with id.
func (t *Tree) Get(id int64) (Org, bool) {
	o, ok := t.byID[id]
	if !ok {
		return Org{}, false
	}
	return o.clone(), true
}

// ByName returns the org named name, ignoring case (casefold.Key, as the
// database's name_key).
func (t *Tree) ByName(name string) (Org, bool) {
	id, ok := t.byName[casefold.Key(strings.TrimSpace(name))]
	if !ok {
		return Org{}, false
	}
	return t.Get(id)
}

// byRegistrationKey returns the org whose registration key is key.
func (t *Tree) byRegistrationKey(key string) (Org, bool) {
	id, ok := t.byKey[key]
	if !ok {
		return Org{}, false
	}
	return t.Get(id)
}

// All returns every org ordered by id.
func (t *Tree) All() []Org {
	out := make([]Org, len(t.sorted))
	for i, o := range t.sorted {
		out[i] = o.clone()
	}
	return out
}

// clone is o with slices of its own, so that a caller changing them leaves
// the shared tree alone.
func (o Org) clone() Org {
	if o.ParentID != nil {
		p := *o.ParentID
		o.ParentID = &p
	}
	o.LDAPServerIDs = append([]int64{}, o.LDAPServerIDs...)
	o.EffectiveLDAPServerIDs = append([]int64{}, o.EffectiveLDAPServerIDs...)
	o.DefaultRoles = append([]string{}, o.DefaultRoles...)
	return o
}

// Load returns every org with inheritance resolved.
func (s *Service) Load(ctx context.Context) (*Tree, error) {
	return snapshot(ctx, s.DB)
}

// LoadTx is Load reading through q (inside a caller's transaction).
func LoadTx(ctx context.Context, q sqlx.QueryerContext) (*Tree, error) { return snapshot(ctx, q) }

// kept is the tree last read, kept while the orgs_stamp row is unchanged
// (migration 0015: every write to orgs or org_ldap_servers changes it).
var kept = stamped.New[*Tree](`SELECT stamp FROM orgs_stamp WHERE id = 1`)

// snapshot returns the tree as q sees it, read afresh only when an org or
// its servers changed since it was last read.
func snapshot(ctx context.Context, q sqlx.QueryerContext) (*Tree, error) {
	t, err := kept.Get(ctx, q, func(q sqlx.QueryerContext) (*Tree, error) { return load(ctx, q) })
	if err != nil {
		return nil, fmt.Errorf("orgs: %w", err)
	}
	return t, nil
}

// load reads every org and resolves inheritance.
func load(ctx context.Context, q sqlx.QueryerContext) (*Tree, error) {
	var rows []row
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+orgColumns+` FROM orgs ORDER BY id`); err != nil {
		return nil, fmt.Errorf("orgs: load: %w", err)
	}
	var links []link
	if err := sqlx.SelectContext(ctx, q, &links, `SELECT org_id, server_id FROM org_ldap_servers ORDER BY org_id, position`); err != nil {
		return nil, fmt.Errorf("orgs: load servers: %w", err)
	}
	return build(rows, links), nil
}

// orgColumns are the columns of row.
const orgColumns = `id, name, parent_id, registration_key, auth_method, default_roles, archive_hold_days, created_at`

// link is one row of org_ldap_servers.
type link struct {
	OrgID    int64 `db:"org_id"`
	ServerID int64 `db:"server_id"`
}

// build makes the tree of rows and resolves inheritance.
func build(rows []row, links []link) *Tree {
	t := &Tree{byID: make(map[int64]*Org, len(rows)), byName: make(map[string]int64, len(rows)), byKey: make(map[string]int64, len(rows))}
	raw := make(map[int64]row, len(rows))
	for _, r := range rows {
		raw[r.ID] = r
		o := &Org{ID: r.ID, Name: r.Name, RegistrationKey: r.RegistrationKey, AuthMethod: r.AuthMethod, CreatedAt: r.CreatedAt, LDAPServerIDs: []int64{}}
		if r.ParentID.Valid {
			p := r.ParentID.Int64
			o.ParentID = &p
		}
		if err := json.Unmarshal([]byte(r.DefaultRoles), &o.DefaultRoles); err != nil || o.DefaultRoles == nil {
			o.DefaultRoles = append([]string(nil), DefaultRoles...)
		}
		t.byID[r.ID] = o
		// Rows come by id: two names alike ignoring case (a database from
		// before migration 0006) find the oldest, as name_key does.
		if _, ok := t.byName[casefold.Key(r.Name)]; !ok {
			t.byName[casefold.Key(r.Name)] = r.ID
		}
		if _, ok := t.byKey[r.RegistrationKey]; !ok && r.RegistrationKey != "" {
			t.byKey[r.RegistrationKey] = r.ID
		}
	}
	for _, l := range links {
		if o, ok := t.byID[l.OrgID]; ok {
			o.LDAPServerIDs = append(o.LDAPServerIDs, l.ServerID)
		}
	}
	for _, o := range t.byID {
		o.EffectiveAuthMethod, o.EffectiveLDAPServerIDs, o.ArchiveHoldDays, o.ArchiveHoldDaysInherited = t.resolve(o.ID, raw)
	}
	for _, r := range rows {
		t.sorted = append(t.sorted, *t.byID[r.ID])
	}
	return t
}

// resolve walks up from id to find the inherited settings.
func (t *Tree) resolve(id int64, raw map[int64]row) (method string, servers []int64, holdDays int, holdInherited bool) {
	holdDays = -1
	seen := map[int64]bool{}
	for cur, first := t.byID[id], true; cur != nil && !seen[cur.ID]; first = false {
		seen[cur.ID] = true
		if method == "" && cur.AuthMethod != "" {
			method = cur.AuthMethod
		}
		if servers == nil && len(cur.LDAPServerIDs) > 0 {
			servers = append([]int64(nil), cur.LDAPServerIDs...)
		}
		if holdDays < 0 && raw[cur.ID].ArchiveHoldDays.Valid {
			holdDays = int(raw[cur.ID].ArchiveHoldDays.Int64)
			holdInherited = !first
		}
		if cur.ParentID == nil {
			break
		}
		cur = t.byID[*cur.ParentID]
	}
	if method == "" {
		method = AuthLocal
	}
	if servers == nil {
		servers = []int64{}
	}
	if holdDays < 0 {
		holdDays, holdInherited = DefaultArchiveHoldDays, true
	}
	return method, servers, holdDays, holdInherited
}
