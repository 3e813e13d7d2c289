package web

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// consoleCoreRoutes: Organizations, Users, Legal hold, Role Mapping.
func (s *Server) consoleCoreRoutes(r chi.Router) {
	r.Get("/orgs", s.consoleOrgs)
	r.Get("/orgs/new", s.consoleNewOrg)
	r.Post("/orgs", s.consoleCreateOrg)
	r.Get("/orgs/{id}", s.consoleOrg)
	r.Post("/orgs/{id}", s.consoleUpdateOrg)
	r.Post("/orgs/{id}/registration-key", s.consoleNewRegistrationKey)

	r.Get("/users", s.consoleUsers)
	r.Get("/users/new", s.consoleNewUser)
	r.Post("/users", s.consoleCreateUser)
	r.Get("/users/{id}", s.consoleUser)
	r.Post("/users/{id}/{action:deactivate|reactivate|block|unblock}", s.consoleUserAction)
	r.Post("/users/{id}/move", s.consoleMoveUser)

	r.Get("/legal-holds", s.consoleHolds)
	r.Post("/legal-holds", s.consoleCreateHold)
	r.Get("/legal-holds/{id}", s.consoleHold)
	r.Post("/legal-holds/{id}/custodians", s.consoleAddCustodian)
	r.Post("/legal-holds/{id}/custodians/{userId}/release", s.consoleReleaseCustodian)
	r.Post("/legal-holds/{id}/close", s.consoleCloseHold)

	r.Get("/settings/role-mapping", s.consoleRoleMapping)
	r.Post("/settings/role-mapping", s.consoleSaveRoleMapping)
}

// orgRow is an org placed in the tree, for lists and pickers.
type orgRow struct {
	orgs.Org
	Depth       int
	ParentName  string
	ServerNames []string
}

// orgTree returns every org in tree order (each org followed by its
// children, sorted by name), with its depth.
func (s *Server) orgTree(ctx context.Context) ([]orgRow, error) {
	list, err := s.Orgs.List(ctx)
	if err != nil {
		return nil, err
	}
	return treeOrder(list), nil
}

func treeOrder(list []orgs.Org) []orgRow {
	byID := map[int64]orgs.Org{}
	children := map[int64][]orgs.Org{}
	var roots []orgs.Org
	for _, o := range list {
		byID[o.ID] = o
	}
	for _, o := range list {
		if o.ParentID == nil || byID[*o.ParentID].ID == 0 {
			roots = append(roots, o)
			continue
		}
		children[*o.ParentID] = append(children[*o.ParentID], o)
	}
	byName := func(os []orgs.Org) {
		sort.Slice(os, func(i, j int) bool { return strings.ToLower(os[i].Name) < strings.ToLower(os[j].Name) })
	}
	byName(roots)
	out := make([]orgRow, 0, len(list))
	seen := map[int64]bool{}
	var walk func(o orgs.Org, depth int)
	walk = func(o orgs.Org, depth int) {
		if seen[o.ID] {
			return
		}
		seen[o.ID] = true
		row := orgRow{Org: o, Depth: depth}
		if o.ParentID != nil {
			row.ParentName = byID[*o.ParentID].Name
		}
		out = append(out, row)
		kids := children[o.ID]
		byName(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, o := range roots {
		walk(o, 0)
	}
	return out
}

// descendants returns id and every org below it.
func descendants(rows []orgRow, id int64) map[int64]bool {
	out := map[int64]bool{id: true}
	for changed := true; changed; {
		changed = false
		for _, r := range rows {
			if r.ParentID != nil && out[*r.ParentID] && !out[r.ID] {
				out[r.ID] = true
				changed = true
			}
		}
	}
	return out
}

type orgsData struct {
	Orgs       []orgRow
	HasServers bool
}

func (s *Server) consoleOrgs(w http.ResponseWriter, r *http.Request) {
	rows, err := s.orgTree(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	servers, _ := s.ldapServerOptions(r.Context())
	names := map[int64]string{}
	for _, sv := range servers {
		names[sv.ID] = sv.Name
	}
	for i := range rows {
		for _, id := range rows[i].EffectiveLDAPServerIDs {
			n := names[id]
			if n == "" {
				n = "server " + strconv.FormatInt(id, 10)
			}
			rows[i].ServerNames = append(rows[i].ServerNames, n)
		}
	}
	s.render(w, r, http.StatusOK, "orgs", &view{Title: "Organizations", Nav: "orgs", Data: orgsData{Orgs: rows, HasServers: len(servers) > 0}})
}

// serverOption is an LDAP server in a picker.
type serverOption struct {
	ID   int64
	Name string
}

// orgForm is the org create/edit form.
type orgForm struct {
	Org             orgs.Org // the stored org (zero when new)
	IsNew, IsRoot   bool
	Name            string
	ParentID        int64
	AuthMethod      string // "", "local" or "ldap"
	LDAPServerIDs   []int64
	DefaultRoles    []string
	ArchiveHoldDays string // "" inherits
	Parents         []orgRow
	Roles           []roles.Role
	Servers         []serverOption
	ServersError    string
	ParentAuth      string // what "inherit" means
	ParentHoldDays  int
	UsersURL        string
}

var orgFields = []string{"name", "parentId", "authMethod", "ldapServerIds", "defaultRoles", "archiveHoldDays"}

// fillOrgForm adds the pickers and what inheriting means to f.
func (s *Server) fillOrgForm(ctx context.Context, f *orgForm) error {
	rows, err := s.orgTree(ctx)
	if err != nil {
		return err
	}
	skip := map[int64]bool{}
	if !f.IsNew {
		skip = descendants(rows, f.Org.ID)
	}
	f.Parents = nil
	for _, r := range rows {
		if !skip[r.ID] {
			f.Parents = append(f.Parents, r)
		}
	}
	f.ParentAuth, f.ParentHoldDays = orgs.AuthLocal, orgs.DefaultArchiveHoldDays
	for _, r := range rows {
		if r.ID == f.ParentID {
			f.ParentAuth, f.ParentHoldDays = r.EffectiveAuthMethod, r.ArchiveHoldDays
		}
	}
	if f.Roles, err = s.Users.Roles(ctx); err != nil {
		return err
	}
	servers, err := s.ldapServerOptions(ctx)
	if err != nil {
		f.ServersError = "The LDAP server list cannot be read right now."
	}
	f.Servers = servers
	if !f.IsNew {
		f.UsersURL = "/users?orgId=" + strconv.FormatInt(f.Org.ID, 10)
	}
	return nil
}

func (s *Server) consoleNewOrg(w http.ResponseWriter, r *http.Request) {
	f := &orgForm{IsNew: true, DefaultRoles: append([]string(nil), orgs.DefaultRoles...)}
	if p, err := strconv.ParseInt(r.URL.Query().Get("parent"), 10, 64); err == nil {
		f.ParentID = p
	} else if root, err := s.rootOrg(r.Context()); err == nil {
		f.ParentID = root
	}
	if err := s.fillOrgForm(r.Context(), f); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "org", &view{Title: "New organization", Nav: "orgs", Data: f})
}

func (s *Server) rootOrg(ctx context.Context) (int64, error) {
	list, err := s.Orgs.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, o := range list {
		if o.ParentID == nil {
			return o.ID, nil
		}
	}
	return 0, apperr.NotFound("there is no root org")
}

func (s *Server) consoleOrg(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	o, err := s.Orgs.Get(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	f := &orgForm{Org: o, IsRoot: o.ParentID == nil, Name: o.Name, AuthMethod: o.AuthMethod,
		LDAPServerIDs: o.LDAPServerIDs, DefaultRoles: o.DefaultRoles}
	if o.ParentID != nil {
		f.ParentID = *o.ParentID
	}
	if !o.ArchiveHoldDaysInherited {
		f.ArchiveHoldDays = strconv.Itoa(o.ArchiveHoldDays)
	}
	if err := s.fillOrgForm(r.Context(), f); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "org", &view{Title: o.Name, Nav: "orgs", Data: f})
}

// orgInput reads the org form into f and the service's input.
func (s *Server) orgInput(r *http.Request, f *orgForm) (orgs.Input, error) {
	var in orgs.Input
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	in.Name = &f.Name
	if !f.IsRoot {
		if p := r.PostFormValue("parentId"); p != "" {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n <= 0 {
				return in, apperr.Invalid("parentId", "choose the parent organization")
			}
			f.ParentID = n
			in.ParentID = &n
		}
	}
	f.AuthMethod = r.PostFormValue("authMethod")
	in.AuthMethod = &f.AuthMethod
	if r.PostFormValue("ldapServersShown") != "" {
		ids, err := formInt64s(r, "ldapServerIds")
		if err != nil {
			return in, err
		}
		f.LDAPServerIDs = ids
		in.LDAPServerIDs = &ids
	}
	roles := append([]string{}, r.PostForm["defaultRoles"]...)
	f.DefaultRoles = roles
	in.DefaultRoles = &roles
	f.ArchiveHoldDays = strings.TrimSpace(r.PostFormValue("archiveHoldDays"))
	in.ArchiveHoldDays.Set = true
	if f.ArchiveHoldDays == "" {
		in.ArchiveHoldDays.Null = true
	} else {
		n, err := strconv.Atoi(f.ArchiveHoldDays)
		if err != nil {
			return in, apperr.Invalid("archiveHoldDays", "must be a whole number of days, or empty to inherit from the parent organization")
		}
		in.ArchiveHoldDays.Value = n
	}
	return in, nil
}

func (s *Server) consoleCreateOrg(w http.ResponseWriter, r *http.Request) {
	f := &orgForm{IsNew: true}
	in, err := s.orgInput(r, f)
	var o orgs.Org
	if err == nil {
		o, err = s.Orgs.Create(r.Context(), in)
	}
	if err != nil {
		s.orgFormFailed(w, r, f, "New organization", err)
		return
	}
	s.done(w, r, "/orgs/"+strconv.FormatInt(o.ID, 10), "ok", "Organization "+o.Name+" created. Its registration key is "+o.RegistrationKey+".")
}

func (s *Server) orgFormFailed(w http.ResponseWriter, r *http.Request, f *orgForm, title string, err error) {
	v := &view{Title: title, Nav: "orgs", Data: f}
	status := s.formError(r, v, err, orgFields...)
	if ferr := s.fillOrgForm(r.Context(), f); ferr != nil {
		s.failPage(w, r, ferr)
		return
	}
	s.render(w, r, status, "org", v)
}

func (s *Server) consoleUpdateOrg(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	o, err := s.Orgs.Get(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	f := &orgForm{Org: o, IsRoot: o.ParentID == nil}
	if o.ParentID != nil {
		f.ParentID = *o.ParentID
	}
	in, err := s.orgInput(r, f)
	if err == nil {
		o, err = s.Orgs.Update(r.Context(), id, in)
	}
	if err != nil {
		s.orgFormFailed(w, r, f, o.Name, err)
		return
	}
	s.done(w, r, "/orgs/"+strconv.FormatInt(o.ID, 10), "ok", "Organization "+o.Name+" saved.")
}

func (s *Server) consoleNewRegistrationKey(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	yes := true
	o, err := s.Orgs.Update(r.Context(), id, orgs.Input{Regenerate: &yes})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.done(w, r, "/orgs/"+strconv.FormatInt(o.ID, 10), "ok", "Organization "+o.Name+" has a new registration key: "+o.RegistrationKey+". The old key no longer registers new users.")
}

// usersPageSize is how many users a page of the user list shows.
const usersPageSize = 50

type usersData struct {
	Search, Status   string
	OrgID            int64
	Users            []users.User
	Orgs             []orgRow
	Page             int
	PrevURL, NextURL string
	Filtered         bool
}

func (s *Server) consoleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := usersData{Search: strings.TrimSpace(q.Get("search")), Status: q.Get("status"), Page: 1}
	switch users.Status(d.Status) {
	case "", users.StatusActive, users.StatusBlocked, users.StatusDeactivated:
	default:
		d.Status = ""
	}
	if n, err := strconv.ParseInt(q.Get("orgId"), 10, 64); err == nil && n > 0 {
		d.OrgID = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	d.Filtered = d.Search != "" || d.Status != "" || d.OrgID != 0
	list, err := s.Users.List(r.Context(), users.Filter{Search: d.Search, Status: users.Status(d.Status), OrgID: d.OrgID,
		Limit: usersPageSize + 1, Offset: (d.Page - 1) * usersPageSize})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	pageURL := func(p int) string {
		v := url.Values{}
		if d.Search != "" {
			v.Set("search", d.Search)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if d.OrgID != 0 {
			v.Set("orgId", strconv.FormatInt(d.OrgID, 10))
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		if len(v) == 0 {
			return "/users"
		}
		return "/users?" + v.Encode()
	}
	if len(list) > usersPageSize {
		list = list[:usersPageSize]
		d.NextURL = pageURL(d.Page + 1)
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	d.Users = list
	if d.Orgs, err = s.orgTree(r.Context()); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "users", &view{Title: "Users", Nav: "users", Data: d})
}

type userData struct {
	User       users.User
	Devices    []users.Device
	Holds      []legalhold.Matter
	Orgs       []orgRow
	ServerName string
	Manager    *users.User // the user's manager (nil: none)
}

func (s *Server) consoleUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	d, err := s.userPage(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user", &view{Title: d.User.Username, Nav: "users", Data: d})
}

func (s *Server) userPage(ctx context.Context, id int64) (*userData, error) {
	u, err := s.Users.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &userData{User: u}
	if d.Devices, err = s.Users.Devices(ctx, id); err != nil {
		return nil, err
	}
	ms, err := s.Holds.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		for _, c := range m.Custodians {
			if c == id {
				d.Holds = append(d.Holds, m)
			}
		}
	}
	if d.Orgs, err = s.orgTree(ctx); err != nil {
		return nil, err
	}
	if d.Manager, err = s.managerOf(ctx, u); err != nil {
		return nil, err
	}
	if u.LDAPServerID != nil {
		servers, _ := s.ldapServerOptions(ctx)
		for _, sv := range servers {
			if sv.ID == *u.LDAPServerID {
				d.ServerName = sv.Name
			}
		}
		if d.ServerName == "" {
			d.ServerName = "server " + strconv.FormatInt(*u.LDAPServerID, 10)
		}
	}
	return d, nil
}

func (s *Server) consoleUserAction(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	var (
		u   users.User
		err error
		msg string
	)
	switch chi.URLParam(r, "action") {
	case "deactivate":
		u, err = s.Users.Deactivate(ctx, id, users.ReasonAdmin)
		msg = "%s is deactivated: its devices are deactivated and its archives are in cold storage."
		if err == nil && u.Status == users.StatusBlocked {
			msg = "%s is on legal hold, so it was blocked instead of deactivated. It will be deactivated when its last hold is released."
		}
	case "reactivate":
		u, err = s.Users.Reactivate(ctx, id)
		msg = "%s is active again: its devices are reactivated and its archives still in cold storage are back to normal."
	case "block":
		u, err = s.Users.Block(ctx, id)
		msg = "%s is blocked: it cannot sign in, and its devices keep backing up."
	case "unblock":
		u, err = s.Users.Unblock(ctx, id)
		msg = "%s is unblocked and active."
	}
	dest := "/users/" + strconv.FormatInt(id, 10)
	if err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	s.done(w, r, dest, "ok", strings.Replace(msg, "%s", u.Username, 1))
}

func (s *Server) consoleMoveUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	dest := "/users/" + strconv.FormatInt(id, 10)
	org, err := strconv.ParseInt(r.PostFormValue("orgId"), 10, 64)
	if err != nil || org <= 0 {
		s.done(w, r, dest, "error", "Choose the organization to move the user to.")
		return
	}
	u, err := s.Users.Move(r.Context(), id, org)
	if err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	s.done(w, r, dest, "ok", u.Username+" moved to "+u.OrgName+".")
}

type newUserForm struct {
	users.NewUser
	Orgs []orgRow
}

var newUserFields = []string{"username", "password", "email", "firstName", "lastName", "orgId"}

func (s *Server) consoleNewUser(w http.ResponseWriter, r *http.Request) {
	f := &newUserForm{}
	if n, err := strconv.ParseInt(r.URL.Query().Get("orgId"), 10, 64); err == nil {
		f.OrgID = n
	}
	var err error
	if f.Orgs, err = s.orgTree(r.Context()); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user_new", &view{Title: "Add a user", Nav: "users", Data: f})
}

func (s *Server) consoleCreateUser(w http.ResponseWriter, r *http.Request) {
	f := &newUserForm{NewUser: users.NewUser{
		Username:  strings.TrimSpace(r.PostFormValue("username")),
		Password:  r.PostFormValue("password"),
		Email:     strings.TrimSpace(r.PostFormValue("email")),
		FirstName: strings.TrimSpace(r.PostFormValue("firstName")),
		LastName:  strings.TrimSpace(r.PostFormValue("lastName")),
	}}
	ctx := r.Context()
	var err error
	f.OrgID, err = strconv.ParseInt(r.PostFormValue("orgId"), 10, 64)
	if err != nil || f.OrgID <= 0 {
		err = apperr.Invalid("orgId", "choose an organization")
	}
	var u users.User
	if err == nil {
		u, err = s.Users.Create(ctx, f.NewUser)
	}
	if err != nil {
		f.Password = ""
		v := &view{Title: "Add a user", Nav: "users", Data: f}
		status := s.formError(r, v, err, newUserFields...)
		if f.Orgs, err = s.orgTree(ctx); err != nil {
			s.failPage(w, r, err)
			return
		}
		s.render(w, r, status, "user_new", v)
		return
	}
	s.done(w, r, "/users/"+strconv.FormatInt(u.ID, 10), "ok", "User "+u.Username+" created in "+u.OrgName+".")
}

// holdRow is a matter with its custodians' users.
type holdRow struct {
	legalhold.Matter
	Users []users.User
}

type holdsData struct {
	Holds []legalhold.Matter
	Name  string
}

func (s *Server) consoleHolds(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Holds.List(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "holds", &view{Title: "Legal hold", Nav: "holds", Data: holdsData{Holds: ms}})
}

func (s *Server) consoleCreateHold(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	m, err := s.Holds.Create(r.Context(), name)
	if err != nil {
		ms, lerr := s.Holds.List(r.Context())
		if lerr != nil {
			s.failPage(w, r, lerr)
			return
		}
		v := &view{Title: "Legal hold", Nav: "holds", Data: holdsData{Holds: ms, Name: name}}
		s.render(w, r, s.formError(r, v, err, "name"), "holds", v)
		return
	}
	s.done(w, r, "/legal-holds/"+strconv.FormatInt(m.ID, 10), "ok", "Legal hold matter "+m.Name+" opened. Add its custodians below.")
}

type holdData struct {
	Hold     holdRow
	Username string
}

func (s *Server) holdPage(ctx context.Context, id int64) (*holdData, error) {
	m, err := s.Holds.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &holdData{Hold: holdRow{Matter: m}}
	for _, uid := range m.Custodians {
		u, err := s.Users.Get(ctx, uid)
		if err != nil {
			if apperr.Is(err, apperr.KindNotFound) {
				continue
			}
			return nil, err
		}
		d.Hold.Users = append(d.Hold.Users, u)
	}
	return d, nil
}

func (s *Server) consoleHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	d, err := s.holdPage(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "hold", &view{Title: d.Hold.Name, Nav: "holds", Data: d})
}

func (s *Server) consoleAddCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	username := strings.TrimSpace(r.PostFormValue("username"))
	var err error
	var u users.User
	if username == "" {
		err = apperr.Invalid("username", "enter the username of the custodian")
	} else if err = users.ValidateUsername(username); err == nil { // else: no user can have that name; say why
		if u, err = s.Users.ByUsername(ctx, username); apperr.Is(err, apperr.KindNotFound) {
			err = apperr.Invalid("username", "no user is named %q", username)
		}
	}
	if err == nil {
		_, err = s.Holds.AddCustodian(ctx, id, u.ID)
	}
	if err != nil {
		d, derr := s.holdPage(ctx, id)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		d.Username = username
		v := &view{Title: d.Hold.Name, Nav: "holds", Data: d}
		s.render(w, r, s.formError(r, v, err, "username"), "hold", v)
		return
	}
	s.done(w, r, "/legal-holds/"+strconv.FormatInt(id, 10), "ok", u.Username+" is now a custodian of this matter: while on hold it is blocked instead of deactivated.")
}

func (s *Server) consoleReleaseCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	uid, ok := s.pagePathID(w, r, "userId")
	if !ok {
		return
	}
	dest := "/legal-holds/" + strconv.FormatInt(id, 10)
	if _, err := s.Holds.ReleaseCustodian(r.Context(), id, uid); err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	msg := "Custodian released."
	if u, err := s.Users.Get(r.Context(), uid); err == nil {
		msg = u.Username + " released from this matter."
		if u.Status == users.StatusDeactivated && !u.OnLegalHold {
			msg += " Its deactivation was pending, so it is now deactivated."
		}
	}
	s.done(w, r, dest, "ok", msg)
}

func (s *Server) consoleCloseHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	dest := "/legal-holds/" + strconv.FormatInt(id, 10)
	m, err := s.Holds.Deactivate(r.Context(), id)
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, dest, "error", msg)
		return
	}
	s.done(w, r, dest, "ok", "Matter "+m.Name+" closed: every custodian is released, and those whose deactivation was pending are deactivated.")
}

type roleMappingData struct {
	Roles []roles.Role
}

func (s *Server) consoleRoleMapping(w http.ResponseWriter, r *http.Request) {
	roles, err := s.Users.Roles(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "role_mapping", &view{Title: "Role Mapping", Nav: "roles", Data: roleMappingData{Roles: roles}})
}

func (s *Server) consoleSaveRoleMapping(w http.ResponseWriter, r *http.Request) {
	names, err := s.Users.SetRoleMapping(r.Context(), r.PostForm["roles"])
	if err != nil {
		roles, rerr := s.Users.Roles(r.Context())
		if rerr != nil {
			s.failPage(w, r, rerr)
			return
		}
		v := &view{Title: "Role Mapping", Nav: "roles", Data: roleMappingData{Roles: roles}}
		s.render(w, r, s.formError(r, v, err, "roles"), "role_mapping", v)
		return
	}
	msg := "Role Mapping saved: LDAP scripts may manage " + strings.Join(names, ", ") + "."
	if len(names) == 0 {
		msg = "Role Mapping saved: LDAP scripts manage no role."
	}
	s.done(w, r, "/settings/role-mapping", "ok", msg)
}
