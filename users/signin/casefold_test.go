package signin_test

import (
	"context"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/users/signin"
)

// Sign-in finds a user by any spelling of its username that differs only in
// case, non-ASCII letters included (Unicode simple case folding).
func TestSignInWithEitherCaseOfAUsername(t *testing.T) {
	e := authoritytest.Start(t)
	ctx := context.Background()
	for _, c := range []struct{ stored, typed string }{{"Ärzte", "ärzte"}, {"ärzte-2", "ÄRZTE-2"}, {"νίκος", "ΝΊΚΟΣ"}} {
		u := e.LocalUser(c.stored, "a-long-password")
		for _, name := range []string{c.stored, c.typed} {
			res, err := e.App.SignIn.Login(ctx, signin.Request{Username: name, Password: "a-long-password"}, "192.0.2.1")
			if err != nil || res.User.ID != u.ID {
				t.Errorf("sign in as %q (stored %q): user %d, %v; want %d", name, c.stored, res.User.ID, err, u.ID)
			}
		}
	}
}
