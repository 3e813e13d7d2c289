package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	credTokenRE    = regexp.MustCompile(`id="credential-token">([^<]+)<`)
	credUserRE     = regexp.MustCompile(`id="credential-username">([^<]+)<`)
	credPasswordRE = regexp.MustCompile(`id="credential-password">([^<]+)<`)
)

// scimPost POSTs a SCIM resource with a bearer token and returns the status.
func scimPost(t *testing.T, base, path, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// createProviderPage adds a provider through the console form and returns
// the answer (the one page with the credentials).
func (e *consoleEnv) createProvider(form url.Values) (int, http.Header, string) {
	e.t.Helper()
	e.follow("/settings/provisioning")
	form.Set("csrf_token", e.csrf)
	req, _ := http.NewRequest("POST", e.srv.URL+"/settings/provisioning", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(b); m != nil {
		e.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header, string(b)
}

type matchFunc func(string) bool

func (f matchFunc) MatchString(s string) bool { return f(s) }

// The credentials are on the page that answers the POST that made them,
// and on no other page, redirect or log line.
func TestConsoleProvisioningCredentialsShownOnce(t *testing.T) {
	e := startConsole(t)
	root, err := e.app.Orgs.EnsureRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.signIn()
	rootID := strconv.FormatInt(root.ID, 10)

	code, h, body := e.createProvider(url.Values{"name": {"Entra"}, "credentialType": {"token"}, "orgMethod": {"single"},
		"orgId": {rootID}, "deactivationDelay": {"15m"}})
	if code != http.StatusOK || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d, Cache-Control %q\n%s", code, h.Get("Cache-Control"), body)
	}
	m := credTokenRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "not shown again") || !strings.Contains(body, "/scim/v2") {
		t.Fatalf("the credentials page shows no token, warning or base URL:\n%s", body)
	}
	token := m[1]
	code, h, body = e.createProvider(url.Values{"name": {"Sync tool"}, "credentialType": {"basic"}, "orgMethod": {"attribute"},
		"orgId": {rootID}, "deactivationDelay": {"0s"}})
	mu, mp := credUserRE.FindStringSubmatch(body), credPasswordRE.FindStringSubmatch(body)
	if code != http.StatusOK || h.Get("Cache-Control") != "no-store" || mu == nil || mp == nil {
		t.Fatalf("create basic: %d\n%s", code, body)
	}
	password := mp[1]
	secrets := []string{token, password}

	// The token works; its user's creation is in the provider's log.
	if code := scimPost(t, e.srv.URL, "/Users", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@acme.test","active":true}`); code != http.StatusCreated {
		t.Fatalf("SCIM create with the shown token: %d", code)
	}
	list, _ := e.app.Prov.List(context.Background())
	if len(list) != 2 {
		t.Fatalf("providers: %+v", list)
	}
	entra, tool := "/settings/provisioning/"+strconv.FormatInt(list[0].ID, 10), "/settings/provisioning/"+strconv.FormatInt(list[1].ID, 10)
	if body := e.follow(entra); !strings.Contains(body, "ann@acme.test") {
		t.Fatalf("the sync log does not list the created user:\n%s", body)
	}

	// Every redirect and page after that: no secret.
	var locations []string
	e.follow(entra)
	_, loc, _ := e.post(entra+"/apply", nil, false)
	locations = append(locations, loc)
	_, loc, _ = e.post(entra, url.Values{"name": {"Entra ID"}, "orgMethod": {"single"}, "orgId": {rootID}, "roleMethod": {"manual"}, "deactivationDelay": {"1h"}}, false)
	locations = append(locations, loc)
	// Regenerate without the confirmation does nothing.
	_, loc, _ = e.post(tool+"/credentials", nil, false)
	locations = append(locations, loc)
	pages := []string{"/settings/provisioning", entra, tool, entra + "?page=2", "/settings/audit", "/users", "/orgs"}
	for _, l := range locations {
		if l == "" {
			t.Fatalf("no redirect: %q", locations)
		}
		pages = append(pages, l)
	}
	for _, p := range pages {
		body := e.follow(p)
		for _, sec := range secrets {
			if strings.Contains(body, sec) {
				t.Errorf("GET %s shows a credential", p)
			}
		}
	}
	for _, l := range locations {
		for _, sec := range secrets {
			if strings.Contains(l, sec) {
				t.Errorf("redirect %q carries a credential", l)
			}
		}
	}
	if !strings.Contains(e.follow(entra), "Entra ID") {
		t.Fatal("the rename was not saved")
	}
	// The old basic password still works (regenerate was not confirmed).
	got, err := e.app.Prov.Authenticate(context.Background(), "", mu[1], password)
	if err != nil || got.ID != list[1].ID {
		t.Fatalf("unconfirmed regenerate changed the credentials: %v", err)
	}
	// Confirmed: new credentials on the answer, the old ones stop working.
	e.follow(entra)
	code, _, body = e.post(entra+"/credentials", url.Values{"confirm": {"yes"}}, false)
	m = credTokenRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil || m[1] == token {
		t.Fatalf("regenerate: %d\n%s", code, body)
	}
	if code := scimPost(t, e.srv.URL, "/Users", token, `{"userName":"bob@acme.test"}`); code != http.StatusUnauthorized {
		t.Fatalf("the old token after regenerating: %d", code)
	}
	secrets = append(secrets, m[1])
	for _, p := range []string{entra, "/settings/provisioning", "/settings/audit"} {
		body := e.follow(p)
		for _, sec := range secrets {
			if strings.Contains(body, sec) {
				t.Errorf("GET %s shows a credential", p)
			}
		}
	}
	// Nor the server log.
	raw, err := os.ReadFile(filepath.Join(e.app.Config.DataDir, "logs", "authority.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		if strings.Contains(string(raw), sec) {
			t.Errorf("the server log holds a credential")
		}
	}
}

// Hostile input on the provider forms is a form error next to its field,
// never a 500.
func TestConsoleProvisioningFormErrors(t *testing.T) {
	e := startConsole(t)
	root, err := e.app.Orgs.EnsureRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.signIn()
	rootID := strconv.FormatInt(root.ID, 10)
	good := func() url.Values {
		return url.Values{"name": {"Okta"}, "credentialType": {"token"}, "orgMethod": {"single"}, "orgId": {rootID}, "deactivationDelay": {"15m"}}
	}
	// fieldErr reports whether the first field error after the field's
	// mark in body says want.
	fieldErr := func(field, want string) interface{ MatchString(string) bool } {
		return matchFunc(func(body string) bool {
			i := strings.Index(body, field)
			if i < 0 {
				return false
			}
			rest := body[i:]
			j := strings.Index(rest, `class="field-error"`)
			if j < 0 {
				return false
			}
			msg, _, _ := strings.Cut(rest[j:], "</span>")
			return strings.Contains(strings.ToLower(msg), strings.ToLower(want))
		})
	}
	type bad struct {
		name  string
		set   func(url.Values)
		field string
		want  string
	}
	createCases := []bad{
		{"over-long name", func(v url.Values) { v.Set("name", strings.Repeat("n", 5000)) }, `id="name"`, "too long"},
		{"empty name", func(v url.Values) { v.Set("name", " ") }, `id="name"`, "required"},
		{"control characters", func(v url.Values) { v.Set("name", "a\tb") }, `id="name"`, "control characters"},
		{"unknown org", func(v url.Values) { v.Set("orgId", "987654") }, `id="orgId"`, "does not exist"},
		{"org not a number", func(v url.Values) { v.Set("orgId", "1e99") }, `id="orgId"`, "Choose an organization"},
		{"credential type", func(v url.Values) { v.Set("credentialType", "ldap") }, `Credentials`, "must be"},
		{"method", func(v url.Values) { v.Set("orgMethod", "<script>") }, `id="orgMethod"`, "must be"},
		{"delay", func(v url.Values) { v.Set("deactivationDelay", "forever") }, `id="deactivationDelay"`, "is not a duration"},
		{"negative delay", func(v url.Values) { v.Set("deactivationDelay", "-5m") }, `id="deactivationDelay"`, "between"},
	}
	for _, c := range createCases {
		v := good()
		c.set(v)
		code, _, body := e.createProvider(v)
		if code != http.StatusBadRequest || !fieldErr(c.field, c.want).MatchString(body) {
			t.Errorf("create with %s: %d, want 400 and %q next to %s\n%s", c.name, code, c.want, c.field, body)
		}
		if strings.Contains(body, "credential-token") {
			t.Errorf("create with %s made credentials", c.name)
		}
	}
	if list, _ := e.app.Prov.List(context.Background()); len(list) != 0 {
		t.Fatalf("bad input made providers: %+v", list)
	}

	code, _, body := e.createProvider(good())
	if code != http.StatusOK {
		t.Fatalf("create: %d\n%s", code, body)
	}
	list, _ := e.app.Prov.List(context.Background())
	page := "/settings/provisioning/" + strconv.FormatInt(list[0].ID, 10)
	edit := func() url.Values {
		return url.Values{"name": {"Okta"}, "orgMethod": {"groups"}, "orgId": {rootID}, "roleMethod": {"groups"}, "deactivationDelay": {"15m"},
			"ogRows": {"1"}, "og.0.groupId": {"7"}, "og.0.orgId": {rootID}, "og.0.priority": {"1"},
			"rgRows": {"1"}, "rg.0.groupId": {"7"}, "rg.0.roles": {"Org Manager"}}
	}
	updateCases := []bad{
		{"over-long name", func(v url.Values) { v.Set("name", strings.Repeat("é", 201)) }, `id="name"`, "too long"},
		{"unknown org", func(v url.Values) { v.Set("orgId", "987654") }, `id="orgId"`, "does not exist"},
		{"unknown group org", func(v url.Values) { v.Set("og.0.orgId", "987654") }, `id="org-groups"`, "does not exist"},
		{"bad priority", func(v url.Values) { v.Set("og.0.priority", "first") }, `id="org-groups"`, "priority must be"},
		{"SYSADMIN", func(v url.Values) { v.Add("rg.0.roles", "SYSADMIN") }, `id="role-groups"`, "SYSADMIN rules the server"},
		{"sysadmin", func(v url.Values) { v.Set("rg.0.roles", "sysadmin") }, `id="role-groups"`, "SYSADMIN rules the server"},
		{"unknown role", func(v url.Values) { v.Set("rg.0.roles", "Emperor") }, `id="role-groups"`, "Emperor"},
		{"role method", func(v url.Values) { v.Set("roleMethod", "all") }, `id="roleMethod"`, "must be"},
		{"delay over a year", func(v url.Values) { v.Set("deactivationDelay", "9000h") }, `id="deactivationDelay"`, "between"},
		{"huge row count", func(v url.Values) { v.Set("ogRows", "999999999999"); v.Set("og.0.orgId", "x") }, `id="org-groups"`, "Choose an organization"},
	}
	for _, c := range updateCases {
		e.follow(page)
		v := edit()
		c.set(v)
		code, _, body := e.post(page, v, false)
		if code != http.StatusBadRequest || !fieldErr(c.field, c.want).MatchString(body) {
			t.Errorf("update with %s: %d, want 400 and %q in %s\n%s", c.name, code, c.want, c.field, body)
		}
	}
	// The good edit saves; the row shows again.
	e.follow(page)
	code, loc, body := e.post(page, edit(), false)
	if code != http.StatusSeeOther || loc != page {
		t.Fatalf("save: %d %q\n%s", code, loc, body)
	}
	body = e.follow(page)
	if !strings.Contains(body, `name="og.0.groupId" id="og-0-groupId" value="7"`) || !strings.Contains(body, "no group of this provider has this id") {
		t.Fatalf("the saved group row is not shown:\n%s", body)
	}
	// "Add a row" saves nothing and shows one more empty row.
	v := edit()
	v.Set("addRow", "org")
	v.Set("name", "Not saved")
	code, _, body = e.post(page, v, false)
	if code != http.StatusOK || !strings.Contains(body, `name="og.2.groupId"`) || strings.Contains(e.follow(page), "Not saved") {
		t.Fatalf("add a row: %d\n%s", code, body)
	}
	// Paths that are not providers.
	for _, p := range []string{"/settings/provisioning/0", "/settings/provisioning/x", "/settings/provisioning/99999", "/settings/provisioning/99999999999999999999"} {
		if code, _, _ := e.get(p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	e.follow(page)
	if code, _, _ := e.post("/settings/provisioning/99999/delete", url.Values{"confirm": {"yes"}}, false); code != http.StatusNotFound {
		t.Errorf("delete of no provider: %d, want 404", code)
	}
	// Without the CSRF token: refused.
	if code, _, _ := e.post(page+"/delete", url.Values{"confirm": {"yes"}}, true); code != http.StatusForbidden {
		t.Errorf("delete without the CSRF token: %d, want 403", code)
	}
	if list, _ := e.app.Prov.List(context.Background()); len(list) != 1 {
		t.Fatal("the provider went without a CSRF token")
	}
}
