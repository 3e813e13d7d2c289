package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
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
	"divisionAttribute", "employeeTypeAttribute", "managerAttribute", "cityAttribute", "stateAttribute", "countryAttribute", "changeTracking",
	"stableIdAttribute", "nestedGroups"}

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
	if r.PostFormValue("stableIdAttribute") != "" {
		in.StableIDAttribute = str("stableIdAttribute", &shown.StableIDAttribute)
	}
	in.NestedGroups = flag("nestedGroups", &shown.NestedGroups)
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
