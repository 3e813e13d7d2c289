package dirsync

import (
	"slices"
	"testing"

	"github.com/authority-server/authority/users"
)

func TestValveTrips(t *testing.T) {
	v := Valve{Percent: 10, MinUsers: 10}
	for _, c := range []struct {
		n, of int
		trips bool
	}{
		{10, 20, false},  // 50% but not more than 10 users
		{11, 20, true},   // 55% and 11 users
		{11, 110, false}, // exactly 10%
		{12, 110, true},  // just over 10%
		{0, 0, false},
		{100, 10000, false},
	} {
		if got := v.Trips(c.n, c.of); got != c.trips {
			t.Errorf("%d of %d: trips %t, want %t", c.n, c.of, got, c.trips)
		}
	}
}

func TestRoles(t *testing.T) {
	mapping := map[string]string{"desktop user": "Desktop User", "proe user": "PROe User", "org admin": "Org Admin"}
	defaults := []string{"Desktop User", "PROe User"}
	if w := wantedRoles([]string{" org ADMIN", "SYSADMIN", "nope", "Org Admin"}, defaults, mapping); !slices.Equal(w, []string{"Org Admin"}) {
		t.Errorf("wanted %v", w)
	}
	for _, none := range [][]string{nil, {}, {"SYSADMIN"}} {
		if w := wantedRoles(none, defaults, mapping); !slices.Equal(w, defaults) {
			t.Errorf("wanted for %v: %v, want the org's defaults", none, w)
		}
	}
	added, removed := users.DiffManagedRoles([]string{"Desktop User", "SYSADMIN", "PROe User"}, []string{"Org Admin", "Desktop User"}, mapping)
	if !slices.Equal(added, []string{"Org Admin"}) || !slices.Equal(removed, []string{"PROe User"}) {
		t.Errorf("added %v removed %v", added, removed)
	}
	if got := applyRoles([]string{"Desktop User", "SYSADMIN", "PROe User"}, added, removed); !slices.Equal(got, []string{"Desktop User", "Org Admin", "SYSADMIN"}) {
		t.Errorf("after: %v", got)
	}
}

func TestReactivates(t *testing.T) {
	for _, c := range []struct {
		st     users.Status
		reason users.Reason
		want   bool
	}{
		{users.StatusActive, "", false},
		{users.StatusDeactivated, users.ReasonDirsync, true},
		{users.StatusDeactivated, users.ReasonAdmin, true},
		{users.StatusBlocked, users.ReasonLegalHold, true},
		{users.StatusBlocked, users.ReasonAdmin, false},
	} {
		if got := reactivates(c.st, c.reason); got != c.want {
			t.Errorf("%s (%s): %t", c.st, c.reason, got)
		}
	}
	if deactivatable(users.StatusBlocked, true) || !deactivatable(users.StatusBlocked, false) || deactivatable(users.StatusDeactivated, false) {
		t.Error("deactivatable")
	}
}
