package ldapauth

import (
	"context"
	"errors"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// TestResult is what the LDAP Server Setup page shows: reachable (TCP and
// the TLS handshake, or StartTLS), bindable (the service bind), matches (the
// entries the sync filter finds) and, when something failed, why.
type TestResult struct {
	Reachable bool   `json:"reachable"`
	Bindable  bool   `json:"bindable"`
	Matches   int    `json:"matches"`
	Error     string `json:"error"`
}

// Test checks srv step by step and reports how far it got; it never fails
// as a call. Matches are counted with a paged search that keeps no entries.
func Test(ctx context.Context, srv Server) TestResult {
	var res TestResult
	c, err := connect(ctx, srv)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer c.Close()
	res.Reachable = true
	if err := c.serviceBind(ctx); err != nil {
		res.Error = err.Error()
		return res
	}
	res.Bindable = true
	n, err := c.Count(ctx)
	res.Matches = n
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// Preview page sizes.
const (
	DefaultPreviewPageSize = 20
	MaxPreviewPageSize     = 200
)

// PreviewEntry is one row of the attribute-mapping preview: one username
// (an entry with several values of the username attribute gives several
// rows) and what each script returns for its entry. Active is nil when the
// active script failed; Errors holds one message per failed script.
type PreviewEntry struct {
	DN        string   `json:"dn"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Active    *bool    `json:"active"`
	OrgName   string   `json:"orgName"`
	Roles     []string `json:"roles"`
	Errors    []string `json:"errors"`
}

// PreviewResult is one page of the preview. Total counts every row (every
// username) that matches, on all pages.
type PreviewResult struct {
	Total    int            `json:"total"`
	Page     int            `json:"page"`
	PageSize int            `json:"pageSize"`
	Entries  []PreviewEntry `json:"entries"`
}

// Preview runs the sync search (narrowed, when search is not empty, to
// usernames containing search, case-insensitively: the directory is asked
// for (attr=*search*), escaped, then each username is checked) and returns
// page (1-based) of pageSize rows (default 20, at most 200), in directory
// order, with the scripts (compiled once per call) run on each shown row.
// The directory is read page by page; only the shown rows are kept.
func Preview(ctx context.Context, srv Server, search string, page, pageSize int) (PreviewResult, error) {
	if err := apperr.CheckText("search", search, MaxSearchLength); err != nil {
		return PreviewResult{Page: page, PageSize: pageSize, Entries: []PreviewEntry{}}, err
	}
	if page < 1 {
		page = 1
	}
	if pageSize < 1 {
		pageSize = DefaultPreviewPageSize
	}
	if pageSize > MaxPreviewPageSize {
		pageSize = MaxPreviewPageSize
	}
	out := PreviewResult{Page: page, PageSize: pageSize, Entries: []PreviewEntry{}}
	set, err := script.CompileSet(srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
	if err != nil {
		return out, err
	}
	search = strings.TrimSpace(search)
	c, err := Dial(ctx, srv)
	if err != nil {
		return out, err
	}
	defer c.Close()
	first := (page - 1) * pageSize
	type shown struct {
		e        *Entry
		p        Person
		username string
	}
	var rows []shown
	needle := strings.ToLower(search)
	err = c.searchPaged(ctx, c.u.baseDN, srv.substringFilter(search), func(entries []*Entry) error {
		for _, e := range entries {
			p := srv.Person(e)
			for _, u := range p.Usernames {
				if needle != "" && !strings.Contains(strings.ToLower(u), needle) {
					continue
				}
				if out.Total >= first && out.Total < first+pageSize {
					rows = append(rows, shown{e: e, p: p, username: u})
				}
				out.Total++
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	shownEntries := make([]*Entry, 0, len(rows))
	for _, r := range rows {
		shownEntries = append(shownEntries, r.e)
	}
	if err := c.applyNested(ctx, shownEntries...); err != nil {
		return out, err
	}
	runner := script.NewRunner(script.DefaultLimit, script.WithSensitive(srv.SensitiveAttributes...))
	for _, r := range rows {
		pe := PreviewEntry{DN: r.e.DN, Username: r.username, Email: r.p.EmailFor(r.username),
			FirstName: r.p.FirstName, LastName: r.p.LastName, Errors: []string{}}
		if active, err := runner.Active(set.Active, r.e.DN, r.e.Attrs); err != nil {
			pe.Errors = append(pe.Errors, err.Error())
		} else {
			pe.Active = &active
		}
		if org, err := runner.OrgName(set.OrgName, r.e.DN, r.e.Attrs); err != nil {
			pe.Errors = append(pe.Errors, err.Error())
		} else {
			pe.OrgName = org
		}
		if roles, err := runner.Roles(set.RoleName, r.e.DN, r.e.Attrs); err != nil {
			pe.Errors = append(pe.Errors, err.Error())
		} else {
			pe.Roles = roles
		}
		if pe.Roles == nil {
			pe.Roles = []string{}
		}
		out.Entries = append(out.Entries, pe)
	}
	return out, nil
}

// Script kinds of TryScript.
const (
	KindActive   = "active"
	KindOrgName  = "orgName"
	KindRoleName = "roleName"
)

// TryResult is what one script returned for one entry ("try on this
// entry"). Result is a bool (active), a string (org name) or a list of
// strings (role name); Error, when not empty, is why the script failed for
// this entry (Line and Column locate it when known).
type TryResult struct {
	DN       string `json:"dn"`
	Username string `json:"username,omitempty"`
	Kind     string `json:"kind"`
	Result   any    `json:"result"`
	Error    string `json:"error"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
}

// TryScript compiles source as a script of kind (KindActive, KindOrgName or
// KindRoleName) and runs it on one entry of srv: the entry at dn, or the one
// entry of username (found with the search filter). A script that does not
// compile is an *apperr.Error with Field, Line and Column; a script that
// fails on the entry is reported in TryResult.Error.
func TryScript(ctx context.Context, srv Server, kind, source, dn, username string) (TryResult, error) {
	res := TryResult{Kind: kind}
	field := map[string]string{KindActive: script.FieldActive, KindOrgName: script.FieldOrgName, KindRoleName: script.FieldRoleName}[kind]
	if field == "" {
		return res, apperr.Invalid("kind", "must be %q, %q or %q, not %q", KindActive, KindOrgName, KindRoleName, kind)
	}
	prog, err := script.Compile(field, source)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
			// Name the field of this request, keep line and column.
			e2 := *e
			e2.Field = "script"
			return res, &e2
		}
		return res, err
	}
	dn, username = strings.TrimSpace(dn), strings.TrimSpace(username)
	if err := apperr.CheckLine("dn", dn, MaxDNLength); err != nil {
		return res, err
	}
	if err := apperr.CheckLine("username", username, MaxUsernameLength); err != nil {
		return res, err
	}
	if (dn == "") == (username == "") {
		return res, apperr.Invalid("dn", "give either dn or username (the entry to try the script on)")
	}
	if dn != "" {
		if _, err := ldap.ParseDN(dn); err != nil {
			return res, apperr.Invalid("dn", "is not a DN (%v)", err)
		}
	}
	c, err := Dial(ctx, srv)
	if err != nil {
		return res, err
	}
	defer c.Close()
	var e *Entry
	if dn != "" {
		e, err = c.readEntry(ctx, dn)
		if err != nil {
			return res, err
		}
	} else {
		found, err := c.FindUsers(ctx, username)
		if err != nil {
			return res, err
		}
		switch len(found) {
		case 0:
			return res, apperr.NotFound("no entry for username %q with the search filter of %s", username, srv.URL)
		case 1:
			e = found[0]
		default:
			return res, apperr.Invalid("username", "%q matches %d entries: give the dn instead", username, len(found))
		}
		res.Username = username
	}
	res.DN = e.DN
	if err := c.applyNested(ctx, e); err != nil {
		return res, err
	}
	runner := script.NewRunner(script.DefaultLimit, script.WithSensitive(srv.SensitiveAttributes...))
	var v any
	switch kind {
	case KindActive:
		v, err = runner.Active(prog, e.DN, e.Attrs)
	case KindOrgName:
		v, err = runner.OrgName(prog, e.DN, e.Attrs)
	case KindRoleName:
		var roles []string
		roles, err = runner.Roles(prog, e.DN, e.Attrs)
		if roles == nil {
			roles = []string{}
		}
		v = roles
	}
	if err != nil {
		res.Error = err.Error()
		var re *script.RunError
		if errors.As(err, &re) {
			res.Line, res.Column = re.Line, re.Column
		}
		return res, nil
	}
	res.Result = v
	return res, nil
}

// readEntry reads the entry at dn (a base-scope search). A missing entry is
// an apperr NotFound error.
func (c *Conn) readEntry(ctx context.Context, dn string) (*Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(c.timeout.Seconds()), false,
		"(objectClass=*)", everyAttribute(c.srv), nil)
	var res *ldap.SearchResult
	err := c.op(ctx, func() (err error) {
		res, err = c.l.Search(req)
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
		return nil, apperr.NotFound("no entry %q on %s", dn, c.srv.URL)
	}
	if err != nil {
		return nil, apperr.Unavailable(err, "ldapauth: read %s from %s", dn, c.srv.URL)
	}
	return decodeEntry(res.Entries[0], c.srv.SensitiveAttributes), nil
}
