package signin_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/testenv"
)

// SPEC section 5, item 7: a script that fails for the person at
// registration is the administrator's problem. The person gets 503 with one
// fixed message, no user is created, and the server log names the username
// and the script's message. Each of the three scripts throws for one person;
// the others register as usual.
func TestRegistrationScriptFailureIs503(t *testing.T) {
	e := authoritytest.Start(t)
	g := demoGlauth(t)
	active := `function(entry) { if (entry.cn == "erin") { throw new Error("active boom for erin"); } return true; }`
	orgName := `function(entry) { if (entry.cn == "frank") { throw new Error("org boom for frank"); } return ""; }`
	role := `function(entry) { if (entry.cn == "bob") { throw new Error("role boom for bob"); } return ["Org Admin"]; }`
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, adFilter, active, orgName, role)

	const want = `{"error":"the directory scripts failed for this account; ask your administrator"}`
	for _, who := range []struct{ username, message string }{
		{"erin", "active boom for erin"},
		{"frank", "org boom for frank"},
		{"bob", "role boom for bob"},
	} {
		code, _, raw := login(t, e, map[string]any{"username": who.username, "password": testenv.DemoPassword,
			"registrationKey": org.RegistrationKey, "deviceGuid": who.username + "-1"})
		if code != 503 || strings.TrimSpace(raw) != want {
			t.Errorf("%s: %d %s, want 503 %s", who.username, code, raw, want)
		}
		if u, err := e.App.Users.ByUsername(context.Background(), who.username); err == nil {
			t.Errorf("%s: a user was created although a script failed: %+v", who.username, u)
		}
		logged := false
		for _, line := range logLines(t, e) {
			if strings.Contains(line, who.username) && strings.Contains(line, who.message) {
				logged = true
			}
		}
		if !logged {
			t.Errorf("%s: no log line names the username and the script's message %q", who.username, who.message)
		}
		// The sign-in log (SPEC 10) has the refusal with its reason.
		authLine := "AUTH:: refused user:" + who.username + " from:127.0.0.1 reason:scriptFailed"
		if !slices.ContainsFunc(logLines(t, e), func(l string) bool { return strings.HasSuffix(l, authLine) }) {
			t.Errorf("%s: no log line %q", who.username, authLine)
		}
	}

	// The scripts work for everybody else.
	code, res, raw := login(t, e, map[string]any{"username": "alice", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey})
	if code != 200 || strings.Join(res.User.Roles, ",") != "Org Admin" {
		t.Fatalf("alice: %d %s", code, raw)
	}
	// A wrong password is still the uniform 401, before any script runs.
	if code, _, raw := login(t, e, map[string]any{"username": "bob", "password": "wrong", "registrationKey": org.RegistrationKey}); code != 401 {
		t.Fatalf("bob, wrong password: %d %s", code, raw)
	}
}

// logLines returns the lines of the test server's log.
func logLines(t *testing.T, e *authoritytest.Env) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, "logs", "authority.log"))
	if err != nil {
		t.Fatalf("read the server log: %v", err)
	}
	return strings.Split(string(b), "\n")
}
