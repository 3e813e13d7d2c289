package orgs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/casefold"
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

// Tree is a snapshot of every org, with inheritance resolved.
type Tree struct {
	byID   map[int64]*Org
	sorted []Org
}

// Get returns the org with id.
func (t *Tree) Get(id int64) (Org, bool) {
	o, ok := t.byID[id]
	if !ok {
		return Org{}, false
	}
	return *o, true
}

// ByName returns the org named name, ignoring case (casefold.Key, as the
// database's name_key).
func (t *Tree) ByName(name string) (Org, bool) {
	key := casefold.Key(strings.TrimSpace(name))
	for _, o := range t.sorted {
		if casefold.Key(o.Name) == key {
			return o, true
		}
	}
	return Org{}, false
}

// All returns every org ordered by id.
func (t *Tree) All() []Org { return append([]Org(nil), t.sorted...) }

// Load reads every org and resolves inheritance.
func (s *Service) Load(ctx context.Context) (*Tree, error) {
	return load(ctx, s.DB)
}

// LoadTx is Load reading through q (inside a caller's transaction).
func LoadTx(ctx context.Context, q sqlx.QueryerContext) (*Tree, error) { return load(ctx, q) }

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

// ancestorsSQL is the org ? and every org above it (UNION, not UNION ALL:
// the tree has no cycles, but a damaged one would end the walk, not loop).
const ancestorsSQL = `WITH RECURSIVE chain(id) AS (
	SELECT ? UNION SELECT o.parent_id FROM orgs o JOIN chain c ON o.id = c.id WHERE o.parent_id IS NOT NULL)`

// loadChain reads org id and its ancestors only, in one statement: enough
// to resolve what id inherits, without reading the whole tree (sign-in
// reads an org per request).
func loadChain(ctx context.Context, q sqlx.QueryerContext, id int64) (*Tree, error) {
	var rows []struct {
		row
		Servers sql.NullString `db:"server_ids"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, ancestorsSQL+` SELECT `+orgColumns+`,
		(SELECT group_concat(server_id, ',' ORDER BY position) FROM org_ldap_servers WHERE org_id = orgs.id) AS server_ids
		FROM orgs WHERE id IN (SELECT id FROM chain) ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("orgs: load org %d: %w", id, err)
	}
	plain := make([]row, len(rows))
	var links []link
	for i, r := range rows {
		plain[i] = r.row
		for _, f := range strings.Split(r.Servers.String, ",") {
			if f == "" {
				continue
			}
			sid, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("orgs: load org %d: server id %q: %w", id, f, err)
			}
			links = append(links, link{OrgID: r.ID, ServerID: sid})
		}
	}
	return build(plain, links), nil
}

// build makes the tree of rows and resolves inheritance.
func build(rows []row, links []link) *Tree {
	t := &Tree{byID: make(map[int64]*Org, len(rows))}
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
