package script

import (
	"fmt"
	"slices"
	"testing"
)

// Which scripts a Runner may remember the answers of: the documented
// examples that read attributes, and nothing that could keep state between
// calls, ask the time, draw random numbers or read the DN.
func TestPureScripts(t *testing.T) {
	for _, c := range []struct {
		src  string
		memo bool
	}{
		{ExampleActiveDisabled, true},
		{ExampleActiveEmployeeType, true},
		{ExampleRolesByGroup, true},
		{ExampleRolesServerWide, true},
		{ExampleOrgNameByOU, false}, // reads the DN
		{`function(entry) { return entry["dn"].length > 3; }`, false},
		{`(entry) => entry.mail != null`, true},
		{`function isActive(entry) { var x = 0; for (var i = 0; i < 3; i++) { x += i; } return x > 1 && !!entry.mail; }`, true},
		{`function(entry) { for (i = 0; i < 3; i++) {} return true; }`, false},                     // i is a global
		{`function(entry) { n = (n || 0) + 1; return n > 1; }`, false},                             // a counter between calls
		{`function(entry) { return Math.random() > 0.5; }`, false},                                 // random
		{`function(entry) { var m = Math; return m.random() > 0.5; }`, false},                      // random, through an alias
		{`function(entry) { return Math.floor(entry.uid / 2) > 1; }`, true},                        // Math otherwise
		{`function(entry) { return new Date().getDay() > 2; }`, false},                             // the time
		{`function(entry) { return this.x; }`, false},                                              // the global object
		{`function(entry) { String.prototype.x = 1; return true; }`, false},                        // a shared prototype
		{`function(entry) { var s = ""; return s.constructor === String; }`, false},                // constructor
		{`function(entry) { return entry.groups.some(function(g) { return g == "x"; }); }`, false}, // a nested function
		{`function(entry) { { let x = 1; } x = 2; return true; }`, false},                          // x is a global here
		{`function(entry) { let r = []; r.push(entry.mail); return r.length > 0; }`, true},
		{`function(entry) { var Date = 1; return Date > 0; }`, false},                        // shadows a global
		{`function(entry) { return typeof counter == "undefined"; }`, false},                 // another global
		{`function(entry) { var o = {mail: entry.mail}; o.x = 1; return !!o.mail; }`, false}, // a property assigned
		{`function(entry) { return Object.keys(entry).length > 1; }`, false},                 // the whole entry
		{`function(entry) { try { return entry.x.y; } catch (e) { return false; } }`, true},
		{`function(entry) { return eval("true"); }`, false},
		{`function(entry) { return arguments.length == 1; }`, false},
		{`function f(entry) { f = null; return true; }`, false}, // assigns its own name
	} {
		p, err := Compile("activeScript", c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if p.memo != c.memo {
			t.Errorf("memo %v, want %v: %s", p.memo, c.memo, c.src)
		}
	}
}

// A Runner answers a pure script from its memo for entries alike, with the
// answers a fresh Runner gives, and copies that the caller may change; an
// impure script runs every time.
func TestMemoAnswers(t *testing.T) {
	roles, err := Compile("roleNameScript", ExampleRolesByGroup)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(0)
	groups := [][]string{nil, {"cn=Security,ou=g"}, {"cn=support,ou=g", "cn=Managers,ou=g"}, {"cn=other"}, {}}
	for i := range 40 {
		attrs := map[string][]string{"sAMAccountName": {fmt.Sprint("u", i)}}
		if g := groups[i%len(groups)]; g != nil {
			attrs["memberOf"] = g
		}
		got, err := r.Roles(roles, fmt.Sprintf("cn=u%d", i), attrs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := NewRunner(0).Roles(roles, fmt.Sprintf("cn=u%d", i), attrs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("entry %d: %v, want %v", i, got, want)
		}
		got[0] = "changed by the caller"
	}
	st := r.states[roles]
	if st.memo == nil || st.memo.hits != 36 || len(st.memo.answers) != 4 {
		t.Errorf("memo %+v: want 36 answers from 4 kept (memberOf absent and empty are alike)", st.memo)
	}
	// Case twins and sensitive attributes: the key is what the script sees.
	active, err := Compile("activeScript", `function(entry) { return entry.userPassword === undefined && entry.memberof.length == 2; }`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		attrs map[string][]string
		want  bool
	}{
		{map[string][]string{"memberOf": {"a", "b"}, "userPassword": {"x"}}, true},
		{map[string][]string{"memberOf": {"a"}, "MEMBEROF": {"b"}, "userPassword": {"y"}}, true},
		{map[string][]string{"memberOf": {"a"}}, false},
	} {
		if got, err := r.Active(active, "cn=x", c.attrs); err != nil || got != c.want {
			t.Errorf("%v: %v, %v; want %v", c.attrs, got, err, c.want)
		}
	}

	counter, err := Compile("activeScript", `function(entry) { n = (typeof n == "undefined") ? 1 : n + 1; return n > 1; }`)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Active(counter, "cn=x", nil)
	second, _ := r.Active(counter, "cn=x", nil)
	if first || !second {
		t.Errorf("an impure script answered %v then %v: it must run each time", first, second)
	}
}

// A memo that seldom answers (every entry differs) is dropped after its
// trial, and the script runs as before.
func TestMemoDroppedWhenEntriesDiffer(t *testing.T) {
	p, err := Compile("activeScript", `function(entry) { return entry.mail != "x"; }`)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(0)
	for i := range memoTrial + 10 {
		if ok, err := r.Active(p, "cn=x", map[string][]string{"mail": {fmt.Sprint(i, "@example.com")}}); err != nil || !ok {
			t.Fatalf("call %d: %v, %v", i, ok, err)
		}
	}
	if m := r.states[p].memo; !m.off || m.answers != nil {
		t.Errorf("memo kept after its trial: off %v, %d answers", m.off, len(m.answers))
	}
}
