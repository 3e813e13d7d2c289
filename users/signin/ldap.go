package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// Directory is the LDAP half of sign-in (LDAPFlow) over package ldapauth:
// search-then-bind on the servers of the user's org, and at registration the
// active, org name and role name scripts.
type Directory struct {
	LDAP  *ldapauth.Service
	Orgs  *orgs.Service
	Users *users.Service
	Log   *slog.Logger

	scripts script.SetCache     // by server id
	runners chan *script.Runner // idle runners (keptRunners at most)
}

// keptRunners bounds the idle script runners kept between registrations: a
// runner keeps its scripts' runtimes, which cost more to build than to run
// (a sync.Pool lost them at every garbage collection).
const keptRunners = 16

// NewDirectory returns the LDAP sign-in flow.
func NewDirectory(l *ldapauth.Service, o *orgs.Service, u *users.Service, log *slog.Logger) *Directory {
	if log == nil {
		log = slog.Default()
	}
	return &Directory{LDAP: l, Orgs: o, Users: u, Log: log, runners: make(chan *script.Runner, keptRunners)}
}

// servers returns the org's LDAP servers, the one the user last matched first.
func (d *Directory) servers(ctx context.Context, org orgs.Org, preferred *int64) ([]ldapauth.Server, error) {
	ids := append([]int64(nil), org.EffectiveLDAPServerIDs...)
	if preferred != nil {
		for i, id := range ids {
			if id == *preferred {
				ids[0], ids[i] = ids[i], ids[0]
				break
			}
		}
	}
	out := make([]ldapauth.Server, 0, len(ids))
	for _, id := range ids {
		srv, err := d.LDAP.Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("signin: LDAP server %d of org %s: %w", id, org.Name, err)
		}
		out = append(out, srv)
	}
	if len(out) == 0 {
		return nil, apperr.Unavailable(nil, "org %q authenticates with LDAP but has no LDAP server", org.Name)
	}
	return out, nil
}

// authenticate tries each server in turn. It returns the server and entry
// that accepted the credentials; ErrInvalidCredentials when every reachable
// server refused them; Unavailable when none accepted and one was down.
func (d *Directory) authenticate(ctx context.Context, srvs []ldapauth.Server, username, password string) (ldapauth.Server, *ldapauth.Entry, error) {
	var down error
	for _, srv := range srvs {
		e, err := d.LDAP.Authenticate(ctx, srv, username, password)
		switch {
		case err == nil:
			return srv, e, nil
		case errors.Is(err, ldapauth.ErrCredentialsRefused):
			continue
		case errors.As(err, new(*ldapauth.AccountRefused)):
			return srv, nil, accountError(err)
		default:
			d.Log.Warn("sign-in: LDAP server unavailable", "server", srv.Name, "err", err)
			down = err
		}
	}
	if down != nil {
		return ldapauth.Server{}, nil, down
	}
	return ldapauth.Server{}, nil, ErrInvalidCredentials
}

// Verify implements LDAPFlow.
func (d *Directory) Verify(ctx context.Context, u users.User, org orgs.Org, password string) error {
	if password == "" {
		return ErrInvalidCredentials
	}
	srvs, err := d.servers(ctx, org, u.LDAPServerID)
	if err != nil {
		return err
	}
	_, _, err = d.authenticate(ctx, srvs, u.Username, password)
	if apperr.Is(err, apperr.KindUnauthorized) {
		return ErrInvalidCredentials
	}
	return err
}

// Register implements LDAPFlow: authenticate on org's servers, run the
// scripts, and return the user to create. The org name script may name a new
// org, which is created here as a child of org (the only place LDAP creates
// orgs).
func (d *Directory) Register(ctx context.Context, org orgs.Org, req Request) (users.NewUser, bool, error) {
	srvs, err := d.servers(ctx, org, nil)
	if err != nil {
		return users.NewUser{}, false, err
	}
	srv, entry, err := d.authenticate(ctx, srvs, req.Username, req.Password)
	if apperr.Is(err, apperr.KindUnauthorized) {
		// Refused: a wrong password, or not in the directory at all. Only the
		// second falls to the registrants-not-found policy.
		found, ferr := d.exists(ctx, srvs, req.Username)
		if ferr != nil {
			return users.NewUser{}, false, ferr
		}
		if found {
			return users.NewUser{}, true, ErrInvalidCredentials
		}
		return users.NewUser{}, false, nil
	}
	if err != nil {
		return users.NewUser{}, false, err
	}

	if err := ldapauth.AddMemberOfAll(ctx, srv, entry); err != nil {
		// The nested groups could not be read: the scripts cannot run as
		// the directory says, so no user is made now.
		d.Log.Warn("sign-in: registration refused: the nested groups could not be read", "server", srv.Name, "username", req.Username, "err", err)
		return users.NewUser{}, true, err
	}
	set, err := d.compiledScripts(srv)
	if err != nil {
		d.Log.Error("sign-in: registration refused: the LDAP server's scripts do not compile", "server", srv.Name, "username", req.Username, "err", err)
		return users.NewUser{}, true, ErrScriptsFailed
	}
	runner := d.runner(srv)
	res := runner.Run(set, entry.DN, entry.Attrs)
	select {
	case d.runners <- runner:
	default: // enough are kept
	}
	if !res.OK() {
		metrics.ScriptErrors.WithLabelValues("signin").Add(float64(len(res.Errors)))
		d.Log.Warn("sign-in: registration refused: a directory script failed", "server", srv.Name, "username", req.Username, "dn", entry.DN, "errors", strings.Join(res.Errors, "; "))
		return users.NewUser{}, true, ErrScriptsFailed
	}
	if !res.Active {
		return users.NewUser{}, true, &StatusError{Status: users.StatusDeactivated, Reason: "the directory marks this account inactive"}
	}

	target := org
	if name := strings.TrimSpace(res.OrgName); name != "" {
		if target, err = d.orgNamed(ctx, org, name); err != nil {
			return users.NewUser{}, true, err
		}
	}
	mapping, err := d.Users.Mapping(ctx)
	if err != nil {
		return users.NewUser{}, true, err
	}
	roles := mapping.Wanted(res.Roles, target.DefaultRoles)
	p := srv.Person(entry)
	username := strings.TrimSpace(req.Username)
	for _, u := range p.Usernames {
		if casefold.Equal(u, username) {
			username = u // the directory's spelling
		}
	}
	id := srv.ID
	nu := users.NewUser{Username: username, OrgID: target.ID, Roles: roles, LDAPServerID: &id, LDAPDN: entry.DN, LDAPUID: p.UID}
	prof, err := d.profile(ctx, srv, p, username)
	if err != nil {
		return users.NewUser{}, true, err
	}
	return nu.WithProfile(prof), true, nil
}

// profile is the profile a new user takes from its entry through the
// server's mapping: a value that users.Profile.Validate would refuse is left
// out (and logged), and the manager's DN is resolved to the user whose LDAP
// DN it is (none: no manager).
func (d *Directory) profile(ctx context.Context, srv ldapauth.Server, p ldapauth.Person, username string) (users.Profile, error) {
	pp := p.Profile
	prof, bad := users.Profile{}.Overlay(users.Profile{Email: p.EmailFor(username), FirstName: p.FirstName, LastName: p.LastName,
		Title: pp.Title, Department: pp.Department, Division: pp.Division, EmployeeType: pp.EmployeeType,
		City: pp.City, State: pp.State, Country: pp.Country})
	for _, err := range bad {
		d.Log.Warn("sign-in: a directory value is not taken for the new user", "server", srv.Name, "username", username, "err", err)
	}
	if srv.ManagerAttribute != "" && pp.ManagerDN != "" {
		m, err := users.ManagerByDNTx(ctx, d.Users.DB, srv.ID, pp.ManagerDN)
		if err != nil {
			return users.Profile{}, err
		}
		prof.ManagerID = m
	}
	return prof, nil
}

// exists reports whether username has an entry on any of srvs.
func (d *Directory) exists(ctx context.Context, srvs []ldapauth.Server, username string) (bool, error) {
	var down error
	for _, srv := range srvs {
		c, err := ldapauth.Dial(ctx, srv)
		if err != nil {
			down = err
			continue
		}
		entries, err := c.FindUsers(ctx, username)
		c.Close()
		if err != nil {
			down = err
			continue
		}
		if len(entries) > 0 {
			return true, nil
		}
	}
	if down != nil {
		// Rather than apply the not-found policy to someone who may exist on
		// the server that did not answer, say the directory is unavailable.
		return false, down
	}
	return false, nil
}

// orgNamed returns the org with that name, creating it as a child of parent
// when there is none.
func (d *Directory) orgNamed(ctx context.Context, parent orgs.Org, name string) (orgs.Org, error) {
	o, err := d.Orgs.ByName(ctx, name)
	if err == nil {
		return o, nil
	}
	if !apperr.Is(err, apperr.KindNotFound) {
		return orgs.Org{}, err
	}
	pid := parent.ID
	o, err = d.Orgs.Create(ctx, orgs.Input{Name: &name, ParentID: &pid})
	if err != nil {
		// Another sign-in may have created it a moment ago.
		if again, aerr := d.Orgs.ByName(ctx, name); aerr == nil {
			return again, nil
		}
		return orgs.Org{}, fmt.Errorf("signin: create org %q named by the org name script: %w", name, err)
	}
	d.Log.Info("sign-in: created org named by the org name script", "org", o.Name, "id", o.ID, "parent", parent.Name)
	return o, nil
}

// compiledScripts returns the server's scripts, compiled once per version of their text.
func (d *Directory) compiledScripts(srv ldapauth.Server) (*script.Set, error) {
	return d.scripts.Compile(srv.ID, srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
}

func (d *Directory) runner(ldapauth.Server) *script.Runner {
	select {
	case r := <-d.runners:
		return r
	default:
		return script.NewRunner(script.DefaultLimit)
	}
}

// NotFoundOrg implements LDAPFlow: the registrants-not-found policy.
func (d *Directory) NotFoundOrg(ctx context.Context) (int64, bool, error) {
	st, err := d.LDAP.Settings(ctx)
	if err != nil {
		return 0, false, err
	}
	id, ok := st.RegistrantsOrg()
	if !ok {
		return 0, false, nil
	}
	o, err := d.Orgs.Get(ctx, id)
	if err != nil || o.UsesLDAP() {
		// The policy names an org that is gone or now uses LDAP: deny, and say so.
		d.Log.Warn("sign-in: the registrants-not-found org cannot take local users; denying", "org", id, "err", err)
		return 0, false, nil
	}
	return o.ID, true, nil
}
