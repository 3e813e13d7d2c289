package users_test

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users"
)

// A user's text fields take at most 256 characters (not bytes: "ä" counts
// once), and no control characters; over it, the field is named
// (docs/rules.md section 10). The same holds for the list's filters.
func TestUserFieldLimits(t *testing.T) {
	w := newWorld(t)
	at := func(c string) string { return strings.Repeat(c, 256) }
	ok := users.NewUser{Username: at("ä"), Password: "a-long-password", Email: at("e"), FirstName: at("ö"), LastName: at("ü"), OrgID: w.org.ID}
	w.ok(w.app.Users.Create(w.ctx, ok))
	for field, n := range map[string]users.NewUser{
		"username":  {Username: at("b") + "b", Password: "a-long-password", OrgID: w.org.ID},
		"email":     {Username: "e1", Password: "a-long-password", Email: at("é") + "é", OrgID: w.org.ID},
		"firstName": {Username: "e2", Password: "a-long-password", FirstName: at("f") + "f", OrgID: w.org.ID},
		"lastName":  {Username: "e3", Password: "a-long-password", LastName: at("l") + "l", OrgID: w.org.ID},
	} {
		_, err := w.app.Users.Create(w.ctx, n)
		if e, ok := apperr.As(err); !ok || e.Field != field || !strings.Contains(e.Message, "too long: 257 characters, at most 256") {
			t.Errorf("%s of 257 characters: %v", field, err)
		}
	}
	for field, n := range map[string]users.NewUser{
		"username":  {Username: "a\x1b[31mb", Password: "a-long-password", OrgID: w.org.ID},
		"email":     {Username: "c1", Password: "a-long-password", Email: "x@example.com\nBcc: y@example.com", OrgID: w.org.ID},
		"firstName": {Username: "c2", Password: "a-long-password", FirstName: "a\u0085b", OrgID: w.org.ID},
		"lastName":  {Username: "c3", Password: "a-long-password", LastName: "\xff", OrgID: w.org.ID},
	} {
		_, err := w.app.Users.Create(w.ctx, n)
		if e, ok := apperr.As(err); !ok || e.Field != field {
			t.Errorf("%s with a control character or not UTF-8: %v, want refused", field, err)
		}
	}
	if list, err := w.app.Users.List(w.ctx, users.Filter{Search: at("ä")}); err != nil || len(list) != 1 {
		t.Errorf("search of 256 characters: %v, %v", list, err)
	}
	for field, f := range map[string]users.Filter{"search": {Search: at("s") + "s"}, "username": {Username: at("u") + "u"}} {
		if _, err := w.app.Users.List(w.ctx, f); !apperr.Is(err, apperr.KindInvalid) {
			t.Errorf("%s of 257 characters: %v, want invalid", field, err)
		}
	}
}
