package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
)

// Secrets stay with their host (SPEC section 10): over the API and in the
// console, saving where or how a stored password would travel without the
// password again is refused, naming the password field.

// TestNotificationsAPIPasswordStaysWithServer: PUT /settings/notifications
// with another host, port, STARTTLS setting or username and no password is
// 400 on smtp.password; the same server without a password keeps it.
func TestNotificationsAPIPasswordStaysWithServer(t *testing.T) {
	e := authoritytest.Start(t)
	smtp := map[string]any{"host": "mail.example.com", "port": 587, "username": "mailer", "password": "smtp-pw-0815", "startTLS": true}
	body := func(change map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range smtp {
			if k != "password" {
				m[k] = v
			}
		}
		for k, v := range change {
			m[k] = v
		}
		return map[string]any{"emails": []string{"ops@example.com"}, "smtp": m}
	}
	if code, raw := e.Raw(e.Token, "PUT", "/api/v1/settings/notifications", body(map[string]any{"password": "smtp-pw-0815"})); code != 200 {
		t.Fatalf("put: %d %s", code, raw)
	}
	for _, change := range []map[string]any{
		{"host": "mail.attacker.example"},
		{"port": 25},
		{"startTLS": false},
		{"username": "other"},
	} {
		var er apiError
		code := e.Do("PUT", "/api/v1/settings/notifications", body(change), &er)
		if code != 400 || er.Field != "smtp.password" || !strings.Contains(er.Error, "enter the password again") {
			t.Errorf("PUT with %v and no password: %d %+v, want 400 on smtp.password", change, code, er)
		}
	}
	var n struct {
		SMTP struct {
			Host        string `json:"host"`
			HasPassword bool   `json:"hasPassword"`
		} `json:"smtp"`
	}
	if code := e.Do("PUT", "/api/v1/settings/notifications", body(nil), &n); code != 200 || n.SMTP.Host != "mail.example.com" || !n.SMTP.HasPassword {
		t.Errorf("PUT of the same server without a password: %d %+v", code, n)
	}
	if code := e.Do("PUT", "/api/v1/settings/notifications", body(map[string]any{"host": "mail2.example.com", "password": "new-pw"}), &n); code != 200 || n.SMTP.Host != "mail2.example.com" {
		t.Errorf("PUT of another host with the password: %d %+v", code, n)
	}
}

// TestLDAPAPIPasswordStaysWithServer: PATCH /ldap/servers/{id} (and the
// test of unsaved settings) with another scheme, port, StartTLS or bind DN
// and no bindPassword is 400 on bindPassword; another base DN keeps it.
func TestLDAPAPIPasswordStaysWithServer(t *testing.T) {
	e, g, body := ldapEnv(t)
	var srv ldapServerJSON
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &srv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	id := itoa(srv.ID)
	u, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	for _, change := range []map[string]any{
		{"url": "ldaps://" + u.Host + u.Path},
		{"url": "ldap://" + u.Hostname() + ":" + strconv.Itoa(port+1) + u.Path},
		{"url": "ldap://localhost:" + u.Port() + u.Path},
		{"startTLS": true},
		{"bindDN": "cn=someone,dc=example,dc=com"},
	} {
		for _, path := range []string{"/api/v1/ldap/servers/" + id, "/api/v1/ldap/servers/" + id + "/test"} {
			method := "PATCH"
			if strings.HasSuffix(path, "/test") {
				method = "POST"
			}
			var er ldapErrJSON
			code := e.Do(method, path, change, &er)
			if code != 400 || er.Field != "bindPassword" || !strings.HasPrefix(er.Error, "bindPassword: enter the bind password again") {
				t.Errorf("%s %s %v without bindPassword: %d %+v, want 400 on bindPassword", method, path, change, code, er)
			}
		}
	}
	// Another base DN keeps the password: the stored server still binds.
	if code, raw := e.Raw(e.Token, "PATCH", "/api/v1/ldap/servers/"+id, map[string]any{"url": "ldap://" + u.Host + "/ou=users," + strings.TrimPrefix(u.Path, "/")}); code != 200 {
		t.Fatalf("another base DN: %d %s", code, raw)
	}
	var tr struct{ Reachable, Bindable bool }
	if code := e.Do("POST", "/api/v1/ldap/servers/"+id+"/test", nil, &tr); code != 200 || !tr.Bindable {
		t.Errorf("test after a new base DN: %d %+v", code, tr)
	}
}

// TestConsoleLDAPPasswordBoxOpensForEveryMove: saving the setup form with a
// new port, ldaps:// or a new bind DN without opening the password box is
// refused with the box open and the error next to it; so is testing those
// unsaved settings without JavaScript.
func TestConsoleLDAPPasswordBoxOpensForEveryMove(t *testing.T) {
	g := consoleGlauth(t)
	e := startConsole(t)
	e.signIn()
	e.follow("/settings/ldap/servers/new")
	code, loc, body := e.post("/settings/ldap/servers", addServerForm(g), false)
	if code != http.StatusSeeOther {
		t.Fatalf("add server: %d\n%s", code, body)
	}
	e.follow(loc)
	u, _ := url.Parse(g.URL)
	port, _ := strconv.Atoi(u.Port())
	openBox := regexp.MustCompile(`(?s)id="bindPassword" name="bindPassword" type="password" autocomplete="new-password">.*?class="field-error"[^>]*>Enter the bind password again`)
	for name, edit := range map[string]func(url.Values){
		"another port":    func(f url.Values) { f.Set("url", "ldap://"+u.Hostname()+":"+strconv.Itoa(port+1)+u.Path) },
		"ldaps":           func(f url.Values) { f.Set("url", "ldaps://"+u.Host+u.Path) },
		"StartTLS on":     func(f url.Values) { f.Set("startTLS", "1") },
		"another bind DN": func(f url.Values) { f.Set("bindDN", "cn=someone,dc=example,dc=com") },
	} {
		for _, action := range []string{"save", "test"} {
			form := addServerForm(g)
			form.Del("bindPassword")
			edit(form)
			if action == "test" {
				form.Set("action", "test")
			}
			code, _, body := e.post(loc, form, false)
			if code != http.StatusBadRequest || !openBox.MatchString(body) {
				t.Errorf("%s, %s without the password: %d, want the open password box with the error", name, action, code)
			}
		}
	}
	srv, err := e.app.LDAP.Get(context.Background(), mustInt(t, strings.TrimPrefix(loc, "/settings/ldap/servers/")))
	if err != nil || srv.URL != g.URL || srv.StartTLS || srv.BindDN != g.BindDN || srv.BindPassword != g.BindPassword {
		t.Fatalf("a refused form changed the server: %v %+v", err, srv)
	}
}

// TestConsoleSMTPPasswordStaysWithServer: the Notifications page refuses a
// new port without the password, with the error under the password.
func TestConsoleSMTPPasswordStaysWithServer(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	e.follow("/settings/notifications")
	form := url.Values{"emails": {"ops@example.com"}, "smtp.host": {"mail.example.com"}, "smtp.port": {"587"},
		"smtp.username": {"mailer"}, "passwordEdit": {"1"}, "smtp.password": {"smtp-Secret-4711"}}
	if code, _, body := e.post("/settings/notifications", form, false); code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	form.Del("passwordEdit")
	form.Del("smtp.password")
	form.Set("smtp.port", "2525")
	code, _, body := e.post("/settings/notifications", form, false)
	if code != http.StatusBadRequest || !regexp.MustCompile(`(?s)id="smtp-password".*?class="field-error"[^>]*>Enter the password again`).MatchString(body) {
		t.Fatalf("a new port without the password: %d, want the error under the password\n%s", code, body)
	}
	n, _ := e.app.Sync.Notifications(context.Background())
	if n.SMTP.Port != 587 || !n.SMTP.HasPassword {
		t.Fatalf("a refused form changed the settings: %+v", n.SMTP)
	}
}
