package dirsync

import (
	"testing"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
)

func TestKeptScriptsCarryOverOnlyWhileTheScriptsAreTheSame(t *testing.T) {
	var k keptScripts
	a := ldapauth.Server{ID: 1, ActiveScript: "function(entry) { return true; }",
		OrgNameScript: `function(entry) { return "Sales"; }`, RoleNameScript: `function(entry) { return []; }`}
	b := ldapauth.Server{ID: 2, ActiveScript: "function(entry) { return false; }"}

	// First run: nothing kept.
	setA, err := k.compile(a)
	if err != nil {
		t.Fatal(err)
	}
	r1, l1 := k.runners(map[int64]*script.Set{1: setA}, 0)
	if r1 == nil || l1 == nil || r1 == l1 {
		t.Fatalf("runners: %p %p, want two new ones", r1, l1)
	}
	k.keep(map[int64]*script.Set{1: setA}, r1, l1)

	// The same scripts: the same compiled set and Runners.
	again, err := k.compile(a)
	if err != nil || again != setA {
		t.Fatalf("compile unchanged scripts: %p (%v), want the kept %p", again, err, setA)
	}
	r2, l2 := k.runners(map[int64]*script.Set{1: again}, 0)
	if r2 != r1 || l2 != l1 {
		t.Fatal("unchanged scripts: the kept Runners were not reused")
	}
	// Taken: a second taker (there is none while a run holds the slot) gets new ones.
	if r, _ := k.runners(map[int64]*script.Set{1: again}, 0); r == r1 {
		t.Fatal("the kept Runners were handed out twice")
	}
	k.keep(map[int64]*script.Set{1: again}, r2, l2)

	// A script edited: compiled again, new Runners.
	edited := a
	edited.OrgNameScript = `function(entry) { return "Support"; }`
	setE, err := k.compile(edited)
	if err != nil || setE == setA {
		t.Fatalf("compile edited scripts: %p (%v), want a new set", setE, err)
	}
	if r, _ := k.runners(map[int64]*script.Set{1: setE}, 0); r == r1 {
		t.Fatal("edited scripts: the old Runners were reused")
	}
	k.keep(map[int64]*script.Set{1: setE}, r2, l2)

	// Another server in the run: new Runners too.
	setB, err := k.compile(b)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := k.runners(map[int64]*script.Set{1: setE, 2: setB}, 0); r == r2 {
		t.Fatal("a server added: the old Runners were reused")
	}

	// A script that does not compile is an error, never a kept set.
	broken := a
	broken.ActiveScript = "function(entry) { return ( }"
	if _, err := k.compile(broken); err == nil {
		t.Fatal("a broken script compiled")
	}
}
