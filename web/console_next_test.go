package web

import "testing"

// After sign-in, next is only ever a path on this server (docs/rules.md
// section 10): a browser strips tabs and line breaks from a URL and reads a
// backslash as a slash, so each hostile form below would leave the site.
func TestSafeNextStaysOnThisServer(t *testing.T) {
	hostile := []string{
		"//evil.example", "///evil.example", `/\evil.example`, `\\evil.example`, `/\\evil`, `\/evil`,
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00/evil", "\t//evil.example",
		"/%09/evil.example", "/%0a/evil.example", "/%0D/evil.example", "/%00/evil", "/%5Cevil", "/%5cevil",
		"/%2F/evil.example", "/%2f%2fevil.example", "/users\\..\\..\\evil", "/users%5C..%5Cevil",
		"https://evil.example", "http:evil.example", "javascript:alert(1)", "//evil.example/%2e%2e",
		"evil.example", "users", " /users", "/users ", "/users\x7f", "/users\u0085", "/users\u2028x",
		"/%zz", "/login", "/login?next=//evil.example", "/%6Cogin", "/api/v1/orgs", "/%61pi/v1/orgs",
	}
	for _, next := range hostile {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q, want /", next, got)
		}
	}
	kept := []string{"/users", "/users/7", "/users?search=%C3%84rzte&page=2", "/orgs/3#top", "/settings/ldap/servers/1?page=2#preview", "/sync/runs"}
	for _, next := range kept {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
	}
	if got := safeNext(""); got != "/orgs" {
		t.Errorf("safeNext(\"\") = %q, want the home page /orgs", got)
	}
}
