package dirsync_test

import (
	"testing"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// A sync matches an entry to the user whose username differs from the
// entry's only in case, non-ASCII letters included: both sides fold with
// casefold.Key (a lower-casing Go map missed "ΝΊΚΟΣ" = "νίκος", whose final
// sigma has no upper-case form of its own).
func TestSyncMatchesUsernamesIgnoringUnicodeCase(t *testing.T) {
	e := start(t)
	g := testenv.StartGlauth(t, []testenv.GlauthUser{
		{Name: "νίκος", Password: "pw-nikos", GivenName: "Νίκος", SN: "Παπαδόπουλος", Mail: []string{"nikos@example.com"}},
		{Name: "Ärzte", Password: "pw-arzte", GivenName: "Anna", SN: "Ärztin", Mail: []string{"aerzte@example.com"}},
		{Name: "ſtefan", Password: "pw-stefan", GivenName: "Stefan", SN: "Long", Mail: []string{"stefan@example.com"}},
	})
	srv := e.server(glauthInput(g))
	org := e.ldapOrg("Corp", srv.ID)
	ids := e.users(org.ID, "ΝΊΚΟΣ", "ärzte", "Stefan")

	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK || run.Counts.Deactivated != 0 {
		t.Fatalf("run: %s, counts %+v, changes %+v; want every user found", run.Status, run.Counts, run.Changes)
	}
	for name, entry := range map[string]string{"ΝΊΚΟΣ": "νίκος", "ärzte": "Ärzte", "Stefan": "ſtefan"} {
		u := e.user(ids[name])
		if u.Status != users.StatusActive || u.LDAPDN != g.UserDN(entry) || u.Email != entry2mail[entry] {
			t.Errorf("%s: status %s, DN %q, email %q; want active, matched to %q", name, u.Status, u.LDAPDN, u.Email, g.UserDN(entry))
		}
	}
}

var entry2mail = map[string]string{"νίκος": "nikos@example.com", "Ärzte": "aerzte@example.com", "ſtefan": "stefan@example.com"}
