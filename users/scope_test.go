package users_test

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// A directory sync reads its users as one packed text a row (scopeRow):
// every stored value comes back exactly as it is, whatever it holds
// (colons, digits, NUL, bytes that are not UTF-8, a number in a text
// column, megabytes), and the same by id, by username and by stable id.
func TestScopeReadsEveryValueAsStored(t *testing.T) {
	w := newWorld(t)
	type row struct{ email, first, dn, uid, country string }
	hostile := []row{
		{},
		{email: "12:34", first: "3:abc", dn: "cn=a:b,ou=Staff", uid: "0:", country: ":"},
		{email: "a\x00b", first: "\xff\xfe", dn: "cn=é\x00,dc=x", uid: "ABCDEF-0123", country: "日本"},
		{email: strings.Repeat("z", 1<<20), first: "9999999999999999999999:", dn: strings.Repeat("ou=x,", 1000), uid: "u", country: "-1"},
	}
	var ids []int64
	var keys, uids []string
	for i, h := range hostile {
		name := []string{"plain", "colon:9", "nul", "big"}[i]
		id := w.user(name)
		ids = append(ids, id)
		keys = append(keys, casefold.Key(name))
		_, err := w.app.DB.ExecContext(w.ctx, `UPDATE users SET email = ?, first_name = ?, ldap_dn = ?, ldap_uid = ?, country = ?, dirsync_misses = ? WHERE id = ?`,
			h.email, h.first, h.dn, h.uid, h.country, i, id)
		if err != nil {
			t.Fatal(err)
		}
		if h.uid != "" {
			uids = append(uids, strings.ToLower(h.uid))
		}
	}
	// A number stored in a text column, and a manager.
	if _, err := w.app.DB.ExecContext(w.ctx, `UPDATE users SET title = 42, manager_id = ? WHERE id = ?`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	flags, err := w.app.Users.ReadScopeFlags(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, got map[int64]users.ScopeUser, want int) {
		t.Helper()
		if len(got) != want {
			t.Errorf("%s: %d users, want %d", how, len(got), want)
		}
		for id, u := range got {
			stored := w.get(id)
			p := u.Profile.Unpack()
			if u.Username != stored.Username || u.OrgID != stored.OrgID || u.State.Status != stored.Status || u.State.Reason != stored.StatusReason ||
				p.Email != stored.Email || p.FirstName != stored.FirstName || p.Title != stored.Title || p.Country != stored.Country ||
				u.LDAPDN != stored.LDAPDN || u.LDAPUID != stored.LDAPUID {
				t.Errorf("%s: user %d read as %q %q %q %q %q, stored %q %q %q %q %q", how, id,
					u.Username, trim(p.Email), p.FirstName, p.Country, trim(u.LDAPDN),
					stored.Username, trim(stored.Email), stored.FirstName, stored.Country, trim(stored.LDAPDN))
			}
			if (p.ManagerID == nil) != (stored.ManagerID == nil) || p.ManagerID != nil && *p.ManagerID != *stored.ManagerID {
				t.Errorf("%s: user %d manager %v, stored %v", how, id, p.ManagerID, stored.ManagerID)
			}
			if u.LDAPServerID != 0 {
				t.Errorf("%s: user %d server %d, stored none", how, id, u.LDAPServerID)
			}
		}
		if u, ok := got[ids[1]]; ok && (u.Profile.Unpack().Title != "42" || u.Misses != 1) {
			t.Errorf("%s: title %q misses %d, want 42 and 1", how, u.Profile.Unpack().Title, u.Misses)
		}
		if u, ok := got[ids[0]]; ok && u.Profile != "" {
			t.Errorf("%s: the empty profile reads as %q", how, u.Profile)
		}
	}
	orgIDs := []int64{w.org.ID}
	collect := func(into map[int64]users.ScopeUser) func(users.ScopeUser) {
		return func(u users.ScopeUser) { into[u.ID] = u }
	}
	byID, byName, byUID := map[int64]users.ScopeUser{}, map[int64]users.ScopeUser{}, map[int64]users.ScopeUser{}
	if err := w.app.Users.InScopeByID(w.ctx, orgIDs, flags, ids, collect(byID)); err != nil {
		t.Fatal(err)
	}
	if err := w.app.Users.InScopeByUsername(w.ctx, orgIDs, flags, nil, keys, collect(byName)); err != nil {
		t.Fatal(err)
	}
	index, err := w.app.Users.ReadScopeIndex(w.ctx, orgIDs)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[int64]users.ScopeUser{}
	if err := w.app.Users.InScopeByUsername(w.ctx, orgIDs, flags, index, keys, collect(byIndex)); err != nil {
		t.Fatal(err)
	}
	check("by username through the scope index", byIndex, len(ids))
	if err := w.app.Users.InScopeByStableID(w.ctx, orgIDs, flags, uids, collect(byUID)); err != nil {
		t.Fatal(err)
	}
	check("by id", byID, len(ids))
	check("by username", byName, len(ids))
	check("by stable id", byUID, len(uids))
}

// trim shortens a long value for a message.
func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Reading a page's users through a ScopeIndex finds them as they are now:
// a user renamed after the index was read is found by its new username
// only, one created since is found, one moved out of scope or deleted is
// not, and no user comes twice.
func TestScopeIndexIsOnlyAGuide(t *testing.T) {
	w := newWorld(t)
	ann, bob, cid := w.user("ann"), w.user("bob"), w.user("cid")
	dan := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "dan", Password: "a-long-password", OrgID: w.org.ID})).ID
	orgIDs := []int64{w.org.ID}
	flags, err := w.app.Users.ReadScopeFlags(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	index, err := w.app.Users.ReadScopeIndex(w.ctx, orgIDs)
	if err != nil {
		t.Fatal(err)
	}
	if len(index.IDs) != 4 {
		t.Fatalf("index ids %v, want the 4 users", index.IDs)
	}
	// After the index: ann becomes "bob2", bob takes the name "ann" (a swap
	// through the index's keys), cid leaves the scope, dan is deleted, and
	// eve arrives.
	name := "Elsewhere"
	other, err := w.app.Orgs.Create(w.ctx, orgs.Input{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE users SET username = 'bob2', username_key = 'bob2' WHERE id = ?`, []any{ann}},
		{`UPDATE users SET username = 'Ann', username_key = 'ann' WHERE id = ?`, []any{bob}},
		{`UPDATE users SET org_id = ? WHERE id = ?`, []any{other.ID, cid}},
		{`DELETE FROM users WHERE id = ?`, []any{dan}},
	} {
		if _, err := w.app.DB.ExecContext(w.ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	eve := w.user("eve")
	// A row without a username key (none is written without one) does not
	// stop the index from being read.
	if _, err := w.app.DB.ExecContext(w.ctx, `UPDATE users SET username_key = NULL WHERE id = ?`, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Users.ReadScopeIndex(w.ctx, orgIDs); err != nil {
		t.Fatalf("read the index with a NULL key: %v", err)
	}
	got := map[string]int64{}
	n := 0
	err = w.app.Users.InScopeByUsername(w.ctx, orgIDs, flags, index, []string{"ann", "bob", "bob2", "cid", "dan", "eve", "ann"}, func(u users.ScopeUser) {
		got[u.Username] = u.ID
		n++
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"Ann": bob, "bob2": ann, "eve": eve}
	if n != len(want) || len(got) != len(want) {
		t.Fatalf("got %v (%d calls), want %v", got, n, want)
	}
	for k, id := range want {
		if got[k] != id {
			t.Errorf("%s: got user %d, want %d", k, got[k], id)
		}
	}
}
