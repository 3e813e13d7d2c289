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
//
// They come as one text, each row its user id, the role's length in bytes
// and the role (roleRows): through modernc's driver, a row for each role
// took most of the read.
func (s *Service) ReadRoleSnapshot(ctx context.Context) (*RoleSnapshot, error) {
	var joined sql.NullString
	if err := s.DB.GetContext(ctx, &joined, roleRows); err != nil {
		return nil, fmt.Errorf("users: read every user's roles: %w", err)
	}
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
	rest := joined.String
	for rest != "" {
		id, role, tail, err := nextIDText(rest)
		if err != nil {
			return nil, fmt.Errorf("users: read every user's roles: %w", err)
		}
		rest = tail
		if id < last {
			return nil, fmt.Errorf("users: read every user's roles: user %d came after user %d", id, last)
		}
		if id != last {
			flush()
			last, cur = id, cur[:0]
		}
		name, ok := names[role]
		if !ok {
			name = strings.Clone(role) // not the whole text's memory
			names[name] = name
		}
		cur = append(cur, name)
	}
	flush()
	return r, nil
}

// roleRows is every row of user_roles, ordered by user and role, as one
// text: each row "<user id>:<role's length in bytes>:<role>".
const roleRows = `SELECT group_concat(concat(user_id, ':', octet_length(role), ':', role), '') FROM (SELECT user_id, role FROM user_roles ORDER BY user_id, role)`

// Of returns user id's roles, sorted as RolesOf sorts them: an empty list
// for a user with none (shared: do not modify it).
func (r *RoleSnapshot) Of(id int64) []string {
	if i, ok := slices.BinarySearch(r.ids, id); ok {
		return r.sets[r.lists[i]]
	}
	return []string{}
}
