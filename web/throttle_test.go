package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/web"
)

const throttledBody = `{"error":"too many attempts; try again later"}`

// send posts body as JSON to path with extra headers and returns the
// status, the headers and the body (trimmed).
func send(t *testing.T, e *authoritytest.Env, token, path string, body any, header map[string]string) (int, http.Header, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", e.Server.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(b))
}

func loginAs(t *testing.T, e *authoritytest.Env, username, password string) (int, http.Header, string) {
	t.Helper()
	return send(t, e, "", "/api/v1/login", map[string]any{"username": username, "password": password}, nil)
}

// wantThrottled fails unless the answer is the 429 with Retry-After retry (seconds; "" for any positive).
func wantThrottled(t *testing.T, what string, code int, h http.Header, body, retry string) {
	t.Helper()
	if code != http.StatusTooManyRequests || body != throttledBody {
		t.Fatalf("%s: %d %s, want 429 %s", what, code, body, throttledBody)
	}
	got := h.Get("Retry-After")
	if retry != "" && got != retry || retry == "" && (got == "" || got == "0") {
		t.Fatalf("%s: Retry-After %q, want %q", what, got, retry)
	}
}

// putSecurity saves the security settings (fields merged over the current ones).
func putSecurity(t *testing.T, e *authoritytest.Env, fields map[string]any) {
	t.Helper()
	if code, _, body := sendMethod(t, e, "PUT", "/api/v1/settings/security", fields); code != 200 {
		t.Fatalf("PUT /settings/security %v: %d %s", fields, code, body)
	}
}

func sendMethod(t *testing.T, e *authoritytest.Env, method, path string, body any) (int, http.Header, string) {
	t.Helper()
	code, raw := e.Raw(e.Token, method, path, body)
	return code, nil, strings.TrimSpace(string(raw))
}

// SPEC 10, Throttling: five failures of one username (case-folded) answer
// 429 with Retry-After, without checking the password, for a lockout that
// doubles with each attempt; other people sign in; a success clears the count.
func TestLoginThrottledPerUsername(t *testing.T) {
	e := authoritytest.Start(t)
	e.LocalUser("alice", "alice-password-1")
	e.LocalUser("bob", "bob-password-1")
	for i := range 5 {
		if code, _, body := loginAs(t, e, "alice", "wrong-password"); code != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, code, body)
		}
	}
	// The right password, spelled otherwise: still throttled (no password check).
	code, h, body := loginAs(t, e, "ALICE", "alice-password-1")
	wantThrottled(t, "sixth attempt", code, h, body, "120")
	code, h, body = loginAs(t, e, " Alice ", "wrong-password")
	wantThrottled(t, "seventh attempt", code, h, body, "240")
	if code, _, body := loginAs(t, e, "bob", "bob-password-1"); code != 200 {
		t.Fatalf("bob while alice is locked out: %d %s", code, body)
	}
	e.Clock.Advance(4*time.Minute - time.Second)
	code, h, body = loginAs(t, e, "alice", "alice-password-1")
	wantThrottled(t, "a second before the lockout ends", code, h, body, "480")
	e.Clock.Advance(8 * time.Minute)
	if code, _, body := loginAs(t, e, "alice", "alice-password-1"); code != 200 {
		t.Fatalf("after the lockout: %d %s", code, body)
	}
	// The success cleared the count: four more failures do not lock.
	for range 4 {
		loginAs(t, e, "alice", "wrong-password")
	}
	if code, _, body := loginAs(t, e, "alice", "alice-password-1"); code != 200 {
		t.Fatalf("after the success and four failures: %d %s", code, body)
	}
}

// The administrator's token: the same throttle.
func TestAuthTokenThrottled(t *testing.T) {
	e := authoritytest.Start(t)
	creds := func(pw string) map[string]any { return map[string]any{"username": "admin", "password": pw} }
	for i := range 5 {
		if code, _, body := send(t, e, "", "/api/v1/auth/token", creds("wrong"), nil); code != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, code, body)
		}
	}
	code, h, body := send(t, e, "", "/api/v1/auth/token", creds(authoritytest.AdminPassword), nil)
	wantThrottled(t, "right password after five failures", code, h, body, "120")
	e.Clock.Advance(2 * time.Minute)
	if code, _, body := send(t, e, "", "/api/v1/auth/token", creds(authoritytest.AdminPassword), nil); code != 200 {
		t.Fatalf("after the lockout: %d %s", code, body)
	}
}

// A throttled LDAP user's attempts never reach the directory: with the
// directory stopped, the answer is still 429, not 503.
func TestThrottledLDAPUserDoesNotReachTheDirectory(t *testing.T) {
	e := authoritytest.Start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	o := ldapTestOrg(t, e, g)
	if code, _, body := send(t, e, "", "/api/v1/login", map[string]any{"username": "alice", "password": testenv.DemoPassword, "registrationKey": o.RegistrationKey}, nil); code != 200 {
		t.Fatalf("register alice: %d %s", code, body)
	}
	for i := range 5 {
		if code, _, body := loginAs(t, e, "alice", "wrong"); code != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, code, body)
		}
	}
	g.Stop()
	code, h, body := loginAs(t, e, "alice", testenv.DemoPassword)
	wantThrottled(t, "directory stopped", code, h, body, "")
}

// ldapTestOrg makes an LDAP server record for g and an org "Directory" using it.
func ldapTestOrg(t *testing.T, e *authoritytest.Env, g *testenv.Glauth) orgs.Org {
	t.Helper()
	ctx := context.Background()
	name, url, filter := "Test directory", g.URL, "(&(objectClass=posixAccount)(uid=%u))"
	bindDN, bindPW := g.BindDN, g.BindPassword
	srv, err := e.App.LDAP.Create(ctx, ldapauth.ServerInput{Name: &name, URL: &url, BindDN: &bindDN, BindPassword: &bindPW, SearchFilter: &filter})
	if err != nil {
		t.Fatalf("create LDAP server: %v", err)
	}
	oname, method, ids := "Directory", orgs.AuthLDAP, []int64{srv.ID}
	o, err := e.App.Orgs.Create(ctx, orgs.Input{Name: &oname, AuthMethod: &method, LDAPServerIDs: &ids})
	if err != nil {
		t.Fatalf("create LDAP org: %v", err)
	}
	return o
}

// A right password refused because the account is blocked or deactivated
// is not a failure: with maxFailures 2, three of them are still 403.
func TestBlockedRightPasswordIsNotAFailure(t *testing.T) {
	e := authoritytest.Start(t)
	carol := e.LocalUser("carol", "carol-password-1")
	dave := e.LocalUser("dave", "dave-password-1")
	putSecurity(t, e, map[string]any{"maxFailures": 2})
	if code := e.Do("POST", "/api/v1/users/"+itoa(carol.ID)+"/block", nil, nil); code != 200 {
		t.Fatalf("block: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(dave.ID)+"/deactivate", nil, nil); code != 200 {
		t.Fatalf("deactivate: %d", code)
	}
	for i := range 3 {
		if code, _, body := loginAs(t, e, "carol", "carol-password-1"); code != 403 {
			t.Fatalf("blocked carol, attempt %d: %d %s", i+1, code, body)
		}
		if code, _, body := loginAs(t, e, "dave", "dave-password-1"); code != 403 {
			t.Fatalf("deactivated dave, attempt %d: %d %s", i+1, code, body)
		}
	}
	// Wrong passwords count as for anyone.
	for range 2 {
		loginAs(t, e, "carol", "wrong")
	}
	code, h, body := loginAs(t, e, "carol", "carol-password-1")
	wantThrottled(t, "blocked carol after two wrong passwords", code, h, body, "")
}

// An over-long username is the usual 401 on /login and /auth/token.
func TestOverLongUsernameIs401(t *testing.T) {
	e := authoritytest.Start(t)
	long := strings.Repeat("x", 100_000)
	for range 40 {
		if code, _, body := loginAs(t, e, long, "whatever"); code != 401 || !strings.Contains(body, "invalid username") {
			t.Fatalf("/login: %d %.200s", code, body)
		}
	}
	if code, _, body := send(t, e, "", "/api/v1/auth/token", map[string]any{"username": long, "password": "whatever"}, nil); code != 401 {
		t.Fatalf("/auth/token: %d %.200s", code, body)
	}
	// The log names it, shortened.
	for _, line := range strings.Split(serverLog(t, e.Dir), "\n") {
		if len(line) > 2000 {
			t.Fatalf("a log line of %d bytes: %.200s", len(line), line)
		}
	}
}

// More than perAddressFailures failures from one address: 429 for every
// attempt from it, for a minute.
func TestThrottlePerAddress(t *testing.T) {
	e := authoritytest.Start(t)
	e.LocalUser("alice", "alice-password-1")
	putSecurity(t, e, map[string]any{"perAddressFailures": 3})
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		if code, _, body := loginAs(t, e, u, "wrong"); code != 401 {
			t.Fatalf("%s: %d %s", u, code, body)
		}
	}
	t0 := time.Now()
	code, h, body := loginAs(t, e, "alice", "alice-password-1")
	wantThrottled(t, "alice from the blocked address", code, h, body, "60")
	// The answer to a blocked address is held (a client guessing as fast as
	// it can gets a few answers a second).
	if d := time.Since(t0); d < web.BlockedAddressDelay {
		t.Fatalf("the answer to the blocked address came after %v, want at least %v", d, web.BlockedAddressDelay)
	}
	e.Clock.Advance(61 * time.Second)
	if code, _, body := loginAs(t, e, "alice", "alice-password-1"); code != 200 {
		t.Fatalf("a minute later: %d %s", code, body)
	}
}

// GET/PUT /settings/security: defaults, validation naming the field, the
// limits applied at once, tokens living tokenLifetime.
func TestSecuritySettingsAPI(t *testing.T) {
	e := authoritytest.Start(t)
	e.LocalUser("alice", "alice-password-1")
	code, raw := e.Raw(e.Token, "GET", "/api/v1/settings/security", nil)
	const defaults = `{"maxFailures":5,"failureWindow":"15m","maxLockout":"1h","perAddressFailures":30,"tokenLifetime":"12h"}`
	if code != 200 || strings.TrimSpace(string(raw)) != defaults {
		t.Fatalf("GET: %d %s, want %s", code, raw, defaults)
	}
	if code, _ := e.Raw("", "GET", "/api/v1/settings/security", nil); code != 401 {
		t.Fatalf("GET without a token: %d", code)
	}
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"maxFailures":0}`, "maxFailures"},
		{`{"maxFailures":1001}`, "maxFailures"},
		{`{"failureWindow":"soon"}`, "failureWindow"},
		{`{"failureWindow":"0s"}`, "failureWindow"},
		{`{"maxLockout":"-1m"}`, "maxLockout"},
		{`{"maxLockout":"100h"}`, "maxLockout"},
		{`{"perAddressFailures":0}`, "perAddressFailures"},
		{`{"tokenLifetime":"10s"}`, "tokenLifetime"},
		{`{"tokenLifetime":"forever"}`, "tokenLifetime"},
		{`{"maxFailures":"5"}`, "maxFailures"},
		{`{"bogus":1}`, "bogus"},
	} {
		code, raw := e.Raw(e.Token, "PUT", "/api/v1/settings/security", c.body)
		var er apiError
		_ = json.Unmarshal(raw, &er)
		if code != 400 || er.Field != c.field {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", c.body, code, raw, c.field)
		}
	}
	code, raw = e.Raw(e.Token, "PUT", "/api/v1/settings/security", `{"maxFailures":2,"failureWindow":"90m","maxLockout":"2h30m","perAddressFailures":50,"tokenLifetime":"1h"}`)
	const saved = `{"maxFailures":2,"failureWindow":"1h30m","maxLockout":"2h30m","perAddressFailures":50,"tokenLifetime":"1h"}`
	if code != 200 || strings.TrimSpace(string(raw)) != saved {
		t.Fatalf("PUT: %d %s, want %s", code, raw, saved)
	}
	if code, raw := e.Raw(e.Token, "GET", "/api/v1/settings/security", nil); code != 200 || strings.TrimSpace(string(raw)) != saved {
		t.Fatalf("GET after PUT: %d %s", code, raw)
	}
	// The change is audited (the refused ones are not); throttled answers are counted.
	var audited struct {
		Total   int
		Entries []struct{ Target string }
	}
	if code := e.Do("GET", "/api/v1/audit?action=settings.security.update", nil, &audited); code != 200 || audited.Total != 1 || audited.Entries[0].Target != "settings:security" {
		t.Errorf("audit of the security settings: %d %+v", code, audited)
	}
	throttledBefore := testutil.ToFloat64(metrics.ThrottledAttempts)
	// maxFailures 2, at once.
	loginAs(t, e, "alice", "wrong")
	loginAs(t, e, "alice", "wrong")
	code, h, body := loginAs(t, e, "alice", "alice-password-1")
	wantThrottled(t, "after two failures", code, h, body, "")
	if n := testutil.ToFloat64(metrics.ThrottledAttempts); n != throttledBefore+1 {
		t.Errorf("throttled attempts counted: %v → %v", throttledBefore, n)
	}

	// tokenLifetime 1h.
	var tok struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expiresIn"`
	}
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": authoritytest.AdminPassword}, &tok); code != 200 || tok.ExpiresIn != 3600 {
		t.Fatalf("token: %d %+v, want expiresIn 3600", code, tok)
	}
	e.Clock.Advance(59 * time.Minute)
	if code := e.DoAs(tok.Token, "GET", "/api/v1/orgs", nil, nil); code != 200 {
		t.Fatalf("token after 59 minutes: %d", code)
	}
	e.Clock.Advance(2 * time.Minute)
	if code := e.DoAs(tok.Token, "GET", "/api/v1/orgs", nil, nil); code != 401 {
		t.Fatalf("token after 61 minutes: %d, want 401", code)
	}
}

// authLines returns the log lines with "AUTH::" from the message on.
func authLines(t *testing.T, e *authoritytest.Env) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(serverLog(t, e.Dir), "\n") {
		if i := strings.Index(line, "AUTH:: "); i >= 0 {
			out = append(out, line[i:])
		}
	}
	return out
}

// SPEC 10, Sign-in log: every refused sign-in is an AUTH:: line with the
// reason, never the password, control characters escaped; administrator
// sign-ins are logged too.
func TestSignInLog(t *testing.T) {
	e := authoritytest.Start(t)
	const pw = "Distinctive-Pa55word"
	e.LocalUser("alice", pw)
	carol := e.LocalUser("carol", pw)
	dave := e.LocalUser("dave", pw)
	e.Do("POST", "/api/v1/users/"+itoa(carol.ID)+"/block", nil, nil)
	e.Do("POST", "/api/v1/users/"+itoa(dave.ID)+"/deactivate", nil, nil)

	loginAs(t, e, "alice", pw+"-wrong")
	loginAs(t, e, "nobody", pw+"-wrong")
	loginAs(t, e, "carol", pw)
	loginAs(t, e, "dave", pw)
	loginAs(t, e, "evil\x1b[31m\nAUTH:: refused user:admin", pw+"-wrong")
	send(t, e, "", "/api/v1/auth/token", map[string]any{"username": "admin", "password": pw + "-wrong"}, nil)
	for range 4 {
		loginAs(t, e, "alice", pw+"-wrong")
	}
	loginAs(t, e, "alice", pw)

	lines := authLines(t, e)
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"AUTH:: admin signed in user:admin from:127.0.0.1",
		"AUTH:: refused user:alice from:127.0.0.1 reason:badPassword",
		"AUTH:: refused user:nobody from:127.0.0.1 reason:unknownUser",
		"AUTH:: refused user:carol from:127.0.0.1 reason:blocked",
		"AUTH:: refused user:dave from:127.0.0.1 reason:deactivated",
		`AUTH:: refused user:"evil\x1b[31m\nAUTH:: refused user:admin" from:127.0.0.1 reason:unknownUser`,
		"AUTH:: refused user:admin from:127.0.0.1 reason:badPassword",
		"AUTH:: refused user:alice from:127.0.0.1 reason:throttled",
	} {
		found := false
		for _, l := range lines {
			if l == want {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line %q in\n%s", want, all)
		}
	}
	for _, line := range strings.Split(serverLog(t, e.Dir), "\n") {
		if strings.Contains(line, pw) {
			t.Errorf("a log line holds the password: %s", line)
		}
		if strings.ContainsAny(line, "\x1b\r") {
			t.Errorf("a log line holds a control character: %q", line)
		}
	}
}

// The console's sign-in: the same throttle, and a clear message on 429.
func TestConsoleSignInThrottled(t *testing.T) {
	e := startConsole(t)
	e.follow("/login")
	for i := range 5 {
		if code, _, body := e.post("/login", url.Values{"username": {"admin"}, "password": {"wrong"}}, false); code != 401 {
			t.Fatalf("wrong password %d: %d\n%s", i+1, code, body)
		}
	}
	code, _, body := e.post("/login", url.Values{"username": {"Admin"}, "password": {consoleAdminPassword}}, false)
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in attempts") || !strings.Contains(body, "Try again in 2 minutes") {
		t.Fatalf("right password after five failures: %d\n%s", code, body)
	}
}

// The sign-in security form on Settings > Security > LDAP.
func TestConsoleSecuritySettingsForm(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	body := e.follow("/settings/ldap")
	if !strings.Contains(body, `id="security-settings"`) || !strings.Contains(body, `name="maxFailures" value="5"`) || !strings.Contains(body, `name="tokenLifetime" value="12h"`) {
		t.Fatalf("no security form with the defaults:\n%s", body)
	}
	code, _, body := e.post("/settings/security", url.Values{"maxFailures": {"many"}, "tokenLifetime": {"2h"}}, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "whole number") {
		t.Fatalf("bad maxFailures: %d\n%s", code, body)
	}
	code, _, body = e.post("/settings/security", url.Values{"maxFailures": {"7"}, "failureWindow": {"forever"}}, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "is not a duration") || !strings.Contains(body, `value="forever"`) {
		t.Fatalf("bad failureWindow: %d\n%s", code, body)
	}
	code, loc, body := e.post("/settings/security", url.Values{"maxFailures": {"7"}, "failureWindow": {"30m"}, "maxLockout": {"2h"}, "perAddressFailures": {"40"}, "tokenLifetime": {"8h"}}, false)
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d %s\n%s", code, loc, body)
	}
	st, err := e.app.SignIn.Settings(context.Background())
	if err != nil || st.MaxFailures != 7 || st.FailureWindow != "30m" || st.MaxLockout != "2h" || st.PerAddressFailures != 40 || st.TokenLifetime != "8h" {
		t.Fatalf("saved %+v %v", st, err)
	}
	if e.app.Users.TokenLifetime() != 8*time.Hour {
		t.Fatalf("token lifetime in force: %v", e.app.Users.TokenLifetime())
	}
}

// Concurrent guesses check no more passwords than sequential ones: of 20
// wrong passwords for one username sent at once, at most 5 are checked
// (401); the others are throttled.
func TestConcurrentGuessesAreBounded(t *testing.T) {
	e := authoritytest.Start(t)
	e.LocalUser("alice", "alice-password-1")
	putSecurity(t, e, map[string]any{"perAddressFailures": 1000})
	var wg sync.WaitGroup
	codes := make([]int, 20)
	start := make(chan struct{})
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], _, _ = loginAs(t, e, "alice", "wrong-password")
		}()
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, c := range codes {
		switch c {
		case 401:
			checked++
		case 429:
		default:
			t.Fatalf("answers %v: want only 401 and 429", codes)
		}
	}
	if checked > 5 {
		t.Fatalf("answers %v: %d passwords checked, want at most 5", codes, checked)
	}
}
