package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/users/signin"
)

// consoleLDAPRoutes: Settings > Security > LDAP and LDAP Server Setup.
func (s *Server) consoleLDAPRoutes(r chi.Router) {
	r.Get("/settings/ldap", s.consoleLDAPSettings)
	r.Post("/settings/ldap", s.consoleSaveLDAPSettings)
	r.Post("/settings/ldap/compile", s.consoleCompileScript)
	r.Get("/settings/ldap/servers/new", s.consoleNewLDAPServer)
	r.Post("/settings/ldap/servers", s.consoleCreateLDAPServer)
	r.Post("/settings/ldap/servers/test", s.consoleTestLDAPServer)
	r.Get("/settings/ldap/servers/{id}", s.consoleLDAPServer)
	r.Post("/settings/ldap/servers/{id}", s.consoleUpdateLDAPServer)
	r.Post("/settings/ldap/servers/{id}/delete", s.consoleDeleteLDAPServer)
	r.Post("/settings/ldap/servers/{id}/test", s.consoleTestLDAPServer)
	r.Post("/settings/ldap/servers/{id}/try", s.consoleTryScript)
	r.Post("/settings/security", s.consoleSaveSecurity) // console_security.go
}

// ldapServerOptions lists the LDAP servers for pickers.
func (s *Server) ldapServerOptions(ctx context.Context) ([]serverOption, error) {
	if s.LDAP == nil {
		return nil, nil
	}
	list, err := s.LDAP.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]serverOption, 0, len(list))
	for _, sv := range list {
		out = append(out, serverOption{ID: sv.ID, Name: sv.Name})
	}
	return out, nil
}

// ldapUnavailable answers when this build has no LDAP service.
func (s *Server) ldapUnavailable(w http.ResponseWriter, r *http.Request) bool {
	if s.LDAP != nil {
		return false
	}
	s.renderError(w, r, http.StatusServiceUnavailable, "LDAP is not available on this server.")
	return true
}

// intervalOption is a choice of the sync schedule.
type intervalOption struct {
	Value, Label string
}

var syncIntervals = []intervalOption{
	{"never", "Never"}, {"15m", "15 minutes"}, {"30m", "30 minutes"}, {"1h", "1 hour"}, {"2h", "2 hours"},
	{"4h", "4 hours"}, {"6h", "6 hours"}, {"12h", "12 hours"}, {"24h", "24 hours"}, {"168h", "7 days"},
}

type ldapSettingsData struct {
	Servers   []ldapauth.Server
	UsedBy    map[int64][]string // server id → names of the orgs that use it
	Settings  ldapauth.Settings
	LocalOrgs []orgRow
	Intervals []intervalOption
	Sync      *syncPanel
	// StaleRegistrants is the saved registrants-not-found org when it is no
	// longer a choice (it uses LDAP now, or is gone), so that it stays visible.
	StaleRegistrants *intervalOption

	// Security is the sign-in security form's (console_security.go).
	Security signin.Settings
}

func (s *Server) ldapSettingsPage(ctx context.Context, st *ldapauth.Settings) (*ldapSettingsData, error) {
	d := &ldapSettingsData{UsedBy: map[int64][]string{}}
	var err error
	if d.Security, err = s.SignIn.Settings(ctx); err != nil {
		return nil, err
	}
	if d.Servers, err = s.LDAP.List(ctx); err != nil {
		return nil, err
	}
	if st != nil {
		d.Settings = *st
	} else if d.Settings, err = s.LDAP.Settings(ctx); err != nil {
		return nil, err
	}
	rows, err := s.orgTree(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range rows {
		if !o.UsesLDAP() {
			d.LocalOrgs = append(d.LocalOrgs, o)
		}
		for _, id := range o.LDAPServerIDs {
			d.UsedBy[id] = append(d.UsedBy[id], o.Name)
		}
	}
	if id, ok := d.Settings.RegistrantsOrg(); ok {
		found := false
		for _, o := range d.LocalOrgs {
			found = found || o.ID == id
		}
		if !found {
			label := fmt.Sprintf("Place them in org %d (no longer a choice: it uses LDAP or is gone)", id)
			for _, o := range rows {
				if o.ID == id {
					label = "Place them in " + o.Name + " (no longer a choice: it uses LDAP now)"
				}
			}
			d.StaleRegistrants = &intervalOption{Value: d.Settings.RegistrantsNotFound, Label: label}
		}
	}
	d.Intervals = append([]intervalOption(nil), syncIntervals...)
	known := false
	for _, o := range d.Intervals {
		if o.Value == d.Settings.SyncInterval {
			known = true
		}
	}
	if !known && d.Settings.SyncInterval != "" {
		d.Intervals = append(d.Intervals, intervalOption{d.Settings.SyncInterval, d.Settings.SyncInterval})
	}
	d.Sync = s.syncPanel(ctx)
	return d, nil
}

func (s *Server) consoleLDAPSettings(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	d, err := s.ldapSettingsPage(r.Context(), nil)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ldap_settings", &view{Title: "LDAP", Nav: "ldap", Data: d})
}

func (s *Server) consoleSaveLDAPSettings(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	ctx := r.Context()
	cur, err := s.LDAP.Settings(ctx)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	in := cur
	in.RegistrantsNotFound = r.PostFormValue("registrantsNotFound")
	in.SyncInterval = r.PostFormValue("syncInterval")
	if v := r.PostFormValue("valvePercent"); v != "" {
		if in.ValvePercent, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			err = apperr.Invalid("valvePercent", "must be a whole number from 0 to 100")
		}
	}
	if v := r.PostFormValue("valveMinUsers"); v != "" && err == nil {
		if in.ValveMinUsers, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			err = apperr.Invalid("valveMinUsers", "must be a whole number of users")
		}
	}
	var saved ldapauth.Settings
	if err == nil {
		saved, err = s.LDAP.SaveSettings(ctx, in)
	}
	if err != nil {
		d, derr := s.ldapSettingsPage(ctx, &in)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		v := &view{Title: "LDAP", Nav: "ldap", Data: d}
		s.render(w, r, s.formError(r, v, err, "registrantsNotFound", "syncInterval", "valvePercent", "valveMinUsers"), "ldap_settings", v)
		return
	}
	msg := "LDAP settings saved. "
	if _, on := saved.Interval(); on {
		msg += "Directory sync runs every " + intervalLabel(saved.SyncInterval) + "."
	} else {
		msg += "Scheduled directory sync is off; sign-in still asks the directory."
	}
	s.done(w, r, "/settings/ldap", "ok", msg)
}

func intervalLabel(v string) string {
	for _, o := range syncIntervals {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// serverForm is the LDAP Server Setup page.
type serverForm struct {
	// Server holds the values shown. Its BindPassword is always empty: the
	// bind password is write-only and never goes into a page.
	Server        ldapauth.Server
	IsNew         bool
	EditPassword  bool // the bind password box starts open
	Sensitive     string
	UsernameAttr  string
	BaseDN        string
	UsedBy        []string
	Test          *ldapauth.TestResult // the no-JavaScript test
	Preview       *previewData
	DefaultActive string
	Notice        string // about an unsaved test
}

type previewData struct {
	BadSearch        bool // the search box's value is refused (the page answers 400)
	Search           string
	Page, Pages      int
	Result           ldapauth.PreviewResult
	Error            string
	PrevURL, NextURL string
	First, Last      int
}

var serverFields = []string{"name", "url", "startTLS", "caCertificate", "allowUnsafeCerts", "bindAnonymously", "bindDN", "bindPassword",
	"searchFilter", "emailAttribute", "firstNameAttribute", "lastNameAttribute", "timeoutSeconds", "pageSize", "followReferrals",
	"activeScript", "orgNameScript", "roleNameScript", "sensitiveAttributes", "titleAttribute", "departmentAttribute",
	"divisionAttribute", "employeeTypeAttribute", "managerAttribute", "cityAttribute", "stateAttribute", "countryAttribute", "changeTracking"}

// newServerForm makes the page data for srv, with the bind password removed.
func newServerForm(srv ldapauth.Server, isNew bool) *serverForm {
	srv.BindPassword = ""
	return &serverForm{Server: srv, IsNew: isNew, Sensitive: strings.Join(srv.SensitiveAttributes, ", "),
		UsernameAttr: srv.UsernameAttribute(), BaseDN: srv.BaseDN(), DefaultActive: ldapauth.DefaultActiveScript}
}

func (s *Server) consoleNewLDAPServer(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	srv := ldapauth.Server{EmailAttribute: ldapauth.DefaultEmailAttribute, FirstNameAttribute: ldapauth.DefaultFirstNameAttr,
		LastNameAttribute: ldapauth.DefaultLastNameAttr, TimeoutSeconds: ldapauth.DefaultTimeoutSeconds,
		PageSize: ldapauth.DefaultPageSize, ActiveScript: ldapauth.DefaultActiveScript}
	f := newServerForm(srv, true)
	f.EditPassword = true
	s.render(w, r, http.StatusOK, "ldap_server", &view{Title: "Add an LDAP server", Nav: "ldap", Data: f})
}

// serverInput reads the setup form. The bind password is part of the input
// only when the form's password box was opened (or the server is new).
func serverInput(r *http.Request, isNew bool) (ldapauth.ServerInput, ldapauth.Server, error) {
	var shown ldapauth.Server
	str := func(name string, dst *string) *string {
		*dst = r.PostFormValue(name)
		v := *dst
		return &v
	}
	flag := func(name string, dst *bool) *bool {
		*dst = r.PostFormValue(name) != ""
		v := *dst
		return &v
	}
	var in ldapauth.ServerInput
	var firstErr error
	num := func(name string, dst *int) *int {
		raw := strings.TrimSpace(r.PostFormValue(name))
		n, err := strconv.Atoi(raw)
		if err != nil {
			if firstErr == nil {
				firstErr = apperr.Invalid(name, "must be a whole number, not %q", raw)
			}
			return nil
		}
		*dst = n
		return &n
	}
	in.Name = str("name", &shown.Name)
	in.URL = str("url", &shown.URL)
	in.StartTLS = flag("startTLS", &shown.StartTLS)
	in.CACertificate = str("caCertificate", &shown.CACertificate)
	in.AllowUnsafeCerts = flag("allowUnsafeCerts", &shown.AllowUnsafeCerts)
	in.BindAnonymously = flag("bindAnonymously", &shown.BindAnonymously)
	in.BindDN = str("bindDN", &shown.BindDN)
	if isNew || r.PostFormValue("bindPasswordEdit") != "" {
		pw := r.PostFormValue("bindPassword")
		in.BindPassword = &pw
	}
	in.SearchFilter = str("searchFilter", &shown.SearchFilter)
	in.EmailAttribute = str("emailAttribute", &shown.EmailAttribute)
	in.FirstNameAttribute = str("firstNameAttribute", &shown.FirstNameAttribute)
	in.LastNameAttribute = str("lastNameAttribute", &shown.LastNameAttribute)
	in.TimeoutSeconds = num("timeoutSeconds", &shown.TimeoutSeconds)
	in.PageSize = num("pageSize", &shown.PageSize)
	in.FollowReferrals = flag("followReferrals", &shown.FollowReferrals)
	in.ActiveScript = str("activeScript", &shown.ActiveScript)
	in.OrgNameScript = str("orgNameScript", &shown.OrgNameScript)
	in.RoleNameScript = str("roleNameScript", &shown.RoleNameScript)
	if r.PostFormValue("changeTracking") != "" {
		in.ChangeTracking = str("changeTracking", &shown.ChangeTracking)
	}
	sens := []string{}
	for _, a := range strings.FieldsFunc(r.PostFormValue("sensitiveAttributes"), func(c rune) bool { return c == ',' || c == '\n' || c == ' ' || c == '\r' || c == '\t' }) {
		sens = append(sens, a)
	}
	shown.SensitiveAttributes = sens
	in.SensitiveAttributes = &sens
	in.ProfileMappingInput = profileMappingInput(r, &shown.ProfileMapping)
	return in, shown, firstErr
}

func (s *Server) consoleCreateLDAPServer(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	in, shown, err := serverInput(r, true)
	if err == nil && r.PostFormValue("action") == "test" {
		s.draftTestPage(w, r, 0, in, shown, nil)
		return
	}
	var srv ldapauth.Server
	if err == nil {
		srv, err = s.LDAP.Create(r.Context(), in)
	}
	if err != nil {
		f := newServerForm(shown, true)
		f.EditPassword = true
		v := &view{Title: "Add an LDAP server", Nav: "ldap", Data: f}
		s.render(w, r, s.formError(r, v, err, serverFields...), "ldap_server", v)
		return
	}
	s.done(w, r, serverURL(srv.ID), "ok", "LDAP server "+srv.Name+" added. Below: whether it is reachable and bindable, and what its search finds.")
}

func serverURL(id int64) string { return "/settings/ldap/servers/" + strconv.FormatInt(id, 10) }

// previewTimeout bounds the preview's directory search while a page renders.
const previewTimeout = 30 * time.Second

// serverOfPage reads the LDAP server named by a console page's {id},
// answering the error page itself when it cannot.
func (s *Server) serverOfPage(w http.ResponseWriter, r *http.Request) (ldapauth.Server, bool) {
	if s.ldapUnavailable(w, r) {
		return ldapauth.Server{}, false
	}
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return ldapauth.Server{}, false
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return ldapauth.Server{}, false
	}
	return srv, true
}

func (s *Server) consoleLDAPServer(w http.ResponseWriter, r *http.Request) {
	srv, ok := s.serverOfPage(w, r)
	if !ok {
		return
	}
	ctx, id := r.Context(), srv.ID
	q := r.URL.Query()
	f := newServerForm(srv, false)
	f.EditPassword = q.Get("editPassword") != ""
	f.UsedBy = s.serverUsedBy(ctx, id)
	if q.Get("test") != "" {
		tctx, cancel := context.WithTimeout(ctx, previewTimeout)
		res := ldapauth.Test(tctx, srv)
		cancel()
		f.Test = &res
	}
	f.Preview = s.preview(ctx, srv, q.Get("search"), q.Get("page"))
	status := http.StatusOK
	if f.Preview.BadSearch {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "ldap_server", &view{Title: srv.Name, Nav: "ldap", Data: f})
}

// draftTestPage shows the setup form again with the test of its unsaved
// settings (the page's "Test these settings" without JavaScript).
func (s *Server) draftTestPage(w http.ResponseWriter, r *http.Request, id int64, in ldapauth.ServerInput, shown ldapauth.Server, stored *ldapauth.Server) {
	ctx := r.Context()
	isNew := id == 0
	title := "Add an LDAP server"
	if stored != nil {
		title = stored.Name
	}
	f := newServerForm(shown, isNew)
	f.EditPassword = isNew || in.BindPassword != nil
	v := &view{Title: title, Nav: "ldap", Data: f}
	srv, err := s.LDAP.Draft(ctx, id, in)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "bindPassword" {
			f.EditPassword = true
		}
		s.render(w, r, s.formError(r, v, err, serverFields...), "ldap_server", v)
		return
	}
	tctx, cancel := context.WithTimeout(ctx, previewTimeout)
	res := ldapauth.Test(tctx, srv)
	cancel()
	if res.Error != "" {
		res.Error = sentence(res.Error)
	}
	f.Test = &res
	if !isNew {
		f.UsedBy = s.serverUsedBy(ctx, id)
	}
	f.Notice = "Tested, not saved."
	if f.EditPassword {
		f.Notice += " Enter the bind password again before saving: a password is never sent back to the browser."
	}
	s.render(w, r, http.StatusOK, "ldap_server", v)
}

// serverUsedBy names the orgs that use server id (their own setting).
func (s *Server) serverUsedBy(ctx context.Context, id int64) []string {
	rows, err := s.orgTree(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range rows {
		for _, sid := range o.LDAPServerIDs {
			if sid == id {
				out = append(out, o.Name)
			}
		}
	}
	return out
}

// previewPageSize is how many rows the setup page's preview shows.
const previewPageSize = 20

// preview runs the attribute-mapping preview of srv for the page.
func (s *Server) preview(ctx context.Context, srv ldapauth.Server, search, pageRaw string) *previewData {
	p := &previewData{Search: strings.TrimSpace(search), Page: 1}
	if n, err := strconv.Atoi(pageRaw); err == nil && n > 1 && n < 1<<20 {
		p.Page = n
	}
	pctx, cancel := context.WithTimeout(ctx, previewTimeout)
	defer cancel()
	res, err := ldapauth.Preview(pctx, srv, p.Search, p.Page, previewPageSize)
	if err != nil {
		p.Error = errorText(err)
		if e, ok := apperr.As(err); ok && e.Field == "search" {
			p.BadSearch = true
		}
		return p
	}
	p.Result = res
	p.Pages = (res.Total + previewPageSize - 1) / previewPageSize
	if len(res.Entries) > 0 {
		p.First = (p.Page-1)*previewPageSize + 1
		p.Last = p.First + len(res.Entries) - 1
	}
	link := func(page int) string {
		v := url.Values{}
		if p.Search != "" {
			v.Set("search", p.Search)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		u := serverURL(srv.ID)
		if len(v) > 0 {
			u += "?" + v.Encode()
		}
		return u + "#preview"
	}
	if p.Page > 1 {
		p.PrevURL = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.NextURL = link(p.Page + 1)
	}
	return p
}

// errorText is an error's message for a person: a classified error's own
// words, a script error with its position first.
func errorText(err error) string {
	if e, ok := apperr.As(err); ok {
		if e.Line > 0 {
			return fieldMessage(e)
		}
		return sentence(e.Error())
	}
	return sentence(err.Error())
}

func (s *Server) consoleUpdateLDAPServer(w http.ResponseWriter, r *http.Request) {
	stored, ok := s.serverOfPage(w, r)
	if !ok {
		return
	}
	ctx, id := r.Context(), stored.ID
	in, shown, err := serverInput(r, false)
	shown.ID, shown.HasBindPassword = id, stored.HasBindPassword
	if err == nil && r.PostFormValue("action") == "test" {
		s.draftTestPage(w, r, id, in, shown, &stored)
		return
	}
	var srv ldapauth.Server
	if err == nil {
		srv, err = s.LDAP.Update(ctx, id, in)
	}
	if err != nil {
		f := newServerForm(shown, false)
		f.EditPassword = in.BindPassword != nil
		if e, ok := apperr.As(err); ok && e.Field == "bindPassword" {
			f.EditPassword = true
		}
		f.UsedBy = s.serverUsedBy(ctx, id)
		v := &view{Title: stored.Name, Nav: "ldap", Data: f}
		s.render(w, r, s.formError(r, v, err, serverFields...), "ldap_server", v)
		return
	}
	msg := "LDAP server " + srv.Name + " saved."
	if in.BindPassword != nil {
		msg += " The bind password was changed."
	}
	s.done(w, r, serverURL(id), "ok", msg)
}

func (s *Server) consoleDeleteLDAPServer(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err == nil {
		err = s.LDAP.Delete(r.Context(), id)
	}
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, serverURL(id), "error", msg)
		return
	}
	s.done(w, r, "/settings/ldap", "ok", "LDAP server "+srv.Name+" deleted.")
}

// consoleTestLDAPServer answers the reachable, bindable and matches
// indicators as JSON for the setup page's script.
//
// With draft=1 it tests the settings of the posted setup form (unsaved; the
// stored bind password unless the form's password box was opened), on
// /settings/ldap/servers/test those of a new server.
func (s *Server) consoleTestLDAPServer(w http.ResponseWriter, r *http.Request) {
	if s.LDAP == nil {
		s.writeError(w, http.StatusServiceUnavailable, "LDAP is not available on this server", nil)
		return
	}
	var id int64
	if chi.URLParam(r, "id") != "" {
		var ok bool
		if id, ok = s.pathID(w, r, "id"); !ok {
			return
		}
	}
	var (
		srv ldapauth.Server
		err error
	)
	switch {
	case r.PostFormValue("draft") != "":
		var in ldapauth.ServerInput
		if in, _, err = serverInput(r, id == 0); err == nil {
			srv, err = s.LDAP.Draft(r.Context(), id, in)
		}
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
			s.writeJSON(w, http.StatusOK, map[string]any{"reachable": false, "bindable": false, "matches": 0,
				"error": "Not tested: " + strings.TrimSuffix(fieldMessage(e), ".") + " (" + e.Field + ").", "field": e.Field})
			return
		}
	case id == 0:
		err = apperr.Invalid("draft", "send the setup form to test a new server")
	default:
		srv, err = s.LDAP.Get(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	res := ldapauth.Test(ctx, srv)
	if res.Error != "" {
		res.Error = sentence(res.Error)
	}
	s.writeJSON(w, http.StatusOK, res)
}

// scriptCheck is the answer of the script editor's checks.
type scriptCheck struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

var scriptKinds = map[string]string{
	script.FieldActive:   ldapauth.KindActive,
	script.FieldOrgName:  ldapauth.KindOrgName,
	script.FieldRoleName: ldapauth.KindRoleName,
}

// consoleCompileScript compiles a script being edited and says whether it
// compiles, or where and why not ("line L, column C: message").
func (s *Server) consoleCompileScript(w http.ResponseWriter, r *http.Request) {
	field, source := r.PostFormValue("field"), r.PostFormValue("source")
	if _, ok := scriptKinds[field]; !ok {
		s.writeError(w, http.StatusBadRequest, "field: must be activeScript, orgNameScript or roleNameScript", map[string]any{"field": "field"})
		return
	}
	if strings.TrimSpace(source) == "" {
		msg := "No script: no org from the directory (the registration key's organization is used)."
		ok := true
		switch field {
		case script.FieldActive:
			ok, msg = false, "Required. The default is "+ldapauth.DefaultActiveScript
		case script.FieldRoleName:
			msg = "No script: new users get their organization's default roles."
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{OK: ok, Message: msg})
		return
	}
	if _, err := script.Compile(field, source); err != nil {
		e, ok := apperr.As(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: fieldMessage(e), Line: e.Line, Column: e.Column})
		return
	}
	s.writeJSON(w, http.StatusOK, scriptCheck{OK: true, Message: "Compiles."})
}

// consoleTryScript runs the script being edited on one entry of a saved
// server ("try on this entry").
func (s *Server) consoleTryScript(w http.ResponseWriter, r *http.Request) {
	if s.LDAP == nil {
		s.writeError(w, http.StatusServiceUnavailable, "LDAP is not available on this server", nil)
		return
	}
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	field := r.PostFormValue("field")
	kind, ok := scriptKinds[field]
	if !ok {
		s.writeError(w, http.StatusBadRequest, "field: must be activeScript, orgNameScript or roleNameScript", map[string]any{"field": "field"})
		return
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	source, username := r.PostFormValue("source"), strings.TrimSpace(r.PostFormValue("username"))
	if username == "" {
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "Enter a username from the preview to try the script on its entry."})
		return
	}
	if strings.TrimSpace(source) == "" {
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "There is no script to try."})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	res, err := ldapauth.TryScript(ctx, srv, kind, source, "", username)
	if err != nil {
		if _, ok := apperr.As(err); !ok {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: errorText(err)})
		return
	}
	if res.Error != "" {
		msg := res.Error
		if res.Line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d", res.Line)) {
			msg = fmt.Sprintf("line %d, column %d: %s", res.Line, res.Column, msg)
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "On " + res.DN + ": " + msg, Line: res.Line, Column: res.Column})
		return
	}
	s.writeJSON(w, http.StatusOK, scriptCheck{OK: true, Message: "On " + res.DN + " it returns " + describeResult(res.Result) + "."})
}

// describeResult writes a script's result as JavaScript would show it.
func describeResult(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case string:
		if x == "" {
			return `"" (no org)`
		}
		return strconv.Quote(x)
	case []string:
		if len(x) == 0 {
			return "[] (no roles)"
		}
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case nil:
		return "nothing"
	}
	return fmt.Sprint(v)
}
