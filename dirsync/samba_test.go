package dirsync_test

import (
	"testing"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// TestSyncSambaAD: one full DIRSYNC run against a real Active Directory
// (Samba) with 1,200 generated people: the domain root as the base (pages
// of 500 with continuation references), the service account's UPN as the
// bind DN, the documented AD active script. Disabled accounts
// (userAccountControl 514) and people not in the directory are deactivated;
// the others get their profile and objectGUID.
func TestSyncSambaAD(t *testing.T) {
	e := start(t)
	s := testenv.StartSambaAD(t, testenv.SambaOptions{People: 1200})
	srv := e.server(ldapauth.ServerInput{Name: ptr("ad"), URL: ptr(s.URL), BindDN: ptr(s.BindUPN), BindPassword: ptr(s.BindPassword),
		SearchFilter: ptr(slapdFilter), PageSize: ptr(500), TimeoutSeconds: ptr(30), ActiveScript: ptr(script.ExampleActiveDisabled)})
	org := e.ldapOrg("Corp", srv.ID)

	var names, disabled []string
	for _, p := range testenv.SambaPeople() {
		names = append(names, p.Sam)
		if p.Disabled {
			disabled = append(disabled, p.Sam)
		}
	}
	for i := 1; i <= s.Generated; i++ {
		// Every tenth generated person is disabled: take three of them, so
		// that the safety valve (10%) stays closed.
		if !testenv.SambaGeneratedDisabled(i) {
			names = append(names, testenv.SambaGeneratedSam(i))
		} else if i <= 30 {
			names = append(names, testenv.SambaGeneratedSam(i))
			disabled = append(disabled, testenv.SambaGeneratedSam(i))
		}
	}
	gone := []string{"gone1", "gone2"}
	ids := e.users(org.ID, append(names, gone...)...)

	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK {
		t.Fatalf("run: %+v", run)
	}
	if want := (dirsync.Counts{Users: len(names) + len(gone), Deactivated: len(disabled) + len(gone)}); run.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Counts, want)
	}
	for _, n := range append(disabled, gone...) {
		if u := e.user(ids[n]); u.Status != users.StatusDeactivated {
			t.Errorf("%s: %s, want deactivated", n, u.Status)
		}
	}
	for _, n := range []string{"alice", "bob", "erin", "frank", "user00001", "user01199"} {
		u := e.user(ids[n])
		if u.Status == users.StatusDeactivated || u.Email != n+"@acme.test" || len(u.LDAPUID) != 36 {
			t.Errorf("%s: %+v", n, u)
		}
	}
	if u := e.user(ids["alice"]); u.FirstName != "Alice" || u.LastName != "Anderson" {
		t.Errorf("alice: %+v", u)
	}
}

// TestSyncIncrementalSambaAD: incremental runs against a real Active
// Directory pick AD's DirSync control (auto), and see a disabled person, a
// deleted one and a renamed one (matched by objectGUID) with no full search.
func TestSyncIncrementalSambaAD(t *testing.T) {
	e := start(t)
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	srv := e.server(ldapauth.ServerInput{Name: ptr("ad"), URL: ptr(s.URL), BindDN: ptr(s.BindUPN), BindPassword: ptr(s.BindPassword),
		SearchFilter: ptr(slapdFilter), PageSize: ptr(500), TimeoutSeconds: ptr(30), ActiveScript: ptr(script.ExampleActiveDisabled)})
	org := e.ldapOrg("Corp", srv.ID)
	var names []string
	for _, p := range testenv.SambaPeople() {
		names = append(names, p.Sam)
	}
	ids := e.users(org.ID, names...)
	full := e.sync(dirsync.Request{})
	if full.Status != dirsync.StatusOK || full.Tracking[itoa(srv.ID)] == nil || full.Tracking[itoa(srv.ID)].Mode != ldapauth.TrackingDirSync {
		t.Fatalf("full run: %+v", full)
	}
	if err := s.Disable("alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("zoe", "zoe.new"); err != nil {
		t.Fatal(err)
	}
	inc := e.sync(dirsync.Request{Incremental: true})
	tr := inc.Tracking[itoa(srv.ID)]
	if inc.Status != dirsync.StatusOK || inc.Mode != dirsync.ModeIncremental || tr == nil || tr.Mode != ldapauth.TrackingDirSync || !tr.SeesDeletes {
		t.Fatalf("incremental run: %+v %+v", inc, tr)
	}
	for name, want := range map[string]users.Status{"alice": users.StatusDeactivated, "bob": users.StatusDeactivated, "ivan": users.StatusActive} {
		if got := e.user(ids[name]).Status; got != want {
			t.Errorf("%s: %s, want %s\n%s", name, got, want, changeText(inc))
		}
	}
	if u := e.user(ids["zoe"]); u.Username != "zoe.new" || u.Status != users.StatusActive {
		t.Errorf("zoe after the rename: %+v\n%s", u, changeText(inc))
	}
}
