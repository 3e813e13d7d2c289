package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
)

func getRaw(t *testing.T, url, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHealthAndReadiness: /healthz answers 200 while the process serves;
// /readyz answers 200 with the database "ok" and each LDAP server "ok" or
// "unreachable" (no URL, name, bind DN or password in it), within a bounded
// time even when a directory hangs, from a cache for a few seconds; and 503
// saying why while the database cannot be written, 200 again once it can.
func TestHealthAndReadiness(t *testing.T) {
	e := authoritytest.Start(t)
	ctx := context.Background()
	g := testenv.StartGlauth(t, []testenv.GlauthUser{{Name: "alice", Password: "pw", GivenName: "A", SN: "L", Mail: []string{"a@example.com"}}})
	p := func(s string) *string { return &s }
	up, err := e.App.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("up"), URL: p(g.URL), BindDN: p(g.BindDN), BindPassword: p(g.BindPassword), SearchFilter: p("(uid=%u)")})
	if err != nil {
		t.Fatal(err)
	}
	down, err := e.App.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("down"), URL: p("ldap://" + closedPort(t) + "/dc=example,dc=com"),
		BindDN: p("cn=secret-bind-dn,dc=example,dc=com"), BindPassword: p("very-secret-pw"), SearchFilter: p("(uid=%u)")})
	if err != nil {
		t.Fatal(err)
	}
	hangs, err := e.App.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("hangs"), URL: p("ldaps://" + blackHole(t) + "/dc=example,dc=com"),
		BindDN: p("cn=svc"), BindPassword: p("pw"), SearchFilter: p("(uid=%u)"), AllowUnsafeCerts: ptrBool(true)})
	if err != nil {
		t.Fatal(err)
	}

	if code, _, body := getRaw(t, e.Server.URL+"/healthz", ""); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	t0 := time.Now()
	code, _, body := getRaw(t, e.Server.URL+"/readyz", "")
	if took := time.Since(t0); took > 4*time.Second {
		t.Errorf("readyz took %v with a directory that hangs", took)
	}
	var rep struct {
		Database    string            `json:"database"`
		Directories map[string]string `json:"directories"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	want := map[string]string{id(up.ID): "ok", id(down.ID): "unreachable", id(hangs.ID): "unreachable"}
	if code != 200 || rep.Database != "ok" || fmt.Sprint(rep.Directories) != fmt.Sprint(want) {
		t.Fatalf("readyz: %d %s, want directories %v", code, body, want)
	}
	for _, secret := range []string{"very-secret-pw", "secret-bind-dn", "127.0.0.1", "down", "hangs"} {
		if strings.Contains(body, secret) {
			t.Errorf("readyz tells %q: %s", secret, body)
		}
	}
	t0 = time.Now()
	if code, _, _ := getRaw(t, e.Server.URL+"/readyz", ""); code != 200 || time.Since(t0) > 500*time.Millisecond {
		t.Errorf("readyz again: %d in %v: the directory checks are not cached", code, time.Since(t0))
	}

	dbFault(t, e.App.DB, "query_only = 1")
	code, _, body = getRaw(t, e.Server.URL+"/readyz", "")
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 503 || !strings.Contains(rep.Database, "read-only") {
		t.Fatalf("readyz on a read-only database: %d %s", code, body)
	}
	if code, _, _ := getRaw(t, e.Server.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz on a read-only database: %d", code)
	}
	dbFault(t, e.App.DB, "query_only = 0")
	if code, _, body := getRaw(t, e.Server.URL+"/readyz", ""); code != 200 {
		t.Fatalf("readyz once the fault is gone: %d %s", code, body)
	}
}

func ptrBool(b bool) *bool { return &b }

// metricValue returns the value of the sample of name with exactly labels
// (as written in the text format, e.g. `{status="active"}`), and false when
// the scrape has no such sample.
func metricValue(scrape, name, labels string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestMetrics: /metrics answers the Prometheus text format to an
// administrator's token only, with sign-ins by result, throttled attempts,
// sync runs by status and their duration, users by status (read at scrape
// time), script errors and SCIM requests by status.
func TestMetrics(t *testing.T) {
	e := authoritytest.Start(t)
	if code, _, _ := getRaw(t, e.Server.URL+"/metrics", ""); code != 401 {
		t.Errorf("metrics without a token: %d, want 401", code)
	}
	worker := e.LocalUser("worker", "worker-password")
	if code, _, _ := getRaw(t, e.Server.URL+"/metrics", "not-a-token"); code != 401 {
		t.Errorf("metrics with a bad token: %d, want 401", code)
	}
	scrape := func() string {
		t.Helper()
		code, h, body := getRaw(t, e.Server.URL+"/metrics", e.Token)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", code, h.Get("Content-Type"))
		}
		return body
	}
	before := scrape()
	refusedBefore, _ := metricValue(before, "authority_signins_total", `{endpoint="login",result="refused"}`)
	tokenBefore, _ := metricValue(before, "authority_signins_total", `{endpoint="token",result="success"}`)
	e.DoAs("", "POST", "/api/v1/login", map[string]string{"username": "worker", "password": "wrong-password"}, nil)
	e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": authoritytest.AdminPassword}, nil)
	if code := e.Do("POST", fmt.Sprintf("/api/v1/users/%d/deactivate", worker.ID), nil, nil); code != 200 {
		t.Fatalf("deactivate: %d", code)
	}
	after := scrape()
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"authority_signins_total", `{endpoint="login",result="refused"}`, refusedBefore + 1},
		{"authority_signins_total", `{endpoint="token",result="success"}`, tokenBefore + 1},
		{"authority_users", `{status="active"}`, 1},
		{"authority_users", `{status="deactivated"}`, 1},
		{"authority_users", `{status="blocked"}`, 0},
	} {
		if v, ok := metricValue(after, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%s = %v (%t), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	for _, s := range []struct{ name, labels string }{
		{"authority_throttled_attempts_total", ""},
		{"authority_signins_total", `{endpoint="console",result="throttled"}`},
		{"authority_dirsync_runs_total", `{status="cancelled"}`},
		{"authority_dirsync_runs_total", `{status="ok"}`},
		{"authority_script_errors_total", `{source="dirsync"}`},
		{"authority_script_errors_total", `{source="signin"}`},
		{"authority_scim_requests_total", `{code="200"}`},
	} {
		if _, ok := metricValue(after, s.name, s.labels); !ok {
			t.Errorf("no sample %s%s in:\n%s", s.name, s.labels, after)
		}
	}
	if !strings.Contains(after, "# TYPE authority_dirsync_run_duration_seconds histogram") {
		t.Errorf("no sync duration histogram")
	}
}
