package script

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The documented example scripts name what they read; anything that could
// reach the entry some other way asks for every attribute.
func TestAttributesScriptsRead(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // nil with all
		all       bool
	}{
		{"active disabled", ExampleActiveDisabled, []string{"userAccountControl"}, false},
		{"employee type", ExampleActiveEmployeeType, []string{"employeeType"}, false},
		{"org by OU (dn only)", ExampleOrgNameByOU, []string{}, false},
		{"roles by group", ExampleRolesByGroup, []string{"memberOf"}, false},
		{"roles server wide", ExampleRolesServerWide, []string{"memberOf"}, false},
		{"default", DefaultActiveSource, []string{}, false},
		{"bracket with a literal", `function(e) { return e["mail"] != null && e.MAIL != "x"; }`, []string{"mail"}, false},
		{"arrow", `(u) => u.department == "Sales"`, []string{"department"}, false},
		{"helper closing over the entry", `function(e) { function f() { return e.title; } return f() == "x"; }`, []string{"title"}, false},
		{"computed name", `function(e) { var k = "ma" + "il"; return e[k] != null; }`, nil, true},
		{"entry passed on", `function(e) { return JSON.stringify(e).length > 2; }`, nil, true},
		{"entry stored", `function(e) { var x = e; return x.mail != null; }`, nil, true},
		{"keys enumerated", `function(e) { return Object.keys(e).length > 3; }`, nil, true},
		{"for in", `function(e) { for (var k in e) { if (k == "title") return true; } return false; }`, nil, true},
		{"hasOwnProperty", `function(e) { return e.hasOwnProperty("mail"); }`, nil, true},
		{"eval", `function(e) { return eval("e.mail") != null; }`, nil, true},
		{"indirect eval", `function(e) { var g = eval; return g("1") == 1; }`, nil, true},
		{"Function", `function(e) { return Function("return 1")() == 1; }`, nil, true},
		{"arguments", `function() { return arguments[0].mail != null; }`, nil, true},
		{"pattern", `function({mail}) { return mail != null; }`, nil, true},
		{"shadowed and reassigned", `function(e) { e = {mail: "x"}; return e.mail == "x"; }`, nil, true},
		{"this", `function(e) { return e.cn != null; }`, []string{"cn"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileT(t, FieldActive, tt.src)
			got, all := p.Attributes()
			if all != tt.all || (!all && !reflect.DeepEqual(nonNil(got), tt.want)) {
				t.Fatalf("Attributes() = %v, %v; want %v, %v", got, all, tt.want, tt.all)
			}
		})
	}
	set, err := CompileSet(ExampleActiveDisabled, `function(e) { return e.department; }`, ExampleRolesByGroup)
	if err != nil {
		t.Fatal(err)
	}
	if got, all := set.Attributes(); all || !reflect.DeepEqual(got, []string{"department", "memberOf", "userAccountControl"}) {
		t.Fatalf("set: %v %v", got, all)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// A script run on only the attributes it was found to read returns what it
// returns on the whole entry: whatever it does, it cannot read an attribute
// that was not fetched (scripts that could are "all").
func TestAttributesAreEnough(t *testing.T) {
	full := map[string][]string{"mail": {"a@x"}, "title": {"Boss"}, "department": {"Sales"}, "memberOf": {"cn=security,o=x", "cn=staff,o=x"},
		"userAccountControl": {"514"}, "employeeType": {"inactive"}, "cn": {"Ann"}}
	srcs := []string{ExampleActiveDisabled, ExampleActiveEmployeeType, ExampleOrgNameByOU, ExampleRolesByGroup,
		`function(e) { return e["title"] + "/" + e.department; }`,
		`function(e) { var k = "title"; return String(e[k]); }`,
		`function(e) { return Object.keys(e).sort().join(","); }`,
		`function(e) { return e.hasOwnProperty("title") ? "yes" : "no"; }`,
		`function(e) { return JSON.stringify(e).length > 10 ? "long" : "short"; }`,
		`(e) => String(e.mail) + String(e.cn)`,
	}
	r := NewRunner(time.Second)
	for _, src := range srcs {
		field := FieldOrgName
		if strings.Contains(src, "userAccountControl") || strings.Contains(src, "employeeType") {
			field = FieldActive
		}
		if strings.Contains(src, "myRoles") {
			field = FieldRoleName
		}
		p := compileT(t, field, src)
		names, all := p.Attributes()
		if all {
			continue // the search asks for every attribute
		}
		part := map[string][]string{}
		for _, n := range names {
			for k, v := range full {
				if strings.EqualFold(k, n) {
					part[k] = v
				}
			}
		}
		a, b := runOn(r, p, full), runOn(r, p, part)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: on the whole entry %v, on %v only %v", src, a, names, b)
		}
	}
}

func runOn(r *Runner, p *Program, attrs map[string][]string) any {
	switch p.Field() {
	case FieldActive:
		v, err := r.Active(p, "cn=Ann,ou=Staff,o=x", attrs)
		return []any{v, err}
	case FieldOrgName:
		v, err := r.OrgName(p, "cn=Ann,ou=Staff,o=x", attrs)
		return []any{v, err}
	}
	v, err := r.Roles(p, "cn=Ann,ou=Staff,o=x", attrs)
	return []any{v, err}
}
