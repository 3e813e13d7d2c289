package dirsync

import (
	"sort"
	"strings"

	"github.com/authority-server/authority/users"
)

// Valve is the safety valve's threshold: a run that would deactivate more
// than Percent % of the users in scope and more than MinUsers users
// deactivates nobody.
type Valve struct {
	Percent  int
	MinUsers int
}

// Defaults of the safety valve (SPEC section 6).
const (
	DefaultValvePercent  = 10
	DefaultValveMinUsers = 10
)

// Trips reports whether deactivating identified of inScope users exceeds v.
func (v Valve) Trips(identified, inScope int) bool {
	return identified*100 > v.Percent*inScope && identified > v.MinUsers
}

// reactivates reports whether a sync that finds a user active in the directory
// makes it active again: a user deactivated (by a sync, or by an
// administrator, which the directory overrides) or blocked by anything but an
// administrator's block (a legal-hold-pending block is a deactivation the
// directory no longer asks for).
func reactivates(st users.Status, reason users.Reason) bool {
	switch st {
	case users.StatusDeactivated:
		return true
	case users.StatusBlocked:
		return reason != users.ReasonAdmin
	}
	return false
}

// deactivatable reports whether deactivating a user (on hold: blocking it)
// would change it: an already deactivated user, and a blocked user on hold
// (already blocked, whoever blocked it), stay as they are.
func deactivatable(st users.Status, onHold bool) bool {
	switch st {
	case users.StatusDeactivated:
		return false
	case users.StatusBlocked:
		return !onHold
	}
	return true
}

// wantedRoles returns the roles a role name script's result asks for, kept
// to the Role Mapping list (mapping: lower-case name → stored name), or the
// org's default roles on the list when none is left.
func wantedRoles(script []string, defaults []string, mapping map[string]string) []string {
	pick := func(names []string) []string {
		seen := map[string]bool{}
		var out []string
		for _, n := range names {
			canon, ok := mapping[strings.ToLower(strings.TrimSpace(n))]
			if ok && !seen[strings.ToLower(canon)] {
				seen[strings.ToLower(canon)] = true
				out = append(out, canon)
			}
		}
		sort.Strings(out)
		return out
	}
	if w := pick(script); len(w) > 0 {
		return w
	}
	return pick(defaults)
}

// applyRoles returns have after adding and removing (sorted).
func applyRoles(have, added, removed []string) []string {
	gone := map[string]bool{}
	for _, r := range removed {
		gone[strings.ToLower(r)] = true
	}
	var out []string
	for _, h := range have {
		if !gone[strings.ToLower(h)] {
			out = append(out, h)
		}
	}
	out = append(out, added...)
	sort.Strings(out)
	return out
}

func joinRoles(rs []string) string {
	c := append([]string(nil), rs...)
	sort.Strings(c)
	return strings.Join(c, ", ")
}
