package dirsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/authority-server/authority/users"
)

// pendingProfile is a user's profile as its entry has it, waiting for the
// manager's DN to be resolved once every entry of the run has been seen.
type pendingProfile struct {
	profile   users.PackedProfile // packed: every user found may wait here until the run's end
	managerDN string              // "": the entry has none, the stored manager stays
	serverID  int64
}

// directoryProfile is the profile entry m holds (empty fields: not mapped or
// absent, the stored value stays; see users.Profile.Overlay).
func directoryProfile(m match) users.Profile {
	pp := m.person.Profile
	return users.Profile{Email: m.person.EmailFor(m.name), FirstName: m.person.FirstName, LastName: m.person.LastName,
		Title: pp.Title, Department: pp.Department, Division: pp.Division, EmployeeType: pp.EmployeeType,
		City: pp.City, State: pp.State, Country: pp.Country}
}

// profileBatch is how many users' profiles one transaction of
// resolveProfiles changes.
const profileBatch = 500

// resolveProfiles applies (or simulates) the profiles planned for the users
// found on servers with a manager attribute, once every search has ended: a
// manager's DN is resolved to the user whose LDAP DN it is (users.DNKey;
// the DNs this run records count, so that a simulation sees what a real
// run would). A DN no user has makes the manager empty; the user itself is
// never its own manager.
func (e *engine) resolveProfiles(ctx context.Context) error {
	var pend []*scopeUser
	for _, u := range e.keep {
		if u.pending != nil {
			pend = append(pend, u)
		}
	}
	if len(pend) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	idx, err := users.LoadDNIndex(ctx, e.s.db)
	if err != nil {
		return fmt.Errorf("resolve the managers: %w", err)
	}
	for _, u := range e.keep {
		if u.newDN != "" {
			idx.Remove(u.LDAPDN, u.ID)
			idx.Add(u.newDN, users.DNHolder{ID: u.ID, ServerID: u.foundOn, Username: u.Username})
		}
	}
	e.names = make(map[int64]string, len(e.keep))
	for _, u := range e.keep {
		e.names[u.ID] = u.Username
	}
	for _, hs := range idx {
		for _, h := range hs {
			e.names[h.ID] = h.Username
		}
	}
	var plans []*plan
	for _, u := range pend {
		now := u.pending.profile.Unpack()
		if dn := u.pending.managerDN; dn != "" {
			now.ManagerID = idx.Resolve(u.pending.serverID, dn)
			if now.ManagerID != nil && *now.ManagerID == u.ID {
				now.ManagerID = nil
			}
		}
		u.pending = nil
		if !now.Equal(u.Profile.Unpack()) {
			plans = append(plans, &plan{u: u, profile: &now})
		}
	}
	for len(plans) > 0 {
		n := min(len(plans), profileBatch)
		if err := e.apply(ctx, plans[:n], &outcome{}); err != nil {
			return fmt.Errorf("apply the profiles: %w", err)
		}
		plans = plans[n:]
	}
	return nil
}

// profileDiff is a profile change as a history line shows it: each changed
// field by its JSON name, "field: value" joined by "; ", from and to. A
// manager shows as its id and username.
func (e *engine) profileDiff(was, now users.Profile) (from, to string) {
	var f, t []string
	wf, nf := was.Fields(), now.Fields()
	for i := range wf {
		if *wf[i].Value != *nf[i].Value {
			f = append(f, wf[i].Name+": "+*wf[i].Value)
			t = append(t, nf[i].Name+": "+*nf[i].Value)
		}
	}
	if !users.Profile.Equal(users.Profile{ManagerID: was.ManagerID}, users.Profile{ManagerID: now.ManagerID}) {
		f = append(f, "managerId: "+e.userText(was.ManagerID))
		t = append(t, "managerId: "+e.userText(now.ManagerID))
	}
	return strings.Join(f, "; "), strings.Join(t, "; ")
}

// userText shows a user id as "ID (USERNAME)", "" for none.
func (e *engine) userText(id *int64) string {
	if id == nil {
		return ""
	}
	if name, ok := e.names[*id]; ok {
		return fmt.Sprintf("%d (%s)", *id, name)
	}
	return fmt.Sprint(*id)
}
