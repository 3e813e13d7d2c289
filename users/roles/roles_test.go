package roles

import (
	"slices"
	"testing"
)

var testMapping = Mapping{"desktop user": "Desktop User", "proe user": "PROe User", "org admin": "Org Admin"}

func TestWanted(t *testing.T) {
	defaults := []string{"Desktop User", "PROe User"}
	for _, c := range []struct {
		name   string
		script []string
		want   []string
	}{
		{"mapped names in stored spelling, once, sorted", []string{" org ADMIN", "SYSADMIN", "nope", "Org Admin", "desktop user"}, []string{"Desktop User", "Org Admin"}},
		{"no result: the org's defaults", nil, defaults},
		{"empty result: the org's defaults", []string{}, defaults},
		{"only names off the list: the org's defaults", []string{"SYSADMIN", "Server Administrator"}, defaults},
	} {
		if got := testMapping.Wanted(c.script, defaults); !slices.Equal(got, c.want) {
			t.Errorf("%s: Wanted(%q) = %q, want %q", c.name, c.script, got, c.want)
		}
	}
	// The defaults are returned as the org has them, even off the list (a
	// new user gets them all, and Diff ignores those a sync may not manage),
	// but never SYSADMIN, which no org default may give.
	if got := testMapping.Wanted(nil, []string{"Server Administrator", "sysadmin"}); !slices.Equal(got, []string{"Server Administrator"}) {
		t.Errorf("defaults off the list: %q", got)
	}
	if err := RefuseRuling("defaultRoles", []string{"Desktop User", " SysAdmin "}); err == nil {
		t.Error("SYSADMIN accepted")
	}
}

func TestDiffAndApply(t *testing.T) {
	have := []string{"Desktop User", "SYSADMIN", "PROe User"}
	added, removed := testMapping.Diff(have, []string{"Org Admin", "desktop USER", "Server Administrator"})
	if !slices.Equal(added, []string{"Org Admin"}) || !slices.Equal(removed, []string{"PROe User"}) {
		t.Errorf("added %q removed %q", added, removed)
	}
	if got := Apply(have, added, removed); !slices.Equal(got, []string{"Desktop User", "Org Admin", "SYSADMIN"}) {
		t.Errorf("after: %q", got)
	}
	// Roles off the list are never removed, whatever is wanted.
	if _, removed := testMapping.Diff([]string{"SYSADMIN"}, nil); len(removed) != 0 {
		t.Errorf("removed %q off the list", removed)
	}
}
