package users_test

import (
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users"
)

// Usernames compare by Unicode simple case folding, in Go and in SQL alike
// (docs/rules.md section 1): two users differing only in non-ASCII case
// cannot both exist, and every lookup by name finds the one user.
func TestUsernamesAreUniqueIgnoringUnicodeCase(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct{ name, other string }{{"Ärzte", "ärzte"}, {"ΝΊΚΟΣ", "νίκος"}, {"\u212Aarl", "karl"}, {"ſam", "SAM"}} {
		u := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: c.name, Password: "a-long-password", OrgID: w.org.ID}))
		_, err := w.app.Users.Create(w.ctx, users.NewUser{Username: c.other, Password: "a-long-password", OrgID: w.org.ID})
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != "username" {
			t.Errorf("create %q next to %q: %v, want invalid username", c.other, c.name, err)
		}
		for _, n := range []string{c.name, c.other} {
			if got, err := w.app.Users.ByUsername(w.ctx, n); err != nil || got.ID != u.ID {
				t.Errorf("ByUsername(%q) = %d, %v; want %s (%d)", n, got.ID, err, c.name, u.ID)
			}
			if list, err := w.app.Users.List(w.ctx, users.Filter{Username: n}); err != nil || len(list) != 1 || list[0].ID != u.ID {
				t.Errorf("List(username %q) = %v, %v; want %s only", n, list, err, c.name)
			}
		}
	}
	// The search box folds usernames too.
	if list, err := w.app.Users.List(w.ctx, users.Filter{Search: "ÄRZ"}); err != nil || len(list) != 1 || list[0].Username != "Ärzte" {
		t.Errorf("search ÄRZ: %v, %v; want Ärzte", list, err)
	}
}
