package authority_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

// Registration (POST /api/v1/login) and DIRSYNC turn the same role name
// script output into the same roles: for each output, a person registers,
// then a real sync runs; the registered roles are the row's, and the sync
// finds nothing to change. A second sync, after an administrator added a
// role on the Role Mapping list by hand, takes it away again (the sync
// manages this user's roles and wants exactly the row's), unless the server
// has no role name script (then the sync leaves roles alone).
func TestRegistrationAndSyncGiveTheSameRoles(t *testing.T) {
	defaults := []string{"Desktop User", "PROe User"} // orgs.DefaultRoles
	// Custom defaults: one role on the Role Mapping list, one off it.
	custom := []string{"Org Help Desk", "Server Administrator"}
	const extra = "All Org Manager" // on the list, and in no row's answer
	for _, tc := range []struct {
		name     string
		output   string   // what the role name script returns (JavaScript); "" for no script
		defaults []string // the org's default roles; nil for the built-in ones
		want     []string
	}{
		{"one mapped role", `["Org Admin"]`, nil, []string{"Org Admin"}},
		{"one role in two spellings", `["org admin", "ORG ADMIN"]`, nil, []string{"Org Admin"}},
		{"a role off the Role Mapping list", `["SYSADMIN"]`, nil, defaults},
		{"no roles", `[]`, nil, defaults},
		{"null", `null`, nil, defaults},
		{"undefined", `undefined`, nil, defaults},
		{"an unknown role and a mapped one", `["Nope", "Desktop User"]`, nil, []string{"Desktop User"}},
		{"custom defaults, no roles", `[]`, custom, custom},
		{"custom defaults, a mapped role", `["Org Manager"]`, custom, []string{"Org Manager"}},
		{"no role name script", "", nil, defaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := authoritytest.Start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			g := testenv.StartGlauth(t, []testenv.GlauthUser{
				{Name: "pat", Password: "pat-pw", GivenName: "Pat", SN: "Lee", Mail: []string{"pat@example.com"}},
			})
			p := func(s string) *string { return &s }
			timeout := 10
			in := ldapauth.ServerInput{Name: p("glauth"), URL: p(g.URL), BindDN: p(g.BindDN), BindPassword: p(g.BindPassword),
				SearchFilter: p("(&(objectClass=posixAccount)(uid=%u))"), TimeoutSeconds: &timeout}
			if tc.output != "" {
				in.RoleNameScript = p("function(entry) { return " + tc.output + "; }")
			}
			srv, err := e.App.LDAP.Create(ctx, in)
			if err != nil {
				t.Fatalf("create LDAP server: %v", err)
			}
			oi := orgs.Input{Name: p("Directory"), AuthMethod: p(orgs.AuthLDAP), LDAPServerIDs: &[]int64{srv.ID}}
			if tc.defaults != nil {
				oi.DefaultRoles = &tc.defaults
			}
			org, err := e.App.Orgs.Create(ctx, oi)
			if err != nil {
				t.Fatalf("create LDAP org: %v", err)
			}

			// Registration.
			code, raw := e.Raw("", "POST", "/api/v1/login", map[string]any{"username": "pat", "password": "pat-pw", "registrationKey": org.RegistrationKey})
			var reg struct {
				User struct {
					ID    int64    `json:"id"`
					Roles []string `json:"roles"`
				} `json:"user"`
			}
			if code != 200 || json.Unmarshal(raw, &reg) != nil {
				t.Fatalf("register: %d %s", code, raw)
			}
			if !slices.Equal(reg.User.Roles, tc.want) {
				t.Fatalf("registration gave %q, want %q", reg.User.Roles, tc.want)
			}

			// A real sync wants the same roles: nothing to change.
			run := syncRun(ctx, t, e)
			if n := roleChanges(run, reg.User.ID); n != 0 || run.Counts.RolesChanged != 0 {
				t.Fatalf("the sync changed the roles the registration gave (%q): %+v", tc.want, run)
			}
			if got := rolesOf(ctx, t, e, "pat"); !slices.Equal(got, tc.want) {
				t.Fatalf("after the sync: %q, want %q", got, tc.want)
			}

			// And the sync does look at them: a mapped role added by hand goes
			// away again (when there is a role name script). The API has no
			// PUT /users/{id}/roles yet, so the role is added in the database.
			if _, err := e.App.DB.ExecContext(ctx, `INSERT INTO user_roles(user_id, role) VALUES(?, ?)`, reg.User.ID, extra); err != nil {
				t.Fatalf("add a role by hand: %v", err)
			}
			run = syncRun(ctx, t, e)
			wantAfter, wantChanges := tc.want, 1
			if tc.output == "" {
				wantAfter, wantChanges = rolesOf(ctx, t, e, "pat"), 0
				if !slices.Contains(wantAfter, extra) {
					t.Fatalf("roles set by hand: %q", wantAfter)
				}
			}
			if n := roleChanges(run, reg.User.ID); n != wantChanges {
				t.Fatalf("second sync: %d role changes for pat, want %d: %+v", n, wantChanges, run)
			}
			if got := rolesOf(ctx, t, e, "pat"); !slices.Equal(got, wantAfter) {
				t.Fatalf("after the second sync: %q, want %q", got, wantAfter)
			}
		})
	}
}

// syncRun runs one full DIRSYNC and requires it to succeed without errors
// and to find one user.
func syncRun(ctx context.Context, t *testing.T, e *authoritytest.Env) dirsync.Run {
	t.Helper()
	run, err := e.App.Sync.Run(ctx, dirsync.Request{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if run.Status != dirsync.StatusOK || run.Counts.Errors != 0 || run.Counts.Users != 1 || run.Counts.Deactivated != 0 {
		t.Fatalf("sync: %+v", run)
	}
	return run
}

// roleChanges counts the run's role change lines for user id.
func roleChanges(run dirsync.Run, id int64) int {
	n := 0
	for _, c := range run.Changes {
		if c.UserID == id && c.Change == dirsync.ChangeRolesChanged {
			n++
		}
	}
	return n
}

// rolesOf returns the stored roles of username.
func rolesOf(ctx context.Context, t *testing.T, e *authoritytest.Env, username string) []string {
	t.Helper()
	u, err := e.App.Users.ByUsername(ctx, username)
	if err != nil {
		t.Fatalf("read %s: %v", username, err)
	}
	return u.Roles
}
