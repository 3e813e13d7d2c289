package users

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// RoleSnapshot is every user's roles, read in one ordered pass over the
// role index: what a full directory sync compares its role name script's
// results with when it looks at most users, instead of reading the roles
// of each page's users (one scan costs about half of those lookups, and
// the same few role lists are shared by every user who has them). The
// lists are shared: never modify one.
type RoleSnapshot struct {
	ids   []int64    // users with at least one role, ascending
	lists []int32    // lists[i] indexes sets: the roles of ids[i]
	sets  [][]string // each distinct list once, sorted as RolesOf sorts
}

// ReadRoleSnapshot reads every user's roles.
func (s *Service) ReadRoleSnapshot(ctx context.Context) (*RoleSnapshot, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT user_id, role FROM user_roles ORDER BY user_id, role`)
	if err != nil {
		return nil, fmt.Errorf("users: read every user's roles: %w", err)
	}
	defer rows.Close()
	r := &RoleSnapshot{}
	index := map[string]int32{}  // a list's roles joined by "\x00" -> its index in sets
	names := map[string]string{} // each role name once, shared by the lists
	var cur []string             // the roles of user last
	last := int64(-1)
	flush := func() {
		if last < 0 {
			return
		}
		key := strings.Join(cur, "\x00")
		i, ok := index[key]
		if !ok {
			i = int32(len(r.sets))
			index[key] = i
			r.sets = append(r.sets, slices.Clone(cur))
		}
		r.ids = append(r.ids, last)
		r.lists = append(r.lists, i)
	}
	var id int64
	var role sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &role); err != nil {
			return nil, fmt.Errorf("users: read every user's roles: %w", err)
		}
		if id != last {
			flush()
			last, cur = id, cur[:0]
		}
		name, ok := names[string(role)] // no allocation for the lookup
		if !ok {
			name = string(role)
			names[name] = name
		}
		cur = append(cur, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: read every user's roles: %w", err)
	}
	flush()
	return r, nil
}

// Of returns user id's roles, sorted as RolesOf sorts them: an empty list
// for a user with none (shared: do not modify it).
func (r *RoleSnapshot) Of(id int64) []string {
	if i, ok := slices.BinarySearch(r.ids, id); ok {
		return r.sets[r.lists[i]]
	}
	return []string{}
}
