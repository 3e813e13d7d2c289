package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/users/roles"
)

// The API's answers to administrators' sign-in and tokens, now that the rules
// live in signin.Service.AdminSignIn and users.Service.AdminForToken.
func TestAdminAnswers(t *testing.T) {
	e := authoritytest.Start(t)
	ctx := context.Background()
	plain := e.LocalUser("plain", "plain-pw")
	boss := e.LocalUser("boss", "boss-pw", roles.Sysadmin)
	token := func(username, password string) (int, string) {
		code, raw := e.Raw("", "POST", "/api/v1/auth/token", map[string]string{"username": username, "password": password})
		return code, strings.TrimSpace(string(raw))
	}

	const notAdmin = `{"error":"user plain is not an administrator (needs the SYSADMIN role)"}`
	if code, body := token("plain", "plain-pw"); code != 403 || body != notAdmin {
		t.Errorf("non-administrator: %d %s, want 403 %s", code, body, notAdmin)
	}
	wrongCode, wrong := token("boss", "wrong")
	if wrongCode != 401 || wrong != `{"error":"invalid username, password or registration key"}` {
		t.Errorf("wrong password: %d %s", wrongCode, wrong)
	}
	bossTok, err := e.App.Users.IssueToken(ctx, boss.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Users.Block(ctx, boss.ID); err != nil {
		t.Fatal(err)
	}
	if code, body := token("boss", "boss-pw"); code != 401 || body != wrong {
		t.Errorf("blocked administrator, right password: %d %s, want the wrong-password answer %s", code, body, wrong)
	}

	get := func(tok string) (int, string, string) {
		req, _ := http.NewRequest("GET", e.Server.URL+"/api/v1/orgs", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(raw)), resp.Header.Get("WWW-Authenticate")
	}
	plainTok, err := e.App.Users.IssueToken(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, auth := get(plainTok); code != 403 || body != notAdmin || auth != "" {
		t.Errorf("a non-administrator's token: %d %s %q, want 403 %s without WWW-Authenticate", code, body, auth, notAdmin)
	}
	for what, tok := range map[string]string{"a blocked administrator's token": bossTok, "an unknown token": "bogus"} {
		if code, _, auth := get(tok); code != 401 || !strings.Contains(auth, `error="invalid_token"`) {
			t.Errorf("%s: %d %q, want 401 with WWW-Authenticate invalid_token", what, code, auth)
		}
	}
	if code, _, _ := get(e.Token); code != 200 {
		t.Errorf("the administrator's token: %d", code)
	}
}
