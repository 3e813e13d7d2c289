package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The sign-in page keeps a hostile next through the form, and the redirect
// after signing in stays on this server (a browser reads "/\t/evil.example"
// as "//evil.example").
func TestConsoleSignInNextStaysOnThisServer(t *testing.T) {
	e := startConsole(t)
	for _, next := range []string{"/%09/evil.example", "/%5Cevil.example", "//evil.example", "/%2F/evil.example"} {
		e.follow("/login?next=" + next)
		code, loc, body := e.post("/login", url.Values{"username": {"admin"}, "password": {consoleAdminPassword}, "next": {mustUnescape(t, next)}}, false)
		if code != http.StatusSeeOther || loc != "/" {
			t.Fatalf("sign in with next=%s: status %d, location %q, want a redirect to /\n%s", next, code, loc, body)
		}
		// Signed in already: the sign-in page sends on at once.
		if code, loc, _ := e.get("/login?next=" + next); code != http.StatusSeeOther || loc != "/" {
			t.Fatalf("GET /login?next=%s signed in: %d %q, want a redirect to /", next, code, loc)
		}
		e.setCookieless()
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	v, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setCookieless signs the console client out by forgetting its cookies.
func (e *consoleEnv) setCookieless() {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range e.client.Jar.Cookies(u) {
		if !strings.HasPrefix(c.Name, "authority_csrf") {
			e.client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: "", Path: "/", MaxAge: -1}})
		}
	}
}
