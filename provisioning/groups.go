package provisioning

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// MaxGroupNameLength bounds a group's displayName, in characters.
const MaxGroupNameLength = 256

// MaxGroupMembers bounds one group's members.
const MaxGroupMembers = 100000

// Group is a SCIM group of a provider. Its id is what the provider's
// mappings name (groupId).
type Group struct {
	ID          int64   `db:"id"`
	DisplayName string  `db:"display_name"`
	ExternalID  string  `db:"external_id"`
	CreatedAt   string  `db:"created_at"`
	UpdatedAt   string  `db:"updated_at"`
	Members     []int64 `db:"-"`
}

// GroupInput is what a provider says a group is.
type GroupInput struct {
	DisplayName string
	ExternalID  string
	Members     []int64
}

// GroupFilter narrows ListGroups; zero fields match every group.
type GroupFilter struct {
	DisplayName string // exact, ignoring case
	ExternalID  string
	IDs         []int64
	Limit       int
	Offset      int
	NoMembers   bool // leave Members empty (excludedAttributes=members)
}

func (in GroupInput) validate() error {
	if strings.TrimSpace(in.DisplayName) == "" {
		return apperr.Invalid("displayName", "is required")
	}
	if err := apperr.CheckLine("displayName", in.DisplayName, MaxGroupNameLength); err != nil {
		return err
	}
	if len(in.Members) > MaxGroupMembers {
		return apperr.Invalid("members", "at most %d members", MaxGroupMembers)
	}
	return apperr.CheckLine("externalId", in.ExternalID, users.MaxNameLength)
}

// ListGroups returns provider p's groups matching f and how many match.
func (s *Service) ListGroups(ctx context.Context, p Provider, f GroupFilter) ([]Group, int, error) {
	return listGroups(ctx, s.DB, p.ID, f)
}

func listGroups(ctx context.Context, q sqlx.QueryerContext, provider int64, f GroupFilter) ([]Group, int, error) {
	where := []string{"provider_id = ?"}
	args := []any{provider}
	if f.DisplayName != "" {
		where, args = append(where, "display_name = ? COLLATE NOCASE"), append(args, f.DisplayName)
	}
	if f.ExternalID != "" {
		where, args = append(where, "external_id = ?"), append(args, f.ExternalID)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []Group{}, 0, nil
		}
		where = append(where, "id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.IDs)), ",")+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := sqlx.GetContext(ctx, q, &total, `SELECT count(*) FROM scim_groups WHERE `+cond, args...); err != nil {
		return nil, 0, fmt.Errorf("provisioning: count groups: %w", err)
	}
	query := `SELECT id, display_name, external_id, created_at, updated_at FROM scim_groups WHERE ` + cond + ` ORDER BY id`
	if f.Limit > 0 || f.Offset > 0 {
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		query += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, f.Offset)
	}
	out := []Group{}
	if err := sqlx.SelectContext(ctx, q, &out, query, args...); err != nil {
		return nil, 0, fmt.Errorf("provisioning: list groups: %w", err)
	}
	for i := range out {
		out[i].Members = []int64{}
		if f.NoMembers {
			continue
		}
		if err := sqlx.SelectContext(ctx, q, &out[i].Members, `SELECT m.user_id FROM scim_group_members m JOIN users u ON u.id = m.user_id
			WHERE m.group_id = ? AND u.scim_deleted = 0 ORDER BY m.user_id`, out[i].ID); err != nil {
			return nil, 0, fmt.Errorf("provisioning: members of group %d: %w", out[i].ID, err)
		}
	}
	return out, total, nil
}

// GetGroup returns group id of provider p (NotFound for another's).
func (s *Service) GetGroup(ctx context.Context, p Provider, id int64) (Group, error) {
	return getGroup(ctx, s.DB, p.ID, id)
}

func getGroup(ctx context.Context, q sqlx.QueryerContext, provider, id int64) (Group, error) {
	gs, _, err := listGroups(ctx, q, provider, GroupFilter{IDs: []int64{id}})
	if err != nil {
		return Group{}, err
	}
	if len(gs) == 0 {
		return Group{}, apperr.NotFound("group %d does not exist", id)
	}
	return gs[0], nil
}

// CreateGroup makes a group of provider p with its members (users of p).
func (s *Service) CreateGroup(ctx context.Context, p Provider, in GroupInput) (Group, error) {
	if err := in.validate(); err != nil {
		return Group{}, err
	}
	var id int64
	err := s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		now := s.Now().UTC().Format(time.RFC3339Nano)
		res, err := tx.ExecContext(ctx, `INSERT INTO scim_groups(provider_id, display_name, external_id, created_at, updated_at) VALUES(?, ?, ?, ?, ?)`,
			p.ID, in.DisplayName, in.ExternalID, now, now)
		if err != nil {
			return fmt.Errorf("provisioning: create group: %w", err)
		}
		id, _ = res.LastInsertId()
		log.add(0, fmt.Sprintf("group created group:%d/%s", id, in.DisplayName))
		return s.setMembers(ctx, tx, p, log, id, in.Members)
	})
	if err != nil {
		return Group{}, err
	}
	return s.GetGroup(ctx, p, id)
}

// UpdateGroup makes group id what in says (a PUT, or a PATCH applied to the
// group as it was); members who joined or left get the mappings at once.
func (s *Service) UpdateGroup(ctx context.Context, p Provider, id int64, in GroupInput) (Group, error) {
	if err := in.validate(); err != nil {
		return Group{}, err
	}
	err := s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		g, err := getGroup(ctx, tx, p.ID, id)
		if err != nil {
			return err
		}
		if g.DisplayName != in.DisplayName || g.ExternalID != in.ExternalID {
			if _, err := tx.ExecContext(ctx, `UPDATE scim_groups SET display_name = ?, external_id = ? WHERE id = ?`, in.DisplayName, in.ExternalID, id); err != nil {
				return fmt.Errorf("provisioning: update group %d: %w", id, err)
			}
			log.add(0, fmt.Sprintf("group updated group:%d/%s", id, in.DisplayName))
			if err := touchGroup(ctx, tx, s.Now(), id); err != nil {
				return err
			}
		}
		return s.setMembers(ctx, tx, p, log, id, in.Members)
	})
	if err != nil {
		return Group{}, err
	}
	return s.GetGroup(ctx, p, id)
}

// DeleteGroup removes group id; what its mapping gave is taken back (roles
// recomputed; people stay in their org until the next change places them).
func (s *Service) DeleteGroup(ctx context.Context, p Provider, id int64) error {
	return s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		g, err := getGroup(ctx, tx, p.ID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM scim_groups WHERE id = ?`, id); err != nil {
			return fmt.Errorf("provisioning: delete group %d: %w", id, err)
		}
		log.add(0, fmt.Sprintf("group deleted group:%d/%s", id, g.DisplayName))
		return s.applyMappings(ctx, tx, p, log, g.Members, false)
	})
}

// setMembers makes group id's members exactly members and applies the
// mappings to whoever joined or left.
func (s *Service) setMembers(ctx context.Context, tx *sqlx.Tx, p Provider, log *changeLog, id int64, members []int64) error {
	want := map[int64]bool{}
	for _, m := range members {
		want[m] = true
	}
	var have []int64
	if err := tx.SelectContext(ctx, &have, `SELECT user_id FROM scim_group_members WHERE group_id = ?`, id); err != nil {
		return fmt.Errorf("provisioning: members of group %d: %w", id, err)
	}
	had := map[int64]bool{}
	var changed []int64
	for _, h := range have {
		had[h] = true
		if !want[h] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM scim_group_members WHERE group_id = ? AND user_id = ?`, id, h); err != nil {
				return fmt.Errorf("provisioning: remove member %d of group %d: %w", h, id, err)
			}
			changed = append(changed, h)
			log.add(h, fmt.Sprintf("left group:%d", id))
		}
	}
	var joining []int64
	for m := range want {
		if !had[m] {
			joining = append(joining, m)
		}
	}
	sort.Slice(joining, func(i, j int) bool { return joining[i] < joining[j] })
	if len(joining) > 0 {
		found, _, err := users.ListProvisioned(ctx, tx, p.ID, users.ProvisionedFilter{IDs: joining})
		if err != nil {
			return err
		}
		if len(found) != len(joining) {
			known := map[int64]bool{}
			for _, u := range found {
				known[u.ID] = true
			}
			for _, j := range joining {
				if !known[j] {
					return apperr.Invalid("members", "user %d is not a user of this provider", j)
				}
			}
		}
		for _, m := range joining {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scim_group_members(group_id, user_id) VALUES(?, ?)`, id, m); err != nil {
				return fmt.Errorf("provisioning: add member %d to group %d: %w", m, id, err)
			}
			log.add(m, fmt.Sprintf("joined group:%d", id))
		}
		changed = append(changed, joining...)
	}
	if len(changed) == 0 {
		return nil
	}
	if err := touchGroup(ctx, tx, s.Now(), id); err != nil {
		return err
	}
	return s.applyMappings(ctx, tx, p, log, changed, true)
}

// Apply applies provider id's org and role mappings to every one of its
// users ("Apply org and role settings") and returns how many it checked.
func (s *Service) Apply(ctx context.Context, id int64) (int, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	ids, err := users.ProviderUserIDs(ctx, s.DB, id)
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(len(ids), start+500)]
		if err := s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
			return s.applyMappings(ctx, tx, p, log, chunk, true)
		}); err != nil {
			return start, err
		}
	}
	return len(ids), nil
}

// applyMappings gives users ids the org (when placeOrg) and the roles p's
// mappings say, from the groups they are in.
func (s *Service) applyMappings(ctx context.Context, tx *sqlx.Tx, p Provider, log *changeLog, ids []int64, placeOrg bool) error {
	placeOrg = placeOrg && p.OrgMapping.Method == OrgGroups
	setRoles := p.RoleMapping.Method == RoleGroups
	if !placeOrg && !setRoles || len(ids) == 0 {
		return nil
	}
	tree, err := orgs.LoadTx(ctx, tx)
	if err != nil {
		return err
	}
	var all []string
	for _, g := range p.RoleMapping.Groups {
		all = append(all, g.Roles...)
	}
	for _, id := range ids {
		u, err := users.GetProvisioned(ctx, tx, p.ID, id)
		if apperr.Is(err, apperr.KindNotFound) {
			continue // deleted by its provider meanwhile
		}
		if err != nil {
			return err
		}
		groups, err := groupsOfUser(ctx, tx, id)
		if err != nil {
			return err
		}
		in := map[string]bool{}
		for _, g := range groups {
			in[strconv.FormatInt(g, 10)] = true
		}
		orgID := u.OrgID
		if placeOrg {
			orgID = orgFromGroups(p.OrgMapping, in)
			if err := s.move(ctx, tx, log, id, orgID); err != nil {
				return err
			}
		}
		if setRoles {
			var wanted []string
			for _, g := range p.RoleMapping.Groups {
				if in[g.GroupID] {
					wanted = append(wanted, g.Roles...)
				}
			}
			var defaults []string
			if o, ok := tree.Get(orgID); ok {
				defaults = o.DefaultRoles
			}
			managed := roles.NewMapping(append(append([]string{}, all...), defaults...)...)
			added, removed, err := s.Users.SetManagedRolesTx(ctx, tx, id, managed.Wanted(wanted, defaults), managed)
			if err != nil {
				return err
			}
			if len(added)+len(removed) > 0 {
				log.add(id, fmt.Sprintf("roles changed added:%s removed:%s", strings.Join(added, ","), strings.Join(removed, ",")))
				if err := s.Users.Touch(ctx, tx, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// orgFromGroups picks the org of the mapped group with the lowest
// priority (then the lowest group id) among in, or the mapping's org.
func orgFromGroups(m OrgMapping, in map[string]bool) int64 {
	best := -1
	for i, g := range m.Groups {
		if !in[g.GroupID] {
			continue
		}
		if best < 0 || g.Priority < m.Groups[best].Priority ||
			(g.Priority == m.Groups[best].Priority && lessID(g.GroupID, m.Groups[best].GroupID)) {
			best = i
		}
	}
	if best < 0 {
		return m.OrgID
	}
	return m.Groups[best].OrgID
}

func lessID(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

func groupsOfUser(ctx context.Context, q sqlx.QueryerContext, id int64) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, `SELECT group_id FROM scim_group_members WHERE user_id = ? ORDER BY group_id`, id); err != nil {
		return nil, fmt.Errorf("provisioning: groups of user %d: %w", id, err)
	}
	return ids, nil
}

// GroupsOf returns the groups (id and name) user id is in, for its SCIM
// resource.
func (s *Service) GroupsOf(ctx context.Context, ids []int64) (map[int64][]Group, error) {
	out := map[int64][]Group{}
	for _, id := range ids {
		var rows []struct {
			ID   int64  `db:"id"`
			Name string `db:"display_name"`
		}
		if err := s.DB.SelectContext(ctx, &rows, `SELECT g.id, g.display_name FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.id`, id); err != nil {
			return nil, fmt.Errorf("provisioning: groups of user %d: %w", id, err)
		}
		for _, r := range rows {
			out[id] = append(out[id], Group{ID: r.ID, DisplayName: r.Name})
		}
	}
	return out, nil
}

func touchGroup(ctx context.Context, tx *sqlx.Tx, now time.Time, id int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE scim_groups SET updated_at = ?, version = version + 1 WHERE id = ?`, now.UTC().Format(time.RFC3339Nano), id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("provisioning: touch group %d: %w", id, err)
	}
	return nil
}
