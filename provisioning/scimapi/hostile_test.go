package scimapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
)

// TestHostileInput sends bad SCIM requests: every answer is a SCIM error
// (4xx, the Error schema, its status the HTTP status), never 500, and
// nothing changes, for this provider or anyone else.
func TestHostileInput(t *testing.T) {
	env := authoritytest.Start(t)
	root := rootOrg(t, env)
	_, a := newProvider(t, env, map[string]any{"name": "A", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	_, b := newProvider(t, env, map[string]any{"name": "B", "orgMapping": map[string]any{"method": "single", "orgId": root}})
	var u, v, other, g, og map[string]any
	core := "urn:ietf:params:scim:schemas:core:2.0:User"
	if code := a.do("POST", "/Users", map[string]any{"schemas": []string{core}, "userName": "alice", "emails": []map[string]any{{"value": "alice@acme.test", "type": "work"}}}, &u); code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	if code := a.do("POST", "/Users", map[string]any{"schemas": []string{core}, "userName": "bob"}, &v); code != 201 {
		t.Fatalf("create: %d %v", code, v)
	}
	if code := b.do("POST", "/Users", map[string]any{"schemas": []string{core}, "userName": "mallory"}, &other); code != 201 {
		t.Fatalf("create: %d %v", code, other)
	}
	group := "urn:ietf:params:scim:schemas:core:2.0:Group"
	if code := a.do("POST", "/Groups", map[string]any{"schemas": []string{group}, "displayName": "Staff", "members": []map[string]string{{"value": u["id"].(string)}}}, &g); code != 201 {
		t.Fatalf("group: %d %v", code, g)
	}
	if code := b.do("POST", "/Groups", map[string]any{"schemas": []string{group}, "displayName": "B staff"}, &og); code != 201 {
		t.Fatalf("group: %d %v", code, og)
	}
	uid, vid, oid, gid, ogid := u["id"].(string), v["id"].(string), other["id"].(string), g["id"].(string), og["id"].(string)

	snapshot := func() string {
		var buf bytes.Buffer
		for _, c := range []*client{a, b} {
			for _, p := range []string{"/Users?count=1000", "/Groups?count=1000"} {
				code, raw := rawSCIM(t, c, "GET", p, "")
				fmt.Fprintf(&buf, "%d %s\n", code, raw)
			}
		}
		_, raw := env.Raw(env.Token, "GET", "/api/v1/users", nil)
		buf.Write(raw)
		return buf.String()
	}
	before := snapshot()

	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	user := func(extra string) string {
		return `{"schemas":["` + core + `"],` + extra + `}`
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	manyMembers := make([]string, 0, 60000)
	for i := 0; i < 60000; i++ {
		manyMembers = append(manyMembers, `{"value":"`+oid+`"}`)
	}
	huge := strings.Repeat(`userName eq "x" or `, 5000) + `userName eq "y"`
	nested := strings.Repeat("(", 5000) + `userName eq "x"` + strings.Repeat(")", 5000)

	cases := []struct {
		name, method, path, body string
		want                     int // 0: any 4xx
	}{
		// Malformed JSON and wrong shapes.
		{"truncated JSON", "POST", "/Users", `{"userName":`, 400},
		{"not an object", "POST", "/Users", `[]`, 400},
		{"a string", "POST", "/Users", `"alice"`, 400},
		{"null", "POST", "/Users", `null`, 400},
		{"empty body", "POST", "/Users", ``, 400},
		{"trailing garbage", "POST", "/Users", user(`"userName":"eve"`) + `}}`, 400},
		{"deeply nested JSON", "POST", "/Users", user(`"userName":"eve","name":` + deep), 400},
		{"deeply nested PATCH value", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"title","value":` + deep + `}`), 400},
		{"invalid UTF-8", "POST", "/Users", "{\"schemas\":[\"" + core + "\"],\"userName\":\"ev\xff\xfee\"}", 400},
		// Wrong types.
		{"userName a number", "POST", "/Users", user(`"userName":123`), 400},
		{"userName a list", "POST", "/Users", user(`"userName":["eve"]`), 400},
		{"userName null", "POST", "/Users", user(`"userName":null`), 400},
		{"userName empty", "POST", "/Users", user(`"userName":""`), 400},
		{"userName blank", "POST", "/Users", user(`"userName":"   "`), 400},
		{"active not a boolean", "POST", "/Users", user(`"userName":"eve","active":"maybe"`), 400},
		{"emails a string", "POST", "/Users", user(`"userName":"eve","emails":"eve@acme.test"`), 400},
		{"emails of numbers", "POST", "/Users", user(`"userName":"eve","emails":[1,2]`), 400},
		{"name a string", "POST", "/Users", user(`"userName":"eve","name":"Eve"`), 400},
		{"displayName of a group a number", "POST", "/Groups", `{"schemas":["` + group + `"],"displayName":7}`, 400},
		{"members not a list", "POST", "/Groups", `{"schemas":["` + group + `"],"displayName":"x","members":"` + uid + `"}`, 400},
		{"PATCH Operations not a list", "PATCH", "/Users/" + uid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"x"}`, 400},
		{"PATCH unknown op", "PATCH", "/Users/" + uid, patch(`{"op":"frobnicate","path":"title","value":"x"}`), 400},
		{"PATCH without op", "PATCH", "/Users/" + uid, patch(`{"path":"title","value":"x"}`), 400},
		{"PATCH active not a boolean", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"active","value":"nope"}`), 400},
		{"PATCH title a number", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"title","value":42}`), 400},
		{"PATCH without the PatchOp schema", "PATCH", "/Users/" + uid, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 400},
		// Unknown attributes and schemas.
		{"unknown schema", "POST", "/Users", `{"schemas":["urn:evil:1.0:User"],"userName":"eve"}`, 400},
		// (Unknown attributes of a POST or PUT, and an unknown extension
		// beside the core schema, are ignored as RFC 7644 3.3 allows: Entra
		// ID names its own schema in a group's schemas, Okta sends locale.)
		{"PATCH unknown attribute", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"bogus","value":"x"}`), 400},
		{"PATCH unknown sub-attribute", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"name.bogus","value":"x"}`), 400},
		{"PATCH unknown extension attribute", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"urn:evil:1.0:Ext:x","value":"x"}`), 400},
		// Bad paths.
		{"PATCH unclosed filter", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"emails[type eq \"work\".value","value":"x"}`), 400},
		{"PATCH empty path", "PATCH", "/Users/" + uid, patch(`{"op":"remove","path":""}`), 400},
		{"PATCH path of dots", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"name..givenName","value":"x"}`), 400},
		{"PATCH path too deep", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"name.givenName.x","value":"x"}`), 400},
		{"PATCH remove without path", "PATCH", "/Users/" + uid, patch(`{"op":"remove"}`), 400},
		{"PATCH id", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"id","value":"` + oid + `"}`), 400},
		{"PATCH a filter on a simple attribute", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"title[value eq \"x\"]","value":"x"}`), 400},
		{"PATCH userName control characters", "PATCH", "/Users/" + uid, patch(`{"op":"replace","path":"userName","value":"al\u0000ice"}`), 400},
		// Limits.
		{"a body of 1 MiB + 1", "POST", "/Users", user(`"userName":"eve","title":"` + strings.Repeat("x", 1<<20-len(user(`"userName":"eve","title":""`))+1) + `"`), 413},
		{"userName over 256 characters", "POST", "/Users", user(`"userName":"` + strings.Repeat("é", 257) + `"`), 400},
		{"email over 256 characters", "POST", "/Users", user(`"userName":"eve","emails":[{"value":"` + strings.Repeat("e", 300) + `@acme.test"}]`), 400},
		{"60,000 members of another provider", "POST", "/Groups", `{"schemas":["` + group + `"],"displayName":"big","members":[` + strings.Join(manyMembers, ",") + `]}`, 400},
		// Valid filters, only big: an empty list (never 500, nothing read twice).
		{"huge filter", "GET", "/Users?filter=" + url.QueryEscape(huge), "", 200},
		{"deeply parenthesised filter", "GET", "/Users?filter=" + url.QueryEscape(nested), "", 200},
		{"SQL in a filter", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "x' OR '1'='1" or externalId eq "1; DROP TABLE users; --"`), "", 200},
		{"filter on an unknown attribute", "GET", "/Users?filter=" + url.QueryEscape(`bogus eq "x"`), "", 400},
		{"SQL breaking out of a filter string", "GET", "/Users?filter=" + url.QueryEscape(`userName eq ""; DROP TABLE users; --"`), "", 400},
		{"filter of a bad date", "GET", "/Users?filter=" + url.QueryEscape(`meta.lastModified gt "yesterday"`), "", 400},
		{"filter garbage", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "x" and`), "", 400},
		{"count not a number", "GET", "/Users?count=abc", "", 400},
		{"startIndex not a number", "GET", "/Users?startIndex=x", "", 400},
		// Control characters.
		{"userName with NUL", "POST", "/Users", user(`"userName":"ev\u0000e"`), 400},
		{"userName with a newline", "POST", "/Users", user(`"userName":"eve\nadmin"`), 400},
		{"userName with an escape sequence", "POST", "/Users", user(`"userName":"\u001b[31meve"`), 400},
		{"givenName with a newline", "POST", "/Users", user(`"userName":"eve","name":{"givenName":"Eve\r\nSet-Cookie: x"}`), 400},
		// Ids that are not numbers or not this provider's.
		{"id a word", "GET", "/Users/abc", "", 404},
		{"id negative", "GET", "/Users/-1", "", 404},
		{"id zero", "GET", "/Users/0", "", 404},
		{"id too big", "GET", "/Users/99999999999999999999999", "", 404},
		{"id SQL", "GET", "/Users/" + url.PathEscape("1 OR 1=1"), "", 404},
		{"id SQL in a group", "DELETE", "/Groups/" + url.PathEscape("1; DROP TABLE users"), "", 404},
		{"the administrator", "GET", "/Users/1", "", 404},
		{"another provider's user", "GET", "/Users/" + oid, "", 404},
		{"PUT another provider's user", "PUT", "/Users/" + oid, user(`"userName":"mallory","active":false`), 404},
		{"PATCH another provider's user", "PATCH", "/Users/" + oid, patch(`{"op":"replace","path":"active","value":false}`), 404},
		{"DELETE another provider's user", "DELETE", "/Users/" + oid, "", 404},
		{"DELETE the administrator", "DELETE", "/Users/1", "", 404},
		{"another provider's group", "GET", "/Groups/" + ogid, "", 404},
		{"PATCH another provider's group", "PATCH", "/Groups/" + ogid, patch(`{"op":"replace","path":"displayName","value":"x"}`), 404},
		{"DELETE another provider's group", "DELETE", "/Groups/" + ogid, "", 404},
		{"another provider's user as a member", "PATCH", "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"` + oid + `"}]}`), 400},
		{"the administrator as a member", "PATCH", "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"1"}]}`), 400},
		{"a member that is not a number", "PATCH", "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"x' OR '1'='1"}]}`), 400},
		{"another provider's user as manager", "PATCH", "/Users/" + uid, patch(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"` + oid + `"}`), 400},
		{"a manager that is not a number", "PATCH", "/Users/" + uid, patch(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"1 OR 1=1"}`), 400},
		{"PUT with another user's userName", "PUT", "/Users/" + vid, user(`"userName":"alice"`), 409},
		{"userName of another provider's user", "POST", "/Users", user(`"userName":"MALLORY"`), 409},
		{"userName of the administrator", "PUT", "/Users/" + uid, user(`"userName":"admin"`), 409},
		// An orgName where the mapping does not use it is ignored; one
		// elsewhere in the tree with the attribute mapping is refused
		// (TestOrgNameElsewhere, in the provisioning tests).
		{"a bad If-Match", "DELETE", "/Users/" + uid, "", 412},
		{"unknown endpoint", "GET", "/Bogus", "", 404},
		{"unknown endpoint with an id", "DELETE", "/Bogus/1", "", 404},
		{"method not allowed", "PATCH", "/Users", patch(`{"op":"replace","path":"title","value":"x"}`), 0},
		{"path traversal", "GET", "/Users/..%2f..%2fapi%2fv1%2fusers", "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.name == "a bad If-Match" {
				header = []string{"If-Match", `W/"0000"`}
			}
			code, raw := rawSCIM(t, a, tc.method, tc.path, tc.body, header...)
			if code >= 500 {
				t.Fatalf("%s %.80s: %d %.300s", tc.method, tc.path, code, raw)
			}
			if tc.want != 0 && code != tc.want || tc.want == 0 && (code < 400 || code > 499) {
				t.Errorf("%s %.80s: %d, want %d: %.300s", tc.method, tc.path, code, tc.want, raw)
			}
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("the answer is not JSON: %.300s", raw)
			}
			if tc.want == 200 {
				if e["totalResults"] != float64(0) {
					t.Errorf("a filter that matches nothing: %.300s", raw)
				}
			} else if schemas, _ := e["schemas"].([]any); len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e["status"] != fmt.Sprint(code) {
				t.Errorf("not a SCIM error: %.300s", raw)
			}
			if after := snapshot(); after != before {
				i := 0
				for i < len(before) && i < len(after) && before[i] == after[i] {
					i++
				}
				from := max(i-150, 0)
				t.Errorf("something changed:\nbefore …%.300s\nafter  …%.300s", before[from:], after[from:])
				before = after
			}
		})
	}
}
