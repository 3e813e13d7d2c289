package users

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/authority-server/authority/internal/casefold"
)

// ScopeIndex is the users of a sync's orgs by username key, read in one
// pass beside the search: a page's users are then read by id (a seek in
// the users table) instead of by username key (a seek in the username
// index, then one in the table: a third of the read). It is a guide, not
// the truth: a user read through it counts only while its username still
// has the key it was indexed by, and every key it does not hold, or whose
// user is gone, renamed or moved, is read by the index as before
// (InScopeByUsername), so users created, renamed or moved during the run
// are found as they are now.
type ScopeIndex struct {
	// IDs are the ids of the users in scope when it was read, ascending.
	IDs   []int64
	byKey map[string]int64 // every user's, in scope or not
}

// ReadScopeIndex reads the ids of the users of the orgs orgIDs and the
// username keys of every user (from the username index alone: the users'
// rows are not read; a key outside the scope only costs the page that
// names it a second read). Each comes as one text: a row each cost more
// in modernc's driver than the row's work.
func (s *Service) ReadScopeIndex(ctx context.Context, orgIDs []int64) (*ScopeIndex, error) {
	x := &ScopeIndex{}
	if len(orgIDs) == 0 {
		return x, nil
	}
	var ids sql.NullString
	if err := s.DB.GetContext(ctx, &ids, `SELECT group_concat(id) FROM users WHERE org_id IN (`+placeholders(len(orgIDs))+`)`, int64Args(orgIDs)...); err != nil {
		return nil, fmt.Errorf("users: the users in scope: %w", err)
	}
	x.IDs = make([]int64, 0, strings.Count(ids.String, ",")+1)
	for f := range strings.SplitSeq(ids.String, ",") {
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("users: the users in scope: an id is %.20q", f)
		}
		x.IDs = append(x.IDs, id)
	}
	slices.Sort(x.IDs)
	var keys sql.NullString
	err := s.DB.GetContext(ctx, &keys, `SELECT group_concat(concat(id, ':', coalesce(octet_length(username_key), 0), ':', username_key), '')
		FROM users INDEXED BY users_username_key`)
	if err != nil {
		return nil, fmt.Errorf("users: the usernames: %w", err)
	}
	x.byKey = make(map[string]int64, len(x.IDs))
	for rest := keys.String; rest != ""; {
		id, key, tail, err := nextIDText(rest)
		if err != nil {
			return nil, fmt.Errorf("users: the usernames: %w", err)
		}
		rest = tail
		if key != "" { // a user without a key is read by the username index, which finds none
			x.byKey[key] = id
		}
	}
	return x, nil
}

// nextIDText reads the first "<id>:<length in bytes>:<text>" of s (a row
// of ReadScopeIndex's or of roleRows) and returns what follows it.
func nextIDText(s string) (id int64, text, rest string, err error) {
	idText, s, ok1 := strings.Cut(s, ":")
	lenText, s, ok2 := strings.Cut(s, ":")
	id, err1 := strconv.ParseInt(idText, 10, 64)
	n, err2 := strconv.Atoi(lenText)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || n < 0 || n > len(s) {
		return 0, "", "", fmt.Errorf("a row is cut short: %.20q", idText+":"+lenText)
	}
	return id, s[:n], s[n:], nil
}

// inScopeByKnownKeys reads, by id, the users index holds for keys and
// calls fn with those whose username still has the key; it returns the
// keys left to read by the username index.
func (s *Service) inScopeByKnownKeys(ctx context.Context, orgIDs []int64, flags *ScopeFlags, index *ScopeIndex, keys []string, fn func(ScopeUser)) ([]string, error) {
	asked := make(map[int64]string, len(keys)) // id -> the key it was asked by
	ids := make([]int64, 0, len(keys))
	var rest []string
	for _, k := range keys {
		id, ok := index.byKey[k]
		if !ok {
			rest = append(rest, k)
			continue
		}
		if _, dup := asked[id]; !dup {
			asked[id] = k
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	err := inScopeBy(ctx, s, orgIDs, flags, `users u`, `u.id`, ids, ``, func(u ScopeUser) {
		if casefold.Key(u.Username) != asked[u.ID] {
			return // renamed since the index was read: read by its key below
		}
		delete(asked, u.ID)
		fn(u)
	})
	if err != nil {
		return nil, err
	}
	for _, k := range asked {
		rest = append(rest, k) // gone, renamed or moved out of scope: the username index says
	}
	return rest, nil
}
