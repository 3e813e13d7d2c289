package web_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// SPEC 10, No enumeration by time: a refused sign-in takes the same time
// whether the username exists or not, on /login (local users, LDAP users,
// registration in an LDAP org), /auth/token and the console. For each path
// it times 15 refusals of a known username with a wrong password and 15 of
// an unknown username, interleaved (so that the load of a shared machine
// falls on both), and requires the medians within 25% of each other.
func TestNoEnumerationByTime(t *testing.T) {
	if raceEnabled {
		t.Skip("timing under the race detector says nothing (bcrypt is ~15 times slower, LDAP less): run without -race")
	}
	e := authoritytest.Start(t)
	// Throttling would refuse the repeated attempts cheaply: out of the way.
	putSecurity(t, e, map[string]any{"maxFailures": 100, "perAddressFailures": 100000})
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	o := ldapTestOrg(t, e, g)
	if code, _, body := send(t, e, "", "/api/v1/login", map[string]any{"username": "alice", "password": testenv.DemoPassword, "registrationKey": o.RegistrationKey}, nil); code != 200 {
		t.Fatalf("register alice: %d %s", code, body)
	}
	// bob: an administrator whose org signs in with LDAP.
	if _, err := e.App.Users.Create(context.Background(), users.NewUser{Username: "bob", OrgID: o.ID, Roles: []string{roles.Sysadmin}}); err != nil {
		t.Fatal(err)
	}
	e.LocalUser("carol", "carol-password-1")

	jar, _ := cookiejar.New(nil)
	console := &consoleEnv{t: t, app: e.App, srv: e.Server,
		client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	console.follow("/login")

	refuse := func(want int, do func() int) func() {
		return func() {
			if code := do(); code != want {
				t.Fatalf("status %d, want %d", code, want)
			}
		}
	}
	login := func(body map[string]any) func() {
		return refuse(401, func() int { code, _, _ := send(t, e, "", "/api/v1/login", body, nil); return code })
	}
	token := func(username string) func() {
		return refuse(401, func() int {
			code, _, _ := send(t, e, "", "/api/v1/auth/token", map[string]any{"username": username, "password": "wrong-password"}, nil)
			return code
		})
	}
	consoleSignIn := func(username string) func() {
		return refuse(401, func() int {
			code, _, _ := console.post("/login", url.Values{"username": {username}, "password": {"wrong-password"}}, false)
			return code
		})
	}
	for _, p := range []struct {
		name           string
		known, unknown func()
	}{
		{"/login, local user", login(map[string]any{"username": "carol", "password": "wrong-password"}),
			login(map[string]any{"username": "ghost", "password": "wrong-password"})},
		{"/login, LDAP user", login(map[string]any{"username": "alice", "password": "wrong-password"}),
			login(map[string]any{"username": "ghost", "password": "wrong-password"})},
		{"/login, registration in an LDAP org", login(map[string]any{"username": "erin", "password": "wrong-password", "registrationKey": o.RegistrationKey}),
			login(map[string]any{"username": "ghost", "password": "wrong-password", "registrationKey": o.RegistrationKey})},
		{"/auth/token, LDAP administrator", token("bob"), token("ghost")},
		{"/auth/token, local administrator", token("admin"), token("ghost")},
		{"console, LDAP administrator", consoleSignIn("bob"), consoleSignIn("ghost")},
	} {
		known, unknown := medians(p.known, p.unknown, 15)
		ratio := float64(max(known, unknown)) / float64(min(known, unknown))
		t.Logf("%s: known %v, unknown %v (%.2f)", p.name, known, unknown, ratio)
		if ratio > 1.25 {
			t.Errorf("%s: a refused known username takes %v, an unknown one %v (medians of 15): more than 25%% apart", p.name, known, unknown)
		}
	}
}

// medians times n calls of a and of b, alternating which goes first, after
// one call of each to warm up, and returns each one's median.
func medians(a, b func(), n int) (time.Duration, time.Duration) {
	a()
	b()
	var ta, tb []time.Duration
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}
	for i := range n {
		if i%2 == 0 {
			ta = append(ta, timed(a))
			tb = append(tb, timed(b))
		} else {
			tb = append(tb, timed(b))
			ta = append(ta, timed(a))
		}
	}
	slices.Sort(ta)
	slices.Sort(tb)
	return ta[n/2], tb[n/2]
}
