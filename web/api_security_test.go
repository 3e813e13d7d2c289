package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// SPEC section 10 through the API: roles that rule the server, the last
// administrator, password changes and token revocation.
func TestAPIRolesPasswordsAndTokens(t *testing.T) {
	e := authoritytest.Start(t)
	admin, err := e.App.Users.ByUsername(e.T.Context(), users.BuiltinAdmin)
	if err != nil {
		t.Fatal(err)
	}
	pat := e.LocalUser("pat", "pat-password-1")
	userPath := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/users/%d%s", id, rest) }
	var errBody struct{ Error, Field string }

	// SYSADMIN is neither an org default role nor on the Role Mapping list.
	if code := e.Do("PATCH", fmt.Sprintf("/api/v1/orgs/%d", admin.OrgID), map[string]any{"defaultRoles": []string{"Desktop User", "SYSADMIN"}}, &errBody); code != 400 || errBody.Field != "defaultRoles" {
		t.Errorf("SYSADMIN as a default role: %d %+v", code, errBody)
	}
	if code := e.Do("PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{"Desktop User", "SYSADMIN"}}, &errBody); code != 400 {
		t.Errorf("SYSADMIN on the Role Mapping list: %d %+v", code, errBody)
	}

	// Roles by hand: known roles only; the last administrator keeps SYSADMIN.
	var u users.User
	if code := e.Do("PUT", userPath(pat.ID, "/roles"), map[string]any{"roles": []string{"org admin", "Nope"}}, &errBody); code != 400 || errBody.Field != "roles" {
		t.Errorf("unknown role: %d %+v", code, errBody)
	}
	if code := e.Do("PUT", userPath(pat.ID, "/roles"), map[string]any{"roles": []string{"org admin"}}, &u); code != 200 || len(u.Roles) != 1 || u.Roles[0] != "Org Admin" {
		t.Errorf("set roles: %d %+v", code, u.Roles)
	}
	if code := e.Do("PUT", userPath(admin.ID, "/roles"), map[string]any{"roles": []string{"Desktop User"}}, &errBody); code != http.StatusConflict {
		t.Errorf("take SYSADMIN from the last administrator: %d %+v", code, errBody)
	}
	for _, action := range []string{"/block", "/deactivate"} {
		if code := e.Do("POST", userPath(admin.ID, action), nil, &errBody); code != http.StatusConflict {
			t.Errorf("%s the last administrator: %d %+v", action, code, errBody)
		}
	}

	// A second administrator: taking SYSADMIN from it signs it out.
	boss := e.LocalUser("boss", "boss-password-1", roles.Sysadmin)
	var tok struct{ Token string }
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "boss", "password": "boss-password-1"}, &tok); code != 200 {
		t.Fatalf("boss token: %d", code)
	}
	if code := e.Do("PUT", userPath(boss.ID, "/roles"), map[string]any{"roles": []string{"Desktop User"}}, &u); code != 200 {
		t.Fatalf("take SYSADMIN from boss: %d", code)
	}
	if code := e.DoAs(tok.Token, "GET", "/api/v1/users", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("boss's token after losing SYSADMIN: %d, want 401", code)
	}

	// Passwords: at least 10 characters; the administrator's own change needs
	// the current one and signs its tokens out.
	if code := e.Do("POST", userPath(pat.ID, "/password"), map[string]string{"password": "short"}, &errBody); code != 400 || errBody.Field != "password" {
		t.Errorf("short password: %d %+v", code, errBody)
	}
	if code := e.Do("POST", userPath(pat.ID, "/password"), map[string]string{"password": "pat-password-2"}, nil); code != http.StatusNoContent {
		t.Errorf("administrator sets pat's password: %d", code)
	}
	if got, _ := e.App.Users.Get(e.T.Context(), pat.ID); !users.CheckPassword(got, "pat-password-2") {
		t.Error("pat's new password does not work")
	}
	if code := e.Do("POST", userPath(admin.ID, "/password"), map[string]string{"currentPassword": "wrong-one", "password": "admin-password-2"}, &errBody); code != 400 || errBody.Field != "currentPassword" {
		t.Errorf("own change with a wrong current password: %d %+v", code, errBody)
	}
	if code := e.Do("POST", userPath(admin.ID, "/password"), map[string]string{"currentPassword": authoritytest.AdminPassword, "password": "admin-password-2"}, nil); code != http.StatusNoContent {
		t.Errorf("own change: %d", code)
	}
	if code := e.Do("GET", "/api/v1/users", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("the old token after a password change: %d, want 401", code)
	}
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": "admin-password-2"}, &tok); code != 200 {
		t.Errorf("sign in with the new password: %d", code)
	}
	// Sign-out: the calling token stops working.
	if code := e.DoAs(tok.Token, "DELETE", "/api/v1/auth/token", nil, nil); code != http.StatusNoContent {
		t.Errorf("sign out: %d", code)
	}
	if code := e.DoAs(tok.Token, "GET", "/api/v1/users", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("a token after sign-out: %d", code)
	}
}
