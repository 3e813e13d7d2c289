package users_test

import (
	"slices"
	"testing"

	"github.com/authority-server/authority/users"
)

// A role snapshot gives every user the roles RolesOf reads, in the same
// order, and an empty list to a user with none; users with the same roles
// share one list, and a later write is not in a snapshot read before it.
func TestRoleSnapshotMatchesRolesOf(t *testing.T) {
	w := newWorld(t)
	u := w.app.Users
	var ids []int64
	for i, rs := range [][]string{
		{"Desktop User", "PROe User"},
		{"PROe User", "desktop user"}, // any case in, the stored spelling out
		{},
		{"Org Admin", "Desktop User", "PROe User"},
		{"PROe User"},
	} {
		nu, err := u.Create(w.ctx, users.NewUser{Username: "snap" + string(rune('a'+i)), Password: "a-long-password", OrgID: w.org.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.SetRoles(w.ctx, nu.ID, rs); err != nil {
			t.Fatalf("set roles %v: %v", rs, err)
		}
		ids = append(ids, nu.ID)
	}
	var all []int64 // the built-in admin too
	if err := w.app.DB.SelectContext(w.ctx, &all, `SELECT id FROM users ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	want, err := users.RolesOf(w.ctx, w.app.DB, all)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := u.ReadRoleSnapshot(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(all, 999999) {
		got := snap.Of(id)
		if got == nil || !slices.Equal(got, want[id]) && !(len(got) == 0 && len(want[id]) == 0) {
			t.Errorf("user %d: snapshot %q, RolesOf %q", id, got, want[id])
		}
	}
	if len(snap.Of(ids[2])) != 0 {
		t.Errorf("a user without roles has %q", snap.Of(ids[2]))
	}
	a, b := snap.Of(ids[0]), snap.Of(ids[1])
	if len(a) != 2 || &a[0] != &b[0] {
		t.Errorf("users with the same roles do not share one list: %q, %q", a, b)
	}
	if _, err := u.SetRoles(w.ctx, ids[4], []string{"Org Admin"}); err != nil {
		t.Fatal(err)
	}
	if got := snap.Of(ids[4]); !slices.Equal(got, []string{"PROe User"}) {
		t.Errorf("a snapshot changed after it was read: %q", got)
	}
}
