package users_test

import (
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// The last active administrator can be neither deactivated nor blocked; once
// another administrator is active, it can.
func TestLastAdministratorGuard(t *testing.T) {
	w := newWorld(t)
	admin, err := w.app.Users.ByUsername(w.ctx, users.BuiltinAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func() error{
		"deactivate": func() error { _, err := w.app.Users.Deactivate(w.ctx, admin.ID, users.ReasonAdmin); return err },
		"block":      func() error { _, err := w.app.Users.Block(w.ctx, admin.ID); return err },
	} {
		if err := fn(); !apperr.Is(err, apperr.KindConflict) {
			t.Errorf("%s the last administrator: %v, want a conflict", name, err)
		}
	}
	if u, _ := w.app.Users.Get(w.ctx, admin.ID); u.Status != users.StatusActive {
		t.Fatalf("the last administrator is %s", u.Status)
	}
	// A second administrator, blocked, does not count; active, it does.
	other := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "ops", Password: "a-long-password", OrgID: w.org.ID, Roles: []string{roles.Sysadmin}}))
	w.ok(w.app.Users.Block(w.ctx, other.ID))
	if _, err := w.app.Users.Block(w.ctx, admin.ID); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("block the last active administrator: %v", err)
	}
	w.ok(w.app.Users.Unblock(w.ctx, other.ID))
	w.ok(w.app.Users.Block(w.ctx, admin.ID))
	if _, err := w.app.Users.Deactivate(w.ctx, other.ID, users.ReasonAdmin); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("deactivate the other, now last, administrator: %v", err)
	}
}

// Blocking and deactivating revoke a user's tokens: they do not come back
// when the user is unblocked or reactivated.
func TestBlockAndDeactivateRevokeTokens(t *testing.T) {
	w := newWorld(t)
	for _, step := range []struct {
		name  string
		off   func(id int64) (users.User, error)
		back  func(id int64) (users.User, error)
		admin bool
	}{
		{"block", func(id int64) (users.User, error) { return w.app.Users.Block(w.ctx, id) }, func(id int64) (users.User, error) { return w.app.Users.Unblock(w.ctx, id) }, true},
		{"deactivate", func(id int64) (users.User, error) { return w.app.Users.Deactivate(w.ctx, id, users.ReasonAdmin) }, func(id int64) (users.User, error) { return w.app.Users.Reactivate(w.ctx, id) }, false},
	} {
		u := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "tok-" + step.name, Password: "a-long-password", OrgID: w.org.ID}))
		tok, err := w.app.Users.IssueToken(w.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.app.Users.UserForToken(w.ctx, tok); err != nil {
			t.Fatalf("%s: a fresh token: %v", step.name, err)
		}
		w.ok(step.off(u.ID))
		w.ok(step.back(u.ID))
		if _, err := w.app.Users.UserForToken(w.ctx, tok); !apperr.Is(err, apperr.KindUnauthorized) {
			t.Errorf("%s then undo: the old token still works (%v)", step.name, err)
		}
	}
}

// A password change needs the current password from the user itself, not
// from an administrator; it is at least 10 characters and revokes tokens.
func TestChangePassword(t *testing.T) {
	w := newWorld(t)
	admin, _ := w.app.Users.ByUsername(w.ctx, users.BuiltinAdmin)
	u := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "pat", Password: "first-password", OrgID: w.org.ID}))
	tok, _ := w.app.Users.IssueToken(w.ctx, u.ID)
	for _, c := range []struct {
		by                users.User
		current, password string
		field             string
	}{
		{u, "first-password", "short", "password"},
		{u, "wrong-password", "second-password", "currentPassword"},
		{u, "", "second-password", "currentPassword"},
	} {
		err := w.app.Users.ChangePassword(w.ctx, u.ID, c.by, c.current, c.password)
		if e, ok := apperr.As(err); !ok || e.Field != c.field {
			t.Errorf("change with current %q to %q: %v, want field %s", c.current, c.password, err, c.field)
		}
	}
	if err := w.app.Users.ChangePassword(w.ctx, u.ID, u, "first-password", "second-password"); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.app.Users.Get(w.ctx, u.ID); !users.CheckPassword(got, "second-password") || users.CheckPassword(got, "first-password") {
		t.Error("the new password does not work, or the old one still does")
	}
	if _, err := w.app.Users.UserForToken(w.ctx, tok); err == nil {
		t.Error("a token survived the password change")
	}
	// An administrator sets it without the current one; a plain user cannot
	// set another's.
	if err := w.app.Users.ChangePassword(w.ctx, u.ID, admin, "", "third-password"); err != nil {
		t.Errorf("administrator sets a password: %v", err)
	}
	plain := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "sam", Password: "a-long-password", OrgID: w.org.ID}))
	if err := w.app.Users.ChangePassword(w.ctx, u.ID, plain, "", "fourth-password"); !apperr.Is(err, apperr.KindForbidden) {
		t.Errorf("a plain user sets another's password: %v", err)
	}
	// The command-line reset is for administrators only.
	if _, err := w.app.Users.ResetPassword(w.ctx, "sam", "a-new-password"); !apperr.Is(err, apperr.KindForbidden) {
		t.Errorf("reset a plain user's password: %v", err)
	}
	if got, err := w.app.Users.ResetPassword(w.ctx, "ADMIN", "a-new-password"); err != nil || !users.CheckPassword(got, "a-new-password") {
		t.Errorf("reset the administrator's password: %v", err)
	}
}

// SYSADMIN rules the server: neither an org's default role nor on the Role
// Mapping list, so no directory or registration key makes an administrator.
func TestSysadminIsNeverGivenByDirectories(t *testing.T) {
	w := newWorld(t)
	name, def := "Open", []string{"Desktop User", "sysadmin"}
	_, err := w.app.Orgs.Create(w.ctx, orgs.Input{Name: &name, DefaultRoles: &def})
	if e, ok := apperr.As(err); !ok || e.Field != "defaultRoles" {
		t.Errorf("SYSADMIN as a default role: %v", err)
	}
	if _, err := w.app.Orgs.Update(w.ctx, w.org.ID, orgs.Input{DefaultRoles: &def}); err == nil {
		t.Error("SYSADMIN accepted as a default role on update")
	}
	if _, err := w.app.Users.SetRoleMapping(w.ctx, []string{"Desktop User", roles.Sysadmin}); err == nil {
		t.Error("SYSADMIN accepted on the Role Mapping list")
	}
	if m, _ := w.app.Users.RoleMapping(w.ctx); len(m) == 0 {
		t.Error("a refused mapping change wrote something")
	}
}
