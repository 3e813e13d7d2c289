package scimapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
)

// A step of a fixture (testdata/*.json, see testdata/README.md): one
// request as the identity provider sends it, the answer it must get, and
// what the authority must then say.
type step struct {
	Name   string `json:"name"`
	Source string `json:"source"` // where the request is documented
	Method string `json:"method"`
	Path   string `json:"path"`
	// Request is the body (JSON); RequestRaw a body sent as is.
	Request    json.RawMessage `json:"request"`
	RequestRaw string          `json:"requestRaw"`
	Status     int             `json:"status"`
	// Response is a subset of the answer (see subset).
	Response json.RawMessage `json:"response"`
	// Save names values of the answer for later steps: {"u1": "id"}.
	Save map[string]string `json:"save"`
	// Advance moves the clock by a duration, then runs the due
	// deactivations, before the request (a step may have no request).
	Advance string `json:"advance"`
	// Admin is a request to the authority's API, made before the SCIM
	// request (a mapping that needs a group's id, say).
	Admin *adminCall `json:"admin"`
	// Authority are checks of the authority's API after the step.
	Authority []adminCall `json:"authority"`
}

type adminCall struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body"`
	Status int             `json:"status"`
	Expect json.RawMessage `json:"expect"`
}

// fixture is one file of steps and the provider they run as.
type fixture struct {
	Provider map[string]any `json:"provider"`
	Steps    []step         `json:"steps"`
}

// answer is one SCIM answer, for the independent check (testdata/conformance).
type answer struct {
	Step   string          `json:"step"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

var placeholder = regexp.MustCompile(`\{\{([a-zA-Z0-9_]+)\}\}`)

func substitute(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		k := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[k]
		if !ok {
			t.Fatalf("no value for {{%s}} yet", k)
		}
		return v
	})
}

// subset reports where got differs from want: every key of a wanted
// object must be in got with a matching value ("*": any value, null: the
// key must be absent); a wanted array must have as many elements as got,
// each matching a different element of got, in any order.
func subset(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %v", path, got)}
		}
		var out []string
		for k, wv := range w {
			gv, present := g[k]
			if wv == nil {
				if present {
					out = append(out, fmt.Sprintf("%s.%s: want absent, got %v", path, k, gv))
				}
				continue
			}
			if !present {
				out = append(out, fmt.Sprintf("%s.%s: missing (want %v)", path, k, wv))
				continue
			}
			out = append(out, subset(wv, gv, path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d elements %v, got %v", path, len(w), w, got)}
		}
		used := make([]bool, len(g))
	next:
		for i, we := range w {
			for j, ge := range g {
				if !used[j] && len(subset(we, ge, "")) == 0 {
					used[j] = true
					continue next
				}
			}
			return []string{fmt.Sprintf("%s[%d]: no element matches %v in %v", path, i, we, g)}
		}
		return nil
	case string:
		if w == "*" {
			return nil
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: want %v, got %v", path, want, got)}
	}
	return nil
}

// lookupPath returns the value at a dotted path of doc ("Resources.0.id").
func lookupPath(doc any, path string) (string, bool) {
	cur := doc
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(c) {
				return "", false
			}
			cur = c[i]
		default:
			return "", false
		}
	}
	if cur == nil {
		return "", false
	}
	return fmt.Sprint(cur), true
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// replay runs a fixture's steps in order against env and returns every
// SCIM answer.
func replay(t *testing.T, env *authoritytest.Env, name string) []answer {
	t.Helper()
	f := loadFixture(t, name)
	vars := map[string]string{"root": fmt.Sprint(rootOrg(t, env))}
	// The provider's org is the root unless the fixture says otherwise.
	if m, ok := f.Provider["orgMapping"].(map[string]any); ok && m["orgId"] == nil {
		m["orgId"] = rootOrg(t, env)
	}
	var p provider
	if code := env.Do("POST", "/api/v1/provisioning/providers", f.Provider, &p); code != 201 {
		t.Fatalf("%s: create the provider: %d", name, code)
	}
	vars["provider"] = fmt.Sprint(p.ID)
	c := &client{t: t, env: env, token: p.Token}
	if p.Token == "" {
		c.basic = [2]string{p.Username, p.Password}
	}
	var answers []answer
	for i, s := range f.Steps {
		label := fmt.Sprintf("%s step %d (%s)", name, i+1, s.Name)
		if s.Advance != "" {
			d, err := time.ParseDuration(s.Advance)
			if err != nil {
				t.Fatalf("%s: advance: %v", label, err)
			}
			env.Advance(d)
			if _, err := env.App.Prov.RunDue(context.Background()); err != nil {
				t.Fatalf("%s: RunDue: %v", label, err)
			}
		}
		if s.Admin != nil {
			adminCheck(t, env, label, *s.Admin, vars)
		}
		if s.Method != "" {
			body := s.RequestRaw
			if len(s.Request) > 0 {
				body = string(s.Request)
			}
			body = substitute(t, body, vars)
			path := substitute(t, s.Path, vars)
			code, raw := rawSCIM(t, c, s.Method, path, body)
			answers = append(answers, answer{Step: label, Method: s.Method, Path: path, Status: code, Body: json.RawMessage(nonEmpty(raw))})
			if code != s.Status {
				t.Fatalf("%s: %s %s: status %d, want %d: %s", label, s.Method, path, code, s.Status, raw)
			}
			if ct := respContentType; code != 204 && !strings.HasPrefix(ct, "application/scim+json") {
				t.Errorf("%s: Content-Type %q", label, ct)
			}
			var doc any
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatalf("%s: the answer is not JSON: %s", label, raw)
				}
			}
			if len(s.Response) > 0 {
				var want any
				if err := json.Unmarshal([]byte(substitute(t, string(s.Response), vars)), &want); err != nil {
					t.Fatalf("%s: response: %v", label, err)
				}
				if diffs := subset(want, doc, ""); len(diffs) > 0 {
					t.Errorf("%s: %s %s answered %s\n%s", label, s.Method, path, raw, strings.Join(diffs, "\n"))
				}
			}
			keys := make([]string, 0, len(s.Save))
			for k := range s.Save {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, ok := lookupPath(doc, s.Save[k])
				if !ok {
					t.Fatalf("%s: no %s in %s", label, s.Save[k], raw)
				}
				vars[k] = v
			}
		}
		for _, a := range s.Authority {
			adminCheck(t, env, label, a, vars)
		}
	}
	return answers
}

func nonEmpty(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

func mustMarshal(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// respContentType is the Content-Type of rawSCIM's last answer.
var respContentType string

// rawSCIM sends one SCIM request as the fixture has it and returns the
// status and body.
func rawSCIM(t *testing.T, c *client, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.env.Server.URL+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Accept", "application/scim+json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	resp, err := c.env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	respContentType = resp.Header.Get("Content-Type")
	return resp.StatusCode, raw
}

func adminCheck(t *testing.T, env *authoritytest.Env, label string, a adminCall, vars map[string]string) {
	t.Helper()
	method := a.Method
	if method == "" {
		method = "GET"
	}
	path := substitute(t, a.Path, vars)
	var body any
	if len(a.Body) > 0 {
		body = json.RawMessage(substitute(t, string(a.Body), vars))
	}
	code, raw := env.Raw(env.Token, method, path, body)
	want := a.Status
	if want == 0 {
		want = 200
	}
	if code != want {
		t.Fatalf("%s: authority %s %s: %d, want %d: %s", label, method, path, code, want, raw)
	}
	if len(a.Expect) > 0 {
		var exp, got any
		if err := json.Unmarshal([]byte(substitute(t, string(a.Expect), vars)), &exp); err != nil {
			t.Fatalf("%s: expect: %v", label, err)
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: authority %s: %s", label, path, raw)
		}
		if diffs := subset(exp, got, ""); len(diffs) > 0 {
			t.Errorf("%s: authority %s %s answered %s\n%s", label, method, path, raw, strings.Join(diffs, "\n"))
		}
	}
}

// TestConformanceFixtures replays what Entra ID and Okta send, in order,
// and checks the answers and what the authority then says of the users.
// Every answer is then read by an independent SCIM implementation
// (testdata/conformance/check.js) against RFC 7643's schemas.
func TestConformanceFixtures(t *testing.T) {
	var all []answer
	for _, name := range []string{"entra.json", "okta.json"} {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			env := authoritytest.Start(t)
			all = append(all, replay(t, env, name)...)
			// The discovery endpoints, as both read them.
			_, c := newProvider(t, env, map[string]any{"name": "discovery", "orgMapping": map[string]any{"method": "single", "orgId": rootOrg(t, env)}})
			for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"} {
				code, raw := rawSCIM(t, c, "GET", p, "")
				if code != 200 {
					t.Errorf("GET %s: %d %s", p, code, raw)
				}
				all = append(all, answer{Step: "discovery", Method: "GET", Path: p, Status: code, Body: raw})
			}
		})
	}
	if t.Failed() {
		return
	}
	checkIndependently(t, all)
}
