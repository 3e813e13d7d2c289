package scimapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/users"
)

// client is a SCIM client of one provider.
type client struct {
	t     *testing.T
	env   *authoritytest.Env
	token string
	basic [2]string
}

func (c *client) do(method, path string, body any, out any, header ...string) int {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, c.env.Server.URL+"/scim/v2"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if c.basic[0] != "" {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.env.Server.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		c.t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

type provider struct {
	ID       int64  `json:"id"`
	BaseURL  string `json:"baseUrl"`
	Token    string `json:"token"`
	Username string `json:"username"`
	Password string `json:"password"`
}

func newProvider(t *testing.T, env *authoritytest.Env, body map[string]any) (provider, *client) {
	t.Helper()
	var p provider
	if code := env.Do("POST", "/api/v1/provisioning/providers", body, &p); code != 201 {
		t.Fatalf("create provider: %d %+v", code, p)
	}
	c := &client{t: t, env: env, token: p.Token}
	if p.Token == "" {
		c.basic = [2]string{p.Username, p.Password}
	}
	return p, c
}

type listResponse struct {
	TotalResults int              `json:"totalResults"`
	Resources    []map[string]any `json:"Resources"`
}

func rootOrg(t *testing.T, env *authoritytest.Env) int64 {
	o, err := env.App.Orgs.EnsureRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// Entra ID's provisioning cycle as its documentation shows the requests:
// look the user up, create it, update it with Entra's quirks, disable it,
// and the lifecycle that follows.
func TestEntraIDUserLifecycle(t *testing.T) {
	env := authoritytest.Start(t)
	root := rootOrg(t, env)
	p, c := newProvider(t, env, map[string]any{"name": "Entra", "credentialType": "token", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	if !strings.HasSuffix(p.BaseURL, "/scim/v2") || p.Token == "" {
		t.Fatalf("provider %+v", p)
	}
	var got provider
	env.Do("GET", fmt.Sprintf("/api/v1/provisioning/providers/%d", p.ID), nil, &got)
	if got.Token != "" {
		t.Fatalf("the token is shown again: %+v", got)
	}

	var list listResponse
	if code := c.do("GET", `/Users?filter=userName+eq+%22Test_User_dfeef4c5%22`, nil, &list); code != 200 || list.TotalResults != 0 {
		t.Fatalf("lookup: %d %+v", code, list)
	}
	create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,
		"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
		"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
		"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`
	var u map[string]any
	if code := c.do("POST", "/Users", create, &u); code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id, _ := u["id"].(string)
	if u["active"] != true || u["userName"] != "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1" {
		t.Fatalf("created %v", u)
	}
	if code := c.do("POST", "/Users", create, &u); code != 409 || u["scimType"] != "uniqueness" {
		t.Fatalf("duplicate: %d %v", code, u)
	}
	// Entra ID: capitalised ops, a path-less replace with dotted and URN keys.
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
		{"op":"Replace","value":{"name.familyName":"updatedFamilyName","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Marketing","title":"Engineer"}},
		{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Lyon"}]}`
	if code := c.do("PATCH", "/Users/"+id, patch, &u); code != 200 {
		t.Fatalf("patch: %d %v", code, u)
	}
	var user users.User
	uid := mustInt(t, id)
	env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user)
	if user.Email != "updatedEmail@microsoft.com" || user.LastName != "updatedFamilyName" || user.FirstName != "givenName" {
		t.Fatalf("after patch: %+v", user)
	}
	prov, err := users.GetProvisioned(context.Background(), env.App.DB, p.ID, uid)
	if err != nil || prov.Department != "Marketing" || prov.Title != "Engineer" || prov.City != "Lyon" {
		t.Fatalf("profile after patch: %+v %v", prov, err)
	}
	// Disable with a string boolean: blocked at once.
	disable := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
	if code := c.do("PATCH", "/Users/"+id, disable, &u); code != 200 || u["active"] != false {
		t.Fatalf("disable: %d %v", code, u)
	}
	env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user)
	if user.Status != users.StatusBlocked || user.StatusReason != users.ReasonProvisioning {
		t.Fatalf("after disable: %s %s", user.Status, user.StatusReason)
	}
	// Within the delay, active again: unblocked, nothing else.
	enable := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"active","value":"True"}]}`
	if code := c.do("PATCH", "/Users/"+id, enable, &u); code != 200 || u["active"] != true {
		t.Fatalf("enable: %d %v", code, u)
	}
	env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user)
	if user.Status != users.StatusActive {
		t.Fatalf("after enable: %s", user.Status)
	}
	// Disabled again, and the delay passes: deactivated.
	c.do("PATCH", "/Users/"+id, disable, nil)
	env.Clock.Advance(14 * time.Minute)
	if n, err := env.App.Prov.RunDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("before the delay: %d %v", n, err)
	}
	env.Advance(2 * time.Minute)
	if n, err := env.App.Prov.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("after the delay: %d %v", n, err)
	}
	env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user)
	if user.Status != users.StatusDeactivated || user.StatusReason != users.ReasonProvisioning {
		t.Fatalf("after the delay: %s %s", user.Status, user.StatusReason)
	}
	// Active again later: reactivated.
	c.do("PATCH", "/Users/"+id, enable, nil)
	env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user)
	if user.Status != users.StatusActive {
		t.Fatalf("reactivated: %s", user.Status)
	}
	// DELETE: gone for the provider (404), kept in the authority.
	if code := c.do("DELETE", "/Users/"+id, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := c.do("GET", "/Users/"+id, nil, nil); code != 404 {
		t.Fatalf("get deleted: %d", code)
	}
	if code := env.Do("GET", fmt.Sprintf("/api/v1/users/%d", uid), nil, &user); code != 200 || user.Status != users.StatusBlocked {
		t.Fatalf("deleted user in the authority: %d %s", code, user.Status)
	}
	// A POST of the same userName brings it back.
	if code := c.do("POST", "/Users", create, &u); code != 201 || u["id"] != id {
		t.Fatalf("restore: %d %v (want id %s)", code, u, id)
	}

	var logPage struct {
		Total   int
		Entries []struct{ Line string }
	}
	env.Do("GET", fmt.Sprintf("/api/v1/provisioning/providers/%d/log", p.ID), nil, &logPage)
	if logPage.Total < 6 {
		t.Fatalf("sync log: %+v", logPage)
	}
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

// Groups: Entra ID's member removal with a value removes those members
// only; the role mapping follows membership at once.
func TestGroupsAndRoleMapping(t *testing.T) {
	env := authoritytest.Start(t)
	root := rootOrg(t, env)
	_, c := newProvider(t, env, map[string]any{"name": "Okta", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	var ids []string
	for _, n := range []string{"ann", "ben", "cid"} {
		var u map[string]any
		if code := c.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": n + "@acme.test", "active": true}, &u); code != 201 {
			t.Fatalf("create %s: %d %v", n, code, u)
		}
		ids = append(ids, u["id"].(string))
	}
	var g map[string]any
	members := []map[string]string{{"value": ids[0]}, {"value": ids[1]}, {"value": ids[2]}}
	if code := c.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineering", "members": members}, &g); code != 201 {
		t.Fatalf("group: %d %v", code, g)
	}
	gid := g["id"].(string)
	// The mapping: members of Engineering get Org Manager.
	var p provider
	var all []provider
	env.Do("GET", "/api/v1/provisioning/providers", nil, &all)
	p = all[0]
	if code := env.Do("PATCH", fmt.Sprintf("/api/v1/provisioning/providers/%d", p.ID), map[string]any{"roleMapping": map[string]any{"method": "groups", "groups": []map[string]any{{"groupId": gid, "roles": []string{"Org Manager"}}}}}, nil); code != 200 {
		t.Fatalf("role mapping: %d", code)
	}
	var applied map[string]int
	env.Do("POST", fmt.Sprintf("/api/v1/provisioning/providers/%d/apply", p.ID), nil, &applied)
	if applied["users"] != 3 {
		t.Fatalf("apply: %v", applied)
	}
	if r := rolesOf(t, env, ids[0]); !contains(r, "Org Manager") {
		t.Fatalf("roles after apply: %v", r)
	}
	remove := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"%s"}]}]}`, ids[0])
	if code := c.do("PATCH", "/Groups/"+gid, remove, &g); code != 200 {
		t.Fatalf("remove member: %d %v", code, g)
	}
	if ms, _ := g["members"].([]any); len(ms) != 2 {
		t.Fatalf("members after removing one: %v", g["members"])
	}
	if r := rolesOf(t, env, ids[0]); contains(r, "Org Manager") || !contains(r, "Desktop User") {
		t.Fatalf("roles of the removed member: %v", r)
	}
	// Okta's filtered remove.
	okta := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, ids[1])
	if code := c.do("PATCH", "/Groups/"+gid, okta, &g); code != 200 {
		t.Fatalf("okta remove: %d %v", code, g)
	}
	if ms, _ := g["members"].([]any); len(ms) != 1 {
		t.Fatalf("members after okta remove: %v", g["members"])
	}
}

func rolesOf(t *testing.T, env *authoritytest.Env, id string) []string {
	var u users.User
	env.Do("GET", "/api/v1/users/"+id, nil, &u)
	return u.Roles
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A provider sees only its own users; bad credentials, bad filters and
// big bodies are SCIM 4xx answers.
func TestIsolationAndErrors(t *testing.T) {
	env := authoritytest.Start(t)
	root := rootOrg(t, env)
	_, a := newProvider(t, env, map[string]any{"name": "A", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	_, b := newProvider(t, env, map[string]any{"name": "B", "credentialType": "basic", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	var u map[string]any
	if code := a.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "shared"}, &u); code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	if code := b.do("GET", "/Users/"+u["id"].(string), nil, nil); code != 404 {
		t.Fatalf("B reads A's user: %d", code)
	}
	if code := b.do("GET", "/Users/1", nil, nil); code != 404 { // the administrator, a local user
		t.Fatalf("B reads a local user: %d", code)
	}
	var e map[string]any
	if code := b.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "SHARED"}, &e); code != 409 || e["scimType"] != "uniqueness" {
		t.Fatalf("B takes A's username: %d %v", code, e)
	}
	if code := b.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "admin"}, &e); code != 409 {
		t.Fatalf("B takes the admin's username: %d %v", code, e)
	}
	bad := &client{t: t, env: env, token: "nope"}
	if code := bad.do("GET", "/Users", nil, &e); code != 401 || e["status"] != "401" {
		t.Fatalf("bad token: %d %v", code, e)
	}
	if code := a.do("GET", "/Users?filter=userName+eq", nil, &e); code != 400 || e["scimType"] != "invalidFilter" {
		t.Fatalf("bad filter: %d %v", code, e)
	}
	big := `{"userName":"` + strings.Repeat("x", 1<<20) + `"}`
	if code := a.do("POST", "/Users", big, nil); code != 413 {
		t.Fatalf("big body: %d", code)
	}
	if code := a.do("PATCH", "/Users/"+u["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"False"}]}`, nil, "If-Match", `W/"stale"`); code != 412 {
		t.Fatalf("stale If-Match: %d", code)
	}
	var list listResponse
	if code := a.do("GET", `/Users?filter=userName+sw+%22sh%22&attributes=userName`, nil, &list); code != 200 || list.TotalResults != 1 || list.Resources[0]["active"] != nil {
		t.Fatalf("filter sw with attributes: %d %+v", code, list)
	}
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas"} {
		if code := a.do("GET", path, nil, nil); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
	}
}

// RFC 7643 3.1 and RFC 7644 3.4.2: meta.location and Location are the
// resource's URL, itemsPerPage is the number of resources in the page, and
// the authentication schemes name their specifications.
func TestLocationsAndItemsPerPage(t *testing.T) {
	env := authoritytest.Start(t)
	_, c := newProvider(t, env, map[string]any{"name": "A", "orgMapping": map[string]any{"method": "single", "orgId": rootOrg(t, env)}})
	req, _ := http.NewRequest("POST", env.Server.URL+"/scim/v2/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"loc"}`))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u map[string]any
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	want := env.Server.URL + "/scim/v2/Users/" + u["id"].(string)
	if loc := resp.Header.Get("Location"); loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	if meta, _ := u["meta"].(map[string]any); meta["location"] != want {
		t.Errorf("meta.location %v, want %q", meta["location"], want)
	}
	var list map[string]any
	c.do("GET", "/Users?filter=userName+eq+%22loc%22", nil, &list)
	if list["itemsPerPage"] != float64(1) {
		t.Errorf("itemsPerPage %v with one resource", list["itemsPerPage"])
	}
	if r, _ := list["Resources"].([]any); len(r) != 1 || r[0].(map[string]any)["meta"].(map[string]any)["location"] != want {
		t.Errorf("list %v", list)
	}
	c.do("GET", "/Users?filter=userName+eq+%22none%22", nil, &list)
	if list["itemsPerPage"] != float64(0) {
		t.Errorf("itemsPerPage %v with no resource", list["itemsPerPage"])
	}
	var spc map[string]any
	c.do("GET", "/ServiceProviderConfig", nil, &spc)
	for _, s := range spc["authenticationSchemes"].([]any) {
		if m := s.(map[string]any); m["specUri"] == "" || m["documentationUri"] == "" {
			t.Errorf("authentication scheme without URIs: %v", m)
		}
	}
}

// A body that is not exactly one JSON value in UTF-8 is invalidSyntax
// (elimity ignored what followed the first value; encoding/json turned
// invalid UTF-8 into U+FFFD and the user was created with that name); a
// filter comparing meta dates with a non-date is invalidFilter; groups
// filter on meta.lastModified like users.
func TestSyntaxEncodingAndDateFilters(t *testing.T) {
	env := authoritytest.Start(t)
	_, c := newProvider(t, env, map[string]any{"name": "A", "orgMapping": map[string]any{"method": "single", "orgId": rootOrg(t, env)}})
	var e map[string]any
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve"}}`,
		"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"ev\xffe\"}",
	} {
		if code := c.do("POST", "/Users", body, &e); code != 400 || e["scimType"] != "invalidSyntax" {
			t.Errorf("%q: %d %v", body, code, e)
		}
	}
	var list listResponse
	if code := c.do("GET", "/Users", nil, &list); code != 200 || list.TotalResults != 0 {
		t.Fatalf("users created: %d %+v", code, list)
	}
	if code := c.do("GET", `/Users?filter=meta.lastModified+gt+%22yesterday%22`, nil, &e); code != 400 || e["scimType"] != "invalidFilter" {
		t.Errorf("bad date: %d %v", code, e)
	}
	c.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "G"}, nil)
	if code := c.do("GET", `/Groups?filter=meta.lastModified+ge+%222000-01-01T00:00:00Z%22`, nil, &list); code != 200 || list.TotalResults != 1 {
		t.Errorf("groups by meta.lastModified: %d %+v", code, list)
	}
}
