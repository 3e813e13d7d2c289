package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/users/roles"
)

// Settings > Identity management > Provisioning (docs/rules.md sections 7
// and 9): the SCIM provisioning providers, each with its base URL, its
// credentials (shown once, on the page that answers the POST that made them:
// never in a redirect, a flash message or another page), its org and role
// mappings, its deactivation delay and its sync log.

// consoleProvisioningRoutes registers the provisioning pages.
func (s *Server) consoleProvisioningRoutes(r chi.Router) {
	r.Get("/settings/provisioning", s.consoleProviders)
	r.Post("/settings/provisioning", s.consoleCreateProvider)
	r.Get("/settings/provisioning/{id}", s.consoleProvider)
	r.Post("/settings/provisioning/{id}", s.consoleUpdateProvider)
	r.Post("/settings/provisioning/{id}/apply", s.consoleApplyProvider)
	r.Post("/settings/provisioning/{id}/credentials", s.consoleRegenerateProvider)
	r.Post("/settings/provisioning/{id}/delete", s.consoleDeleteProvider)
}

// providerFields are the fields whose errors the provider forms show next
// to them (the service's field names).
var providerFields = []string{"name", "credentialType", "orgMapping.method", "orgMapping.orgId", "orgMapping.groups",
	"roleMapping.method", "roleMapping.groups", "deactivationDelay"}

// maxFormRows bounds the mapping rows a posted form may have.
const maxFormRows = provisioning.MaxMappedGroups + 10

// provUnavailable answers when this build has no provisioning service.
func (s *Server) provUnavailable(w http.ResponseWriter, r *http.Request) bool {
	if s.Prov != nil {
		return false
	}
	s.renderError(w, r, http.StatusServiceUnavailable, "Provisioning is not available on this server.")
	return true
}

func providerURL(id int64) string { return "/settings/provisioning/" + strconv.FormatInt(id, 10) }

// delayText writes a delay as an administrator types it ("15m", "1h", "0s").
func delayText(d provisioning.Duration) string {
	t := time.Duration(d).String()
	if strings.HasSuffix(t, "m0s") {
		t = strings.TrimSuffix(t, "0s")
	}
	if strings.HasSuffix(t, "h0m") {
		t = strings.TrimSuffix(t, "0m")
	}
	return t
}

// parseDelay reads the deactivation delay field.
func parseDelay(v string) (provisioning.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, apperr.Invalid("deactivationDelay", "is required: a duration such as 15m, 2h or 0s")
	}
	if len(v) > 40 {
		return 0, apperr.Invalid("deactivationDelay", "is not a duration such as 15m, 2h or 0s")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, apperr.Invalid("deactivationDelay", "%q is not a duration such as 15m, 2h or 0s", v)
	}
	return provisioning.Duration(d), nil
}

// parseOrgID reads an org picked from a select.
func parseOrgID(field, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, apperr.Invalid(field, "choose an organization")
	}
	return n, nil
}

// providerRow is a provider in the list.
type providerRow struct {
	provisioning.Provider
	OrgSummary string
	Delay      string
}

// orgSummary says in a few words where a provider puts people.
func orgSummary(m provisioning.OrgMapping, names map[int64]string) string {
	org := names[m.OrgID]
	if org == "" {
		org = "org " + strconv.FormatInt(m.OrgID, 10)
	}
	switch m.Method {
	case provisioning.OrgGroups:
		return plural(len(m.Groups), "group") + " → organizations; everyone else into " + org
	case provisioning.OrgAttribute:
		return "the orgName attribute; missing organizations are created under " + org
	}
	return "everyone into " + org
}

// newProviderForm is the "Add provider" form.
type newProviderForm struct {
	Name, CredentialType, OrgMethod, Delay string
	OrgID                                  int64
}

type providersData struct {
	Providers []providerRow
	BaseURL   string
	Orgs      []orgRow
	New       newProviderForm
}

func (s *Server) providersPage(ctx context.Context, r *http.Request, f newProviderForm) (*providersData, error) {
	d := &providersData{BaseURL: s.scimBaseURL(r), New: f}
	var err error
	if d.Orgs, err = s.orgTree(ctx); err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, o := range d.Orgs {
		names[o.ID] = o.Name
	}
	list, err := s.Prov.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		d.Providers = append(d.Providers, providerRow{Provider: p, OrgSummary: orgSummary(p.OrgMapping, names), Delay: delayText(p.DeactivationDelay)})
	}
	return d, nil
}

func (s *Server) consoleProviders(w http.ResponseWriter, r *http.Request) {
	if s.provUnavailable(w, r) {
		return
	}
	f := newProviderForm{CredentialType: provisioning.CredentialToken, OrgMethod: provisioning.OrgSingle,
		Delay: delayText(provisioning.Duration(provisioning.DefaultDeactivationDelay))}
	if root, err := s.rootOrg(r.Context()); err == nil {
		f.OrgID = root
	}
	d, err := s.providersPage(r.Context(), r, f)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "provisioning", &view{Title: "Provisioning", Nav: "provisioning", Data: d})
}

func (s *Server) consoleCreateProvider(w http.ResponseWriter, r *http.Request) {
	if s.provUnavailable(w, r) {
		return
	}
	ctx := r.Context()
	f := newProviderForm{Name: strings.TrimSpace(r.PostFormValue("name")), CredentialType: r.PostFormValue("credentialType"),
		OrgMethod: r.PostFormValue("orgMethod"), Delay: strings.TrimSpace(r.PostFormValue("deactivationDelay"))}
	in := provisioning.Input{Name: &f.Name, CredentialType: &f.CredentialType}
	var err error
	f.OrgID, err = parseOrgID("orgMapping.orgId", r.PostFormValue("orgId"))
	if err == nil {
		in.OrgMapping = &provisioning.OrgMapping{Method: f.OrgMethod, OrgID: f.OrgID}
		var d provisioning.Duration
		d, err = parseDelay(f.Delay)
		in.DeactivationDelay = &d
	}
	var p provisioning.Provider
	var creds provisioning.Credentials
	if err == nil {
		p, creds, err = s.Prov.Create(ctx, in)
	}
	if err != nil {
		d, derr := s.providersPage(ctx, r, f)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		v := &view{Title: "Provisioning", Nav: "provisioning", Data: d}
		s.render(w, r, s.formError(r, v, err, providerFields...), "provisioning", v)
		return
	}
	s.showCredentials(w, r, p, creds, true)
}

// credentialsData is the one page that shows a provider's credentials.
type credentialsData struct {
	Provider provisioning.Provider
	BaseURL  string
	Creds    provisioning.Credentials
	Created  bool
}

// showCredentials answers the POST that made new credentials with the only
// page that shows them. It is never cached, and no redirect, flash message
// or log line carries them.
func (s *Server) showCredentials(w http.ResponseWriter, r *http.Request, p provisioning.Provider, c provisioning.Credentials, created bool) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	title := "New credentials of " + p.Name
	if created {
		title = "Provider " + p.Name + " added"
	}
	s.render(w, r, http.StatusOK, "provisioning_credentials", &view{Title: title, Nav: "provisioning",
		Data: credentialsData{Provider: p, BaseURL: s.scimBaseURL(r), Creds: c, Created: created}})
}

// orgGroupRow is a row of the groups → orgs table, as typed.
type orgGroupRow struct {
	GroupID, Priority string
	OrgID             int64
}

// roleGroupRow is a row of the groups → roles table, as typed.
type roleGroupRow struct {
	GroupID string
	Roles   []string
}

// groupOption is a SCIM group of the provider, for the group pickers.
type groupOption struct {
	ID, Name string
}

// providerForm is a provider's page: the settings form, the actions and
// the sync log.
type providerForm struct {
	Provider   provisioning.Provider
	BaseURL    string
	Users      int
	Name       string
	OrgMethod  string
	OrgID      int64
	OrgGroups  []orgGroupRow
	RoleMethod string
	RoleGroups []roleGroupRow
	Delay      string

	Orgs       []orgRow
	Roles      []roles.Role // the roles a mapping may give (not SYSADMIN)
	Groups     []groupOption
	GroupNames map[string]string // SCIM group id → displayName
	MoreGroups bool              // the provider has more groups than Groups lists

	Note string // a remark on the unsaved form

	Log              provisioning.LogPage
	LogPages         int
	PrevURL, NextURL string
}

// maxGroupOptions bounds the groups the pickers offer.
const maxGroupOptions = 500

// formOf fills f's fields from the stored provider.
func formOf(p provisioning.Provider) *providerForm {
	f := &providerForm{Provider: p, Name: p.Name, OrgMethod: p.OrgMapping.Method, OrgID: p.OrgMapping.OrgID,
		RoleMethod: p.RoleMapping.Method, Delay: delayText(p.DeactivationDelay)}
	for _, g := range p.OrgMapping.Groups {
		f.OrgGroups = append(f.OrgGroups, orgGroupRow{GroupID: g.GroupID, OrgID: g.OrgID, Priority: strconv.Itoa(g.Priority)})
	}
	for _, g := range p.RoleMapping.Groups {
		f.RoleGroups = append(f.RoleGroups, roleGroupRow{GroupID: g.GroupID, Roles: g.Roles})
	}
	return f
}

// fill adds the pickers, the known groups, the user count and the log
// page to f, and one empty row to each table.
func (s *Server) fillProviderForm(ctx context.Context, r *http.Request, f *providerForm, logPage int) error {
	var err error
	f.BaseURL = s.scimBaseURL(r)
	if f.Orgs, err = s.orgTree(ctx); err != nil {
		return err
	}
	all, err := s.Users.Roles(ctx)
	if err != nil {
		return err
	}
	f.Roles = nil
	for _, ro := range all {
		if !strings.EqualFold(ro.Name, roles.Sysadmin) {
			f.Roles = append(f.Roles, ro)
		}
	}
	groups, total, err := s.Prov.ListGroups(ctx, f.Provider, provisioning.GroupFilter{Limit: maxGroupOptions, NoMembers: true})
	if err != nil {
		return err
	}
	f.MoreGroups = total > len(groups)
	f.GroupNames = map[string]string{}
	for _, g := range groups {
		id := strconv.FormatInt(g.ID, 10)
		f.Groups = append(f.Groups, groupOption{ID: id, Name: g.DisplayName})
		f.GroupNames[id] = g.DisplayName
	}
	// The names of mapped groups beyond the first maxGroupOptions.
	var missing []int64
	for _, id := range mappedGroupIDs(f) {
		if _, ok := f.GroupNames[id]; !ok {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && len(missing) < provisioning.MaxMappedGroups {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		more, _, err := s.Prov.ListGroups(ctx, f.Provider, provisioning.GroupFilter{IDs: missing, NoMembers: true})
		if err != nil {
			return err
		}
		for _, g := range more {
			f.GroupNames[strconv.FormatInt(g.ID, 10)] = g.DisplayName
		}
	}
	if f.Users, err = s.Prov.UserCount(ctx, f.Provider.ID); err != nil {
		return err
	}
	if f.Log, err = s.Prov.SyncLog(ctx, f.Provider.ID, logPage); err != nil {
		return err
	}
	f.LogPages = max(1, (f.Log.Total+provisioning.LogPageSize-1)/provisioning.LogPageSize)
	base := providerURL(f.Provider.ID)
	if f.Log.Page > 1 {
		f.PrevURL = base + "?page=" + strconv.Itoa(f.Log.Page-1) + "#sync-log"
	}
	if f.Log.Page < f.LogPages {
		f.NextURL = base + "?page=" + strconv.Itoa(f.Log.Page+1) + "#sync-log"
	}
	f.OrgGroups = append(f.OrgGroups, orgGroupRow{OrgID: f.OrgID})
	f.RoleGroups = append(f.RoleGroups, roleGroupRow{})
	return nil
}

func mappedGroupIDs(f *providerForm) []string {
	var out []string
	for _, g := range f.OrgGroups {
		out = append(out, g.GroupID)
	}
	for _, g := range f.RoleGroups {
		out = append(out, g.GroupID)
	}
	return out
}

// providerOfPage reads the provider the page's {id} names; false when it
// answered (no such provider).
func (s *Server) providerOfPage(w http.ResponseWriter, r *http.Request) (provisioning.Provider, bool) {
	if s.provUnavailable(w, r) {
		return provisioning.Provider{}, false
	}
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return provisioning.Provider{}, false
	}
	p, err := s.Prov.Get(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return provisioning.Provider{}, false
	}
	return p, true
}

func (s *Server) consoleProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := s.providerOfPage(w, r)
	if !ok {
		return
	}
	page := 1
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && n < 1<<20 {
		page = n
	}
	f := formOf(p)
	if err := s.fillProviderForm(r.Context(), r, f, page); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "provisioning_provider", &view{Title: p.Name, Nav: "provisioning", Data: f})
}

// providerInput reads the provider form into f and the service's input.
func providerInput(r *http.Request, f *providerForm) (provisioning.Input, error) {
	var in provisioning.Input
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	in.Name = &f.Name
	f.OrgMethod = r.PostFormValue("orgMethod")
	f.RoleMethod = r.PostFormValue("roleMethod")
	f.Delay = strings.TrimSpace(r.PostFormValue("deactivationDelay"))
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	orgID, err := parseOrgID("orgMapping.orgId", r.PostFormValue("orgId"))
	keep(err)
	f.OrgID = orgID
	om := provisioning.OrgMapping{Method: f.OrgMethod, OrgID: orgID, Groups: []provisioning.OrgGroup{}}
	f.OrgGroups = nil
	for i := range formRows(r, "ogRows") {
		k := "og." + strconv.Itoa(i) + "."
		row := orgGroupRow{GroupID: strings.TrimSpace(r.PostFormValue(k + "groupId")), Priority: strings.TrimSpace(r.PostFormValue(k + "priority"))}
		if row.GroupID == "" || r.PostFormValue(k+"remove") != "" {
			continue
		}
		row.OrgID, err = parseOrgID("orgMapping.groups", r.PostFormValue(k+"orgId"))
		keep(err)
		prio := 0
		if row.Priority != "" {
			if prio, err = strconv.Atoi(row.Priority); err != nil || prio < 0 || prio > 1_000_000 {
				keep(apperr.Invalid("orgMapping.groups", "group %s: the priority must be a whole number from 0 to 1000000", row.GroupID))
			}
		}
		f.OrgGroups = append(f.OrgGroups, row)
		om.Groups = append(om.Groups, provisioning.OrgGroup{GroupID: row.GroupID, OrgID: row.OrgID, Priority: prio})
	}
	in.OrgMapping = &om
	rm := provisioning.RoleMapping{Method: f.RoleMethod, Groups: []provisioning.RoleGroup{}}
	f.RoleGroups = nil
	for i := range formRows(r, "rgRows") {
		k := "rg." + strconv.Itoa(i) + "."
		row := roleGroupRow{GroupID: strings.TrimSpace(r.PostFormValue(k + "groupId")), Roles: append([]string{}, r.PostForm[k+"roles"]...)}
		if row.GroupID == "" || r.PostFormValue(k+"remove") != "" {
			continue
		}
		f.RoleGroups = append(f.RoleGroups, row)
		rm.Groups = append(rm.Groups, provisioning.RoleGroup{GroupID: row.GroupID, Roles: row.Roles})
	}
	in.RoleMapping = &rm
	d, err := parseDelay(f.Delay)
	keep(err)
	in.DeactivationDelay = &d
	return in, firstErr
}

// formRows reads how many rows a posted table has (bounded).
func formRows(r *http.Request, name string) int {
	n, err := strconv.Atoi(r.PostFormValue(name))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, maxFormRows)
}

func (s *Server) consoleUpdateProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := s.providerOfPage(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	f := formOf(p)
	in, err := providerInput(r, f)
	addRow := r.PostFormValue("addRow") != ""
	if err == nil && !addRow {
		p, err = s.Prov.Update(ctx, p.ID, in)
	}
	if err != nil || addRow {
		v := &view{Title: f.Provider.Name, Nav: "provisioning", Data: f}
		status := http.StatusOK
		if err != nil {
			status = s.formError(r, v, err, providerFields...)
		}
		if ferr := s.fillProviderForm(ctx, r, f, 1); ferr != nil {
			s.failPage(w, r, ferr)
			return
		}
		if addRow && err == nil {
			// One more empty row than fill adds, in the table asked for
			// (not saved yet).
			if r.PostFormValue("addRow") == "role" {
				f.RoleGroups = append(f.RoleGroups, roleGroupRow{})
			} else {
				f.OrgGroups = append(f.OrgGroups, orgGroupRow{OrgID: f.OrgID})
			}
			f.Note = "A row was added. Nothing is saved until you press Save."
		}
		s.render(w, r, status, "provisioning_provider", v)
		return
	}
	msg := "Provider " + p.Name + " saved."
	if p.OrgMapping.Method == provisioning.OrgGroups || p.RoleMapping.Method == provisioning.RoleGroups {
		msg += " Press “Apply org and role settings” to apply a changed mapping to the provider's users now."
	}
	s.done(w, r, providerURL(p.ID), "ok", msg)
}

func (s *Server) consoleApplyProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := s.providerOfPage(w, r)
	if !ok {
		return
	}
	n, err := s.Prov.Apply(r.Context(), p.ID)
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, providerURL(p.ID), "error", "Applying stopped after "+plural(n, "user")+": "+msg)
		return
	}
	s.done(w, r, providerURL(p.ID), "ok", "Org and role settings applied: "+plural(n, "user")+" checked. The sync log lists what changed.")
}

// confirmed reports whether the form's confirmation box is ticked;
// otherwise it sends the administrator back to the provider with a warning.
func (s *Server) confirmed(w http.ResponseWriter, r *http.Request, p provisioning.Provider, what string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	s.done(w, r, providerURL(p.ID), "warn", "Nothing was done: tick the box next to “"+what+"” to confirm.")
	return false
}

func (s *Server) consoleRegenerateProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := s.providerOfPage(w, r)
	if !ok || !s.confirmed(w, r, p, "Regenerate credentials") {
		return
	}
	creds, err := s.Prov.Regenerate(r.Context(), p.ID)
	if err == nil {
		p, err = s.Prov.Get(r.Context(), p.ID)
	}
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.showCredentials(w, r, p, creds, false)
}

func (s *Server) consoleDeleteProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := s.providerOfPage(w, r)
	if !ok || !s.confirmed(w, r, p, "Delete provider") {
		return
	}
	n, err := s.Prov.UserCount(r.Context(), p.ID)
	if err == nil {
		err = s.Prov.Delete(r.Context(), p.ID)
	}
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, providerURL(p.ID), "error", msg)
		return
	}
	msg := "Provider " + p.Name + " deleted. Its credentials no longer work."
	if n > 0 {
		msg += " Its users (" + strconv.Itoa(n) + ") stay in the authority, blocked (devices and archives kept), for an administrator to decide: see " +
			"Users, status blocked."
	}
	s.done(w, r, "/settings/provisioning", "ok", msg)
}
