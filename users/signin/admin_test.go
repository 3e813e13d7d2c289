package signin_test

import (
	"context"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users/roles"
	"github.com/authority-server/authority/users/signin"
)

// AdminSignIn and AdminForToken hold the administrator rules the API and
// the console share: right password, active, SYSADMIN.
func TestAdminSignInAndAdminForToken(t *testing.T) {
	e := authoritytest.Start(t)
	ctx := context.Background()
	plain := e.LocalUser("plain", "plain-pw", "Desktop User")
	boss := e.LocalUser("boss", "boss-pw", roles.Sysadmin)
	svc := e.App.SignIn

	u, bossTok, err := svc.AdminSignIn(ctx, " BOSS ", "boss-pw", "192.0.2.1")
	if err != nil || u.ID != boss.ID || bossTok == "" {
		t.Fatalf("boss: %+v %q %v", u, bossTok, err)
	}
	if got, err := e.App.Users.AdminForToken(ctx, bossTok); err != nil || got.ID != boss.ID {
		t.Fatalf("AdminForToken(boss's token): %+v %v", got, err)
	}

	for _, c := range []struct{ username, password string }{{"boss", "wrong"}, {"nobody", "pw"}, {"boss", ""}} {
		if u, tok, err := svc.AdminSignIn(ctx, c.username, c.password, "192.0.2.1"); err != signin.ErrInvalidCredentials || u.ID != 0 || tok != "" {
			t.Errorf("%s/%q: %+v %q %v, want ErrInvalidCredentials", c.username, c.password, u, tok, err)
		}
	}

	// Not an administrator: Forbidden naming the role, with the user so that
	// the console can name the account.
	u, tok, err := svc.AdminSignIn(ctx, "plain", "plain-pw", "192.0.2.1")
	e2, ok := apperr.As(err)
	if !ok || e2.Kind != apperr.KindForbidden || e2.Error() != "user plain is not an administrator (needs the SYSADMIN role)" || u.ID != plain.ID || tok != "" {
		t.Fatalf("plain: %+v %q %v", u, tok, err)
	}
	plainTok, err := e.App.Users.IssueToken(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Users.AdminForToken(ctx, plainTok); !apperr.Is(err, apperr.KindForbidden) {
		t.Fatalf("AdminForToken(plain's token): %v, want Forbidden", err)
	}

	// A blocked administrator: the same answer as a wrong password, and its
	// token stops working.
	if _, err := e.App.Users.Block(ctx, boss.ID); err != nil {
		t.Fatal(err)
	}
	if u, tok, err := svc.AdminSignIn(ctx, "boss", "boss-pw", "192.0.2.1"); err != signin.ErrInvalidCredentials || u.ID != 0 || tok != "" {
		t.Fatalf("blocked boss: %+v %q %v, want ErrInvalidCredentials", u, tok, err)
	}
	if _, err := e.App.Users.AdminForToken(ctx, bossTok); !apperr.Is(err, apperr.KindUnauthorized) {
		t.Fatalf("AdminForToken(blocked boss's token): %v, want Unauthorized", err)
	}
	if _, err := e.App.Users.AdminForToken(ctx, "bogus"); !apperr.Is(err, apperr.KindUnauthorized) {
		t.Fatalf("AdminForToken(bogus): %v, want Unauthorized", err)
	}
}
