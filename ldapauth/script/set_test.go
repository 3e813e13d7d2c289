package script

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	set, err := CompileSet(uacScript, orgScript, roleScriptSys)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(time.Second)
	res := r.Run(set, "CN=A,OU=Staff,DC=x", map[string][]string{"userAccountControl": {"512"}, "memberOf": {"CN=Admins,DC=x"}})
	want := Result{Active: true, OrgName: "Staff", Roles: []string{"PROe User", "Desktop User", "SYSADMIN"}}
	if !reflect.DeepEqual(res, want) || !res.OK() {
		t.Fatalf("Run = %+v", res)
	}

	// Defaults: only the active script, which is the default one.
	def, err := CompileSet("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Run(def, "cn=x", nil); !reflect.DeepEqual(res, Result{Active: true}) {
		t.Fatalf("defaults: %+v", res)
	}
	if res := r.Run(nil, "cn=x", nil); !reflect.DeepEqual(res, Result{Active: true}) {
		t.Fatalf("nil set: %+v", res)
	}

	// Every script runs; each error names its script.
	bad, err := CompileSet(
		`function(entry) { return "false"; }`,
		"function(entry) {\n  throw new Error('no org for ' + entry.dn);\n}",
		`function(entry) { return [1]; }`)
	if err != nil {
		t.Fatal(err)
	}
	res = r.Run(bad, "cn=x", nil)
	if res.Active || res.OrgName != "" || res.Roles != nil || len(res.Errors) != 3 || res.OK() {
		t.Fatalf("errors: %+v", res)
	}
	for i, prefix := range []string{"active script returned a string", "org name script threw an error at line 2, column 9: Error: no org for cn=x", "role name script returned an array"} {
		if !strings.HasPrefix(res.Errors[i], prefix) {
			t.Errorf("Errors[%d] = %q, want prefix %q", i, res.Errors[i], prefix)
		}
	}

	// One failing script does not hide the others' results.
	mixed, err := CompileSet(DefaultActiveSource, `function(e) { return "Sales"; }`, `function(e) { while(true){} }`)
	if err != nil {
		t.Fatal(err)
	}
	res = NewRunner(300*time.Millisecond).Run(mixed, "cn=x", nil)
	if !res.Active || res.OrgName != "Sales" || len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0], "role name script ran longer than the limit") {
		t.Fatalf("mixed: %+v", res)
	}
}
