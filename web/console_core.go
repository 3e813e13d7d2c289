package web

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
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
