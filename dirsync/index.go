package dirsync

import "iter"

// userIndex finds the users in scope by a key (casefold.Key of the
// username, or the lower-case stable id). A run holds one entry per user in
// scope, so a key held by one user, nearly every key, costs a pointer: a
// slice only for the rare keys several users hold.
type userIndex struct {
	one  map[string]*scopeUser
	more map[string][]*scopeUser // the second and later users of a key
}

func newUserIndex() userIndex {
	return userIndex{one: map[string]*scopeUser{}, more: map[string][]*scopeUser{}}
}

// add files u under k (after the users already there).
func (x userIndex) add(k string, u *scopeUser) {
	if _, ok := x.one[k]; !ok {
		x.one[k] = u
		return
	}
	x.more[k] = append(x.more[k], u)
}

// all yields the users filed under k, in the order they were added.
func (x userIndex) all(k string) iter.Seq[*scopeUser] {
	return func(yield func(*scopeUser) bool) {
		u, ok := x.one[k]
		if !ok || !yield(u) {
			return
		}
		for _, u := range x.more[k] {
			if !yield(u) {
				return
			}
		}
	}
}
