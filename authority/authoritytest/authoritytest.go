// Package authoritytest starts a whole authority server for tests: a real
// SQLite file in a temp directory, every service, the HTTP handler on an
// httptest server, a movable clock and an administrator's API token.
package authoritytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/users"
)

// AdminPassword is the administrator's password in test servers.
const AdminPassword = "test-admin-password"

// Clock is a settable clock for authority.Config.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is a running test server.
type Env struct {
	T      testing.TB
	App    *authority.App
	Server *httptest.Server
	Clock  *Clock
	Token  string // an administrator's API token
	Dir    string // the data directory
}

// Start opens an app in a temp data directory, serves it, and signs the
// administrator in. opts may change the config before Open. Everything stops
// on test cleanup.
func Start(t testing.TB, opts ...func(*authority.Config)) *Env {
	t.Helper()
	dir := t.TempDir()
	clock := NewClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	cfg := authority.Config{DataDir: dir, AdminPassword: AdminPassword, Now: clock.Now, Stdout: io.Discard}
	for _, o := range opts {
		o(&cfg)
	}
	app, err := authority.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("authoritytest: open: %v", err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	e := &Env{T: t, App: app, Server: srv, Clock: clock, Dir: dir}
	var tok struct{ Token string }
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": users.BuiltinAdmin, "password": AdminPassword}, &tok); code != 200 {
		t.Fatalf("authoritytest: admin token: status %d", code)
	}
	e.Token = tok.Token
	return e
}

// Advance moves the clock forward by d and signs the administrator in again
// (API tokens expire with the clock too).
func (e *Env) Advance(d time.Duration) {
	e.T.Helper()
	e.Clock.Advance(d)
	var tok struct{ Token string }
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": users.BuiltinAdmin, "password": AdminPassword}, &tok); code != 200 {
		e.T.Fatalf("authoritytest: admin token after advancing the clock: status %d", code)
	}
	e.Token = tok.Token
}

// LocalUser creates an active user of the root org with a local password
// and the given roles, and returns it.
func (e *Env) LocalUser(username, password string, roles ...string) users.User {
	e.T.Helper()
	ctx := context.Background()
	root, err := e.App.Orgs.EnsureRoot(ctx)
	if err != nil {
		e.T.Fatalf("authoritytest: the root org: %v", err)
	}
	u, err := e.App.Users.Create(ctx, users.NewUser{Username: username, Password: password, OrgID: root.ID, Roles: roles})
	if err != nil {
		e.T.Fatalf("authoritytest: create user %s: %v", username, err)
	}
	return u
}

// Do sends an API request as the administrator, decodes a JSON answer into out
// (when not nil) and returns the status code.
func (e *Env) Do(method, path string, body, out any) int {
	e.T.Helper()
	return e.DoAs(e.Token, method, path, body, out)
}

// DoAs is Do with another bearer token ("" for none).
func (e *Env) DoAs(token, method, path string, body, out any) int {
	e.T.Helper()
	code, raw := e.Raw(token, method, path, body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.T.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return code
}

// Raw sends a request and returns the status and the raw body. A string or
// []byte body is sent as is; anything else is JSON-encoded.
func (e *Env) Raw(token, method, path string, body any) (int, []byte) {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, raw
}
