package web_test

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

// POST /dirsync/runs {"mode":"incremental"}: full the first time (no
// tracking state yet, and the run says so), incremental after; a bad mode
// is a 400 naming it.
func TestAPIIncrementalRuns(t *testing.T) {
	e := authoritytest.Start(t)
	sl := testenv.StartSlapd(t, testenv.GeneratePeople(20, 3), testenv.WithUnlimitedServiceAccount())
	in := ldapauth.ServerInput{Name: ptrS("ad"), URL: &sl.URL, BindDN: &sl.BindDN, BindPassword: &sl.BindPassword,
		SearchFilter: ptrS("(&(objectClass=user)(sAMAccountName=%u))")}
	srv, err := e.App.LDAP.Create(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{srv.ID}
	if _, err := e.App.Orgs.Create(t.Context(), orgs.Input{Name: ptrS("Dir"), AuthMethod: ptrS(orgs.AuthLDAP), LDAPServerIDs: &ids}); err != nil {
		t.Fatal(err)
	}
	var bad map[string]any
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"mode": "sometimes"}, &bad); code != 400 || bad["field"] != "mode" {
		t.Fatalf("bad mode: %d %v", code, bad)
	}
	type modeRun struct {
		syncRun
		Mode string `json:"mode"`
	}
	for i, want := range []string{"full", "incremental"} {
		var started struct{ ID int64 }
		if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"mode": "incremental"}, &started); code != 202 {
			t.Fatalf("start %d: %d", i, code)
		}
		waitRun(t, e, started.ID)
		var run modeRun
		e.Do("GET", "/api/v1/dirsync/runs/"+itoa64(started.ID), nil, &run)
		if run.Status != "ok" || run.Mode != want || (want == "full" && !strings.Contains(run.Message, "no tracking state")) {
			t.Fatalf("run %d: %s %s %q, want %s", i, run.Status, run.Mode, run.Message, want)
		}
	}
}
