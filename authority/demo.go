package authority

import (
	"context"
	"fmt"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/demodir"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
)

// Names of what --demo creates.
const (
	DemoOrgName    = "Demo"
	DemoServerName = "Demo directory"
)

// The demo server's scripts: the documented examples (package script),
// the org and role scripts adapted to the demo directory's layout
// (cn=USER,ou=GROUP,ou=users,dc=example,dc=com, lower-case group names).
const (
	demoFilter       = "(&(objectClass=user)(sAMAccountName=%u))"
	demoActiveScript = script.ExampleActiveDisabled
	demoOrgScript    = `function getOrgName(entry) {
  var dn = entry.dn.toLowerCase();
  if (dn.indexOf("ou=staff,") >= 0) { return "Demo Staff"; }
  if (dn.indexOf("ou=students,") >= 0) { return "Demo Students"; }
  return "";
}`
	demoRoleScript = `function getRoles(entry) {
  var roles = ["Desktop User", "PROe User"];
  var groups = entry.memberOf || [];
  for (var i = 0; i < groups.length; i++) {
    var g = groups[i].toLowerCase();
    if (g.indexOf("=admins,") >= 0) { roles.push("Org Admin"); }
    if (g.indexOf("=managers,") >= 0) { roles.push("Org Manager"); }
    if (g.indexOf("=support,") >= 0) { roles.push("Org Help Desk"); }
  }
  return roles;
}`
)

// startDemo starts the in-process demo directory (glauth, with the sample
// people of demodir.People) and points the org Demo at it, creating
// both on the first demo start and updating the server's address on later
// ones. It prints how to sign in.
func (a *App) startDemo(ctx context.Context) error {
	people, groups := demodir.People()
	dir, err := demodir.Start(people, groups, nil)
	if err != nil {
		return fmt.Errorf("authority: start the demo directory: %w", err)
	}
	a.onClose(func() error { dir.Stop(); return nil })

	srv, err := a.demoServer(ctx, dir)
	if err != nil {
		return err
	}
	org, err := a.demoOrg(ctx, srv.ID)
	if err != nil {
		return err
	}
	a.Log.Info("demo directory started", "url", dir.URL, "org", org.Name)
	fmt.Fprintf(a.Config.Stdout, `Demo: an in-process directory at %s with the people alice, bob, carol, dave (disabled),
erin, frank and grace, all with the password %s. The org %q authenticates against it;
its registration key is %s.

Sign a new user in as the desktop app would:

    curl -s -X POST http://%s/api/v1/login \
      -d '{"username":"alice","password":"%s","registrationKey":"%s","deviceGuid":"demo-laptop-1","deviceName":"Alice laptop"}'

dave is refused by the active script (his account is disabled); alice lands in the org "Demo Staff",
created by the org name script, with the roles the role name script grants.

`, dir.URL, demodir.Password, org.Name, org.RegistrationKey, a.Config.Listen, demodir.Password, org.RegistrationKey)
	return nil
}

func (a *App) demoServer(ctx context.Context, dir *demodir.Directory) (ldapauth.Server, error) {
	list, err := a.LDAP.List(ctx)
	if err != nil {
		return ldapauth.Server{}, err
	}
	url := dir.URL
	for _, s := range list {
		if s.Name == DemoServerName {
			// The directory listens on a new port at every start, and a
			// stored password never follows a server to a new address
			// unless it is given again.
			pw := dir.BindPassword
			return a.LDAP.Update(ctx, s.ID, ldapauth.ServerInput{URL: &url, BindPassword: &pw})
		}
	}
	name, bindDN, bindPW := DemoServerName, dir.BindDN, dir.BindPassword
	filter, active, org, role := demoFilter, demoActiveScript, demoOrgScript, demoRoleScript
	mail, first, last := "mail", "givenName", "sn"
	return a.LDAP.Create(ctx, ldapauth.ServerInput{Name: &name, URL: &url, BindDN: &bindDN, BindPassword: &bindPW,
		SearchFilter: &filter, EmailAttribute: &mail, FirstNameAttribute: &first, LastNameAttribute: &last,
		ActiveScript: &active, OrgNameScript: &org, RoleNameScript: &role})
}

func (a *App) demoOrg(ctx context.Context, serverID int64) (orgs.Org, error) {
	o, err := a.Orgs.ByName(ctx, DemoOrgName)
	if err == nil {
		return o, nil
	}
	if !apperr.Is(err, apperr.KindNotFound) {
		return orgs.Org{}, err
	}
	name, method, servers := DemoOrgName, orgs.AuthLDAP, []int64{serverID}
	return a.Orgs.Create(ctx, orgs.Input{Name: &name, AuthMethod: &method, LDAPServerIDs: &servers})
}
