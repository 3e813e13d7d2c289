package web_test

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/clientaddr"
)

// SPEC 10: the client address is the TCP peer; X-Forwarded-For counts only
// when the peer is one of --trusted-proxies. Three failures are the limit
// per address here.
func TestClientAddressAndTrustedProxies(t *testing.T) {
	fwd := func(addr string) map[string]string {
		return map[string]string{"X-Forwarded-For": "203.0.113.9, " + addr}
	}
	attempt := func(e *authoritytest.Env, username, password, from string) (int, string) {
		code, _, body := send(t, e, "", "/api/v1/login", map[string]any{"username": username, "password": password}, fwd(from))
		return code, body
	}

	t.Run("behind a trusted proxy", func(t *testing.T) {
		proxies, err := clientaddr.ParseTrusted("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		e := authoritytest.Start(t, func(c *authority.Config) { c.TrustedProxies = proxies })
		e.LocalUser("alice", "alice-password-1")
		putSecurity(t, e, map[string]any{"perAddressFailures": 3})
		for _, u := range []string{"u1", "u2", "u3", "u4"} {
			if code, body := attempt(e, u, "wrong", "198.51.100.1"); code != 401 {
				t.Fatalf("%s: %d %s", u, code, body)
			}
		}
		if code, body := attempt(e, "alice", "alice-password-1", "198.51.100.1"); code != 429 {
			t.Fatalf("from the blocked client: %d %s, want 429", code, body)
		}
		if code, body := attempt(e, "alice", "alice-password-1", "198.51.100.2"); code != 200 {
			t.Fatalf("from another client of the proxy: %d %s, want 200", code, body)
		}
		if code, _, body := loginAs(t, e, "alice", "alice-password-1"); code != 200 {
			t.Fatalf("from the proxy itself: %d %s, want 200", code, body)
		}
		if !strings.Contains(strings.Join(authLines(t, e), "\n"), "AUTH:: refused user:u1 from:198.51.100.1 reason:unknownUser") {
			t.Fatalf("the log does not name the forwarded client:\n%s", strings.Join(authLines(t, e), "\n"))
		}
	})

	t.Run("no trusted proxy", func(t *testing.T) {
		e := authoritytest.Start(t)
		e.LocalUser("alice", "alice-password-1")
		putSecurity(t, e, map[string]any{"perAddressFailures": 3})
		for i, u := range []string{"u1", "u2", "u3", "u4"} {
			if code, body := attempt(e, u, "wrong", "198.51.100."+itoa(int64(i+1))); code != 401 {
				t.Fatalf("%s: %d %s", u, code, body)
			}
		}
		// The forwarded addresses were ignored: the peer made four failures.
		if code, body := attempt(e, "alice", "alice-password-1", "198.51.100.99"); code != 429 {
			t.Fatalf("after four failures from the peer: %d %s, want 429", code, body)
		}
		if !strings.Contains(strings.Join(authLines(t, e), "\n"), "AUTH:: refused user:u1 from:127.0.0.1 reason:unknownUser") {
			t.Fatalf("the log does not name the peer:\n%s", strings.Join(authLines(t, e), "\n"))
		}
	})
}
