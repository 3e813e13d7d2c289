package script

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const staffDN = "CN=John Smith,OU=Staff,OU=People,DC=example,DC=com"

func compileT(t testing.TB, field, src string) *Program {
	t.Helper()
	p, err := Compile(field, src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func TestActiveExamples(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		attrs map[string][]string
		want  bool
	}{
		{"uac enabled", uacScript, map[string][]string{"userAccountControl": {"512"}}, true},
		{"uac disabled", uacScript, map[string][]string{"userAccountControl": {"514"}}, false},
		{"uac other bits, enabled", uacScript, map[string][]string{"userAccountControl": {"66048"}}, true},
		{"uac other bits, disabled", uacScript, map[string][]string{"userAccountControl": {"66050"}}, false},
		{"uac absent", uacScript, nil, true},
		{"uac attribute case", uacScript, map[string][]string{"USERACCOUNTCONTROL": {"514"}}, false},
		{"employeeType staff", employeeTypeScript, map[string][]string{"employeeType": {"staff"}}, true},
		{"employeeType inactive", employeeTypeScript, map[string][]string{"employeeType": {"inactive"}}, false},
		{"employeeType absent", employeeTypeScript, nil, true},
		{"employeeType lower-case attribute", employeeTypeScript, map[string][]string{"employeetype": {"inactive"}}, false},
		{"named isActive", "function isActive(entry) {\n  return entry.employeeType != 'inactive';\n}", map[string][]string{"employeeType": {"inactive"}}, false},
		{"named isActive true", "function isActive(entry) { return entry.employeeType != 'inactive'; };", map[string][]string{"employeeType": {"staff"}}, true},
		{"default", DefaultActiveSource, nil, true},
		{"arrow", "e => e.dn.indexOf('OU=Staff') >= 0", nil, true},
		{"memberOf", "function(entry) { return entry.memberOf.indexOf('cn=vpn,dc=x') >= 0; }", map[string][]string{"memberOf": {"cn=vpn,dc=x"}}, true},
	}
	r := NewRunner(time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Active(compileT(t, FieldActive, tt.src), staffDN, tt.attrs)
			if err != nil || got != tt.want {
				t.Fatalf("Active = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestOrgNameExamples(t *testing.T) {
	tests := []struct {
		name, src, dn string
		attrs         map[string][]string
		want          string
	}{
		{"staff", orgScript, "CN=A,OU=Staff,DC=x", nil, "Staff"},
		{"students", orgScript, "CN=B,OU=Students,DC=x", nil, "Students"},
		{"default", orgScript, "CN=C,OU=Guests,DC=x", nil, "Default"},
		{"empty DN", orgScript, "", nil, "Default"},
		{"named getOrgName", "function getOrgName(entry) { return entry.department; }", "cn=x", map[string][]string{"department": {"Sales"}}, "Sales"},
		{"attribute absent is undefined: no org", "function getOrgName(entry) { return entry.department; }", "cn=x", nil, ""},
		{"null: no org", "function(entry) { return null; }", "cn=x", nil, ""},
		{"empty string: no org", "function(entry) { return ''; }", "cn=x", nil, ""},
		{"no return: no org", "function(entry) { }", "cn=x", nil, ""},
		{"DN via upper-case property", "function(entry) { return entry.DN; }", "cn=x", nil, "cn=x"},
	}
	r := NewRunner(time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.OrgName(compileT(t, FieldOrgName, tt.src), tt.dn, tt.attrs)
			if err != nil || got != tt.want {
				t.Fatalf("OrgName = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRolesExamples(t *testing.T) {
	groups := func(g ...string) map[string][]string {
		out := make([]string, len(g))
		for i, n := range g {
			out[i] = "CN=" + n + ",OU=Groups,DC=example,DC=com"
		}
		return map[string][]string{"memberOf": out}
	}
	base := []string{"PROe User", "Desktop User"}
	with := func(more ...string) []string { return append(append([]string{}, base...), more...) }
	tests := []struct {
		name  string
		src   string
		attrs map[string][]string
		want  []string
	}{
		{"org: no groups", roleScriptOrg, nil, base},
		{"org: unrelated group", roleScriptOrg, groups("VPN"), base},
		{"org: one group (memberOf is an array)", roleScriptOrg, groups("Security"), with("Org Security Viewer")},
		{"org: all groups", roleScriptOrg, groups("Security", "OrgAdmins", "Managers", "Support", "VPN"),
			with("Org Security Viewer", "Org Admin", "Org Manager", "Org Help Desk")},
		{"org: attribute spelled memberof", roleScriptOrg, map[string][]string{"memberof": {"cn=support,dc=x"}}, with("Org Help Desk")},
		{"sys: admins", roleScriptSys, groups("Admins"), with("SYSADMIN")},
		{"sys: support and managers", roleScriptSys, groups("Support", "Managers"), with("All Org Admin", "All Org Manager")},
		{"sys: workstation admins", roleScriptSys, groups("WorkstationAdmins"), with("Server Administrator")},
		{"sys: none", roleScriptSys, map[string][]string{"cn": {"x"}}, base},
		{"named getRoles", "function getRoles(entry) {\n  return entry.memberOf ? ['Org Admin'] : null;\n}", groups("x"), []string{"Org Admin"}},
		{"null: no roles", "function getRoles(entry) { return null; }", nil, nil},
		{"undefined: no roles", "function(entry) { }", nil, nil},
		{"empty array", "function(entry) { return []; }", nil, []string{}},
	}
	r := NewRunner(time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Roles(compileT(t, FieldRoleName, tt.src), staffDN, tt.attrs)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Roles = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

// runJS runs an org name script that returns a string describing what it saw.
func runJS(t *testing.T, r *Runner, body string, attrs map[string][]string) string {
	t.Helper()
	got, err := r.OrgName(compileT(t, FieldOrgName, "function(entry) {\n"+body+"\n}"), staffDN, attrs)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return got
}

func TestEntry(t *testing.T) {
	attrs := map[string][]string{
		"memberOf":            {"cn=a,dc=x"},
		"objectClass":         {"top", "person"},
		"mail":                {"a@x", "b@x"},
		"userAccountControl":  {"514"},
		"cn":                  {"John"},
		"empty":               {},
		"userPassword":        {"secret1"},
		"UnicodePwd":          {"secret2"},
		"unixUserPassword":    {"secret3"},
		"msSFU30Password":     {"secret4"},
		"userPassword;binary": {"secret5"},
	}
	tests := []struct{ name, body, want string }{
		{"dn", "return entry.dn;", staffDN},
		{"one value is a string", "return typeof entry.cn + ':' + entry.cn;", "string:John"},
		{"several values are an array", "return Array.isArray(entry.mail) + ':' + entry.mail.join('|');", "true:a@x|b@x"},
		{"memberOf with one value is an array", "return Array.isArray(entry.memberOf) + ':' + entry.memberOf.length + ':' + entry.memberOf[0];", "true:1:cn=a,dc=x"},
		{"objectClass is an array", "return Array.isArray(entry.objectclass) + ':' + entry.OBJECTCLASS.length;", "true:2"},
		{"case-insensitive", "return [entry.memberOf === entry.memberof, entry.memberof === entry.MEMBEROF, entry.CN, entry.Mail[1]].join(',');", "true,true,John,b@x"},
		{"absent is undefined", "return typeof entry.nope + ':' + (entry.nope === undefined) + ':' + ('nope' in entry);", "undefined:true:false"},
		{"no values is absent", "return typeof entry.empty;", "undefined"},
		{"in and hasOwnProperty", "return ('MAIL' in entry) + ':' + entry.hasOwnProperty('memberof') + ':' + ('dn' in entry);", "true:true:true"},
		{"bit test", "return String(entry.userAccountControl & 0x2) + ':' + (entry.userAccountControl | 0);", "2:514"},
		{"Object.keys", "return Object.keys(entry).join(',');", "dn,cn,mail,memberOf,objectClass,userAccountControl"},
		{"for in", "var k = []; for (var n in entry) k.push(n); return k.join(',');", "dn,cn,mail,memberOf,objectClass,userAccountControl"},
		{"JSON", "return JSON.stringify(entry);", `{"dn":"` + staffDN + `","cn":"John","mail":["a@x","b@x"],"memberOf":["cn=a,dc=x"],"objectClass":["top","person"],"userAccountControl":"514"}`},
		{"sensitive are invisible", "return [typeof entry.userPassword, typeof entry.userpassword, typeof entry.unicodePwd, typeof entry.unixUserPassword, typeof entry.msSFU30Password, typeof entry['userPassword;binary'], 'userPassword' in entry].join(',');",
			"undefined,undefined,undefined,undefined,undefined,undefined,false"},
		{"script may set and delete properties", "entry.extra = 'x'; entry.CN = 'Jane'; delete entry.mail; return [entry.extra, entry.cn, typeof entry.mail, 'mail' in entry, Object.keys(entry).join('/')].join(',');",
			"x,Jane,undefined,false,dn/cn/memberOf/objectClass/userAccountControl/extra"},
		{"array changes last for the call", "entry.memberOf.push('y'); return String(entry.memberof.length);", "2"},
	}
	r := NewRunner(time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runJS(t, r, tt.body, attrs); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Each call gets a fresh entry: the changes above did not stick.
	if got := runJS(t, r, "return typeof entry.extra + ':' + entry.memberOf.length + ':' + entry.cn;", attrs); got != "undefined:1:John" {
		t.Fatalf("fresh entry: %q", got)
	}
	// The caller's map was not changed.
	if len(attrs["memberOf"]) != 1 || attrs["cn"][0] != "John" || len(attrs["mail"]) != 2 {
		t.Fatalf("attrs changed: %v", attrs)
	}
}

func TestEntryCaseTwinsAreMerged(t *testing.T) {
	attrs := map[string][]string{"mail": {"a@x"}, "Mail": {"b@x"}}
	r := NewRunner(time.Second)
	if got := runJS(t, r, "return [entry.mail, entry.MAIL, Object.keys(entry)].join('|');", attrs); got != "b@x,a@x|b@x,a@x|dn,Mail" {
		t.Fatalf("got %q", got)
	}
}

func TestSensitive(t *testing.T) {
	for _, tt := range []struct {
		name  string
		extra []string
		want  bool
	}{
		{"userPassword", nil, true},
		{"USERPASSWORD", nil, true},
		{"userPassword;binary", nil, true},
		{"unicodePwd", nil, true},
		{"unixuserpassword", nil, true},
		{"msSFU30Password", nil, true},
		{"mail", nil, false},
		{"userPasswordHint", nil, false},
		{"employeeID", []string{"EmployeeId"}, true},
		{"employeeID", []string{"other"}, false},
	} {
		if got := IsSensitive(tt.name, tt.extra); got != tt.want {
			t.Errorf("IsSensitive(%q, %v) = %v", tt.name, tt.extra, got)
		}
	}
	r := NewRunner(time.Second, WithSensitive("employeeID", "homePhone"))
	attrs := map[string][]string{"employeeId": {"42"}, "HOMEPHONE": {"555"}, "cn": {"x"}}
	if got := runJS(t, r, "return [typeof entry.employeeID, typeof entry.homePhone, Object.keys(entry)].join(',');", attrs); got != "undefined,undefined,dn,cn" {
		t.Fatalf("got %q", got)
	}
}

func TestSandbox(t *testing.T) {
	r := NewRunner(time.Second)
	got := runJS(t, r, "return [typeof require, typeof setTimeout, typeof setInterval, typeof setImmediate, typeof console, typeof process, typeof fetch, typeof XMLHttpRequest, typeof module, typeof exports].join(',');", nil)
	if want := strings.TrimSuffix(strings.Repeat("undefined,", 10), ","); got != want {
		t.Fatalf("got %q", got)
	}
	p := compileT(t, FieldActive, "function(entry) { require('fs'); return true; }")
	if _, err := r.Active(p, "cn=x", nil); err == nil || !strings.Contains(err.Error(), "require is not defined") {
		t.Fatalf("err = %v", err)
	}
	p = compileT(t, FieldActive, "function(entry) { setTimeout(function(){}, 1); return true; }")
	if _, err := r.Active(p, "cn=x", nil); err == nil || !strings.Contains(err.Error(), "setTimeout is not defined") {
		t.Fatalf("err = %v", err)
	}
}

func TestWrongResultTypes(t *testing.T) {
	tests := []struct {
		name   string
		field  string
		result string // the JS expression returned
		want   string // the complete message
	}{
		{"active string false", FieldActive, `"false"`, `active script returned a string ("false"), expected true or false`},
		{"active number", FieldActive, `1`, `active script returned a number (1), expected true or false`},
		{"active object", FieldActive, `{}`, `active script returned an object, expected true or false`},
		{"active array", FieldActive, `[1,2]`, `active script returned an array, expected true or false`},
		{"active undefined", FieldActive, `undefined`, `active script returned undefined, expected true or false`},
		{"active null", FieldActive, `null`, `active script returned null, expected true or false`},
		{"active Boolean object", FieldActive, `new Boolean(true)`, `active script returned a Boolean object, expected true or false`},
		{"active function", FieldActive, `function(){}`, `active script returned a function, expected true or false`},
		{"org number", FieldOrgName, `1`, `org name script returned a number (1), expected a string, null or undefined`},
		{"org object", FieldOrgName, `{}`, `org name script returned an object, expected a string, null or undefined`},
		{"org array", FieldOrgName, `["Staff"]`, `org name script returned an array, expected a string, null or undefined`},
		{"org boolean", FieldOrgName, `false`, `org name script returned a boolean (false), expected a string, null or undefined`},
		{"org String object", FieldOrgName, `new String("x")`, `org name script returned a String object, expected a string, null or undefined`},
		{"roles numbers", FieldRoleName, `[1,2]`, `role name script returned an array whose element 0 is a number (1), expected an array of strings`},
		{"roles null element", FieldRoleName, `["a", null]`, `role name script returned an array whose element 1 is null, expected an array of strings`},
		{"roles string", FieldRoleName, `"Org Admin"`, `role name script returned a string ("Org Admin"), expected an array of strings, null or undefined`},
		{"roles object", FieldRoleName, `{0: "a", length: 1}`, `role name script returned an object, expected an array of strings, null or undefined`},
		{"roles boolean", FieldRoleName, `true`, `role name script returned a boolean (true), expected an array of strings, null or undefined`},
	}
	r := NewRunner(time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileT(t, tt.field, "function(entry) { return "+tt.result+"; }")
			var err error
			switch tt.field {
			case FieldActive:
				var got bool
				got, err = r.Active(p, "cn=x", nil)
				if got {
					t.Errorf("Active = true with an error")
				}
			case FieldOrgName:
				var got string
				got, err = r.OrgName(p, "cn=x", nil)
				if got != "" {
					t.Errorf("OrgName = %q with an error", got)
				}
			case FieldRoleName:
				var got []string
				got, err = r.Roles(p, "cn=x", nil)
				if got != nil {
					t.Errorf("Roles = %q with an error", got)
				}
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant   %s", err, tt.want)
			}
			if !errors.Is(err, ErrResultType) {
				t.Errorf("not ErrResultType: %v", err)
			}
		})
	}
}

func TestThrow(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
		line, col int
	}{
		{"Error", "function(entry) {\n  throw new Error('boom');\n}", []string{"active script threw an error at line 2, column 9", "Error: boom"}, 2, 9},
		{"string", "function(entry) { throw 'plain text'; }", []string{"line 1, column 19", "plain text"}, 1, 19},
		{"TypeError", "function(entry) {\n  var g = entry.nope;\n  return g.length > 0;\n}", []string{"line 3", "TypeError", "length"}, 3, 12},
		{"printed role example (memberof undeclared)", "function (entry) {\n    var myRoles=new Array(\"PROe User\",\"Desktop User\");\n    for (var x = 0; x < memberof.length; ++x) {}\n    return true;\n}",
			[]string{"ReferenceError: memberof is not defined", "line 3"}, 3, 25},
		{"toString loops", "function(entry) { throw {toString: function() { while (true) {} }}; }", []string{"active script threw an error", "cannot be turned into text"}, 1, 19},
	}
	r := NewRunner(300 * time.Millisecond)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Active(compileT(t, FieldActive, tt.src), "cn=x", nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not contain %q", err, w)
				}
			}
			var re *RunError
			if !errors.As(err, &re) || re.Line != tt.line || re.Column != tt.col || re.Field != FieldActive {
				t.Errorf("RunError = %+v, want line %d col %d", re, tt.line, tt.col)
			}
			// The runner still works.
			if ok, err := r.Active(compileT(t, FieldActive, DefaultActiveSource), "cn=x", nil); !ok || err != nil {
				t.Fatalf("next call: %v %v", ok, err)
			}
		})
	}
}

func TestEndlessLoopIsStopped(t *testing.T) {
	r := NewRunner(300 * time.Millisecond)
	loop := compileT(t, FieldActive, "function(entry) {\n  while(true){}\n}")
	good := compileT(t, FieldActive, uacScript)
	for i := 0; i < 2; i++ { // twice: the rebuilt runtime stops again
		start := time.Now()
		_, err := r.Active(loop, "cn=x", nil)
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Fatalf("took %v", elapsed)
		}
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "active script ran longer than the limit of 300ms") {
			t.Fatalf("err = %v", err)
		}
		// The next call on the same runner works.
		if ok, err := r.Active(good, "cn=x", map[string][]string{"userAccountControl": {"512"}}); !ok || err != nil {
			t.Fatalf("next call: %v %v", ok, err)
		}
		if ok, err := r.Active(compileT(t, FieldActive, loop.Source()), "cn=x", nil); ok || !errors.Is(err, ErrTimeout) {
			t.Fatalf("other program: %v %v", ok, err)
		}
	}
	// The roles and org name scripts are limited the same way.
	if _, err := r.Roles(compileT(t, FieldRoleName, "function(e) { for(;;); }"), "cn=x", nil); !errors.Is(err, ErrTimeout) || !strings.HasPrefix(err.Error(), "role name script ran longer") {
		t.Fatalf("roles: %v", err)
	}
	// A loop hidden in a getter of the returned array is stopped too.
	p := compileT(t, FieldRoleName, "function(e) { var a = ['x']; Object.defineProperty(a, 0, {get: function() { for(;;); }}); return a; }")
	if _, err := r.Roles(p, "cn=x", nil); err == nil {
		t.Fatal("getter loop: no error")
	}
	if ok, err := r.Active(good, "cn=x", nil); !ok || err != nil {
		t.Fatalf("after getter loop: %v %v", ok, err)
	}
}

// A timer tick that comes after its call returned (or between two calls)
// must not stop the next call. Simulate late ticks by calling tick by hand.
func TestLateTimerDoesNotInterruptTheNextCall(t *testing.T) {
	r := NewRunner(time.Hour)
	p := compileT(t, FieldActive, uacScript)
	if _, err := r.Active(p, "cn=x", nil); err != nil {
		t.Fatal(err)
	}
	r.tick() // the previous call's timer, late
	for i := 0; i < 3; i++ {
		if ok, err := r.Active(p, "cn=x", nil); !ok || err != nil {
			t.Fatalf("call %d after a late timer: %v %v", i, ok, err)
		}
		r.tick()
	}
	// A call that runs for many watchdog ticks within its limits is not
	// stopped either.
	busy := compileT(t, FieldActive, "function(entry) { var t = Date.now(), n = 0; while (Date.now() - t < 50) { n += String(n).length; } return n > 0; }")
	if ok, err := NewRunner(time.Second).Active(busy, "cn=x", nil); !ok || err != nil {
		t.Fatalf("busy call: %v %v", ok, err)
	}
}

func TestEndlessRecursionIsAnError(t *testing.T) {
	r := NewRunner(5 * time.Second)
	tests := []string{
		"function f(entry) {\n  return f(entry);\n}",
		"function(entry) { function g(n) { return g(n + 1) + 1; } return g(0); }",
		"function(entry) { var o = {}; o.toString = function() { return String(o); }; return String(o); }",
		"function(entry) { function h() { return [1].map(h); } return h(); }",
		"function(entry) { try { (function f() { f(); })(); } catch (e) { return true; } }",
	}
	for _, src := range tests {
		_, err := r.Active(compileT(t, FieldActive, src), "cn=x", nil)
		if !errors.Is(err, ErrStackOverflow) || !strings.Contains(err.Error(), "active script exceeded the maximum call depth of 1000") {
			t.Fatalf("%s: err = %v", src, err)
		}
		if ok, err := r.Active(compileT(t, FieldActive, DefaultActiveSource), "cn=x", nil); !ok || err != nil {
			t.Fatalf("next call: %v %v", ok, err)
		}
	}
	r2 := NewRunner(time.Second, WithMaxCallDepth(50))
	p := compileT(t, FieldActive, "function(entry) { function d(n) { return n == 0 ? true : d(n - 1); } return d(100); }")
	if _, err := r2.Active(p, "cn=x", nil); !errors.Is(err, ErrStackOverflow) || !strings.Contains(err.Error(), "call depth of 50") {
		t.Fatalf("depth 50: %v", err)
	}
}

func TestPanicInsideGojaIsAnError(t *testing.T) {
	testHookGet = func(key string) {
		if key == "boom" {
			panic("simulated panic")
		}
	}
	defer func() { testHookGet = nil }()
	r := NewRunner(time.Second)
	_, err := r.Active(compileT(t, FieldActive, "function(entry) { return entry.boom; }"), "cn=x", nil)
	if err == nil || !strings.Contains(err.Error(), "active script failed: internal error: simulated panic") {
		t.Fatalf("err = %v", err)
	}
	if ok, err := r.Active(compileT(t, FieldActive, uacScript), "cn=x", nil); !ok || err != nil {
		t.Fatalf("next call: %v %v", ok, err)
	}
}

// A script that wrecks its runtime only breaks itself.
func TestScriptCannotBreakOtherPrograms(t *testing.T) {
	r := NewRunner(time.Second)
	vandals := []string{
		"function(entry) { delete Array; return true; }",
		"function(entry) { Object = null; Array.prototype.indexOf = null; String.prototype.indexOf = function() { return -1; }; return true; }",
		"function(entry) { Object.defineProperty(Object.prototype, 'memberOf', {get: function() { throw 'x'; }}); return true; }",
		"function(entry) { globalThis.JSON = undefined; Array.isArray = function() { return false; }; return true; }",
	}
	victim := compileT(t, FieldRoleName, roleScriptOrg)
	attrs := map[string][]string{"memberOf": {"cn=Support,dc=x"}}
	for _, src := range vandals {
		if _, err := r.Active(compileT(t, FieldActive, src), "cn=x", attrs); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := r.Roles(victim, staffDN, attrs)
		if err != nil || !reflect.DeepEqual(got, []string{"PROe User", "Desktop User", "Org Help Desk"}) {
			t.Fatalf("after %s: %v %v", src, got, err)
		}
	}
}

func TestHostileValues(t *testing.T) {
	huge := strings.Repeat("x", 4<<20)
	tests := []struct{ name, value string }{
		{"quotes", `he said "hi" and 'bye' \ back\slash`},
		{"newlines", "line1\nline2\r\nline3\u2028line4"},
		{"script tag", `</script><script>alert(1)</script>`},
		{"NUL", "a\x00b\x00"},
		{"code", "'); while(true){} ('"},
		{"huge", huge},
		{"unicode", "Ünïcødé ✓ 😀"},
	}
	r := NewRunner(5 * time.Second)
	p := compileT(t, FieldOrgName, "function(entry) { return entry.department; }")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.OrgName(p, "cn="+tt.value, map[string][]string{"department": {tt.value}})
			if tt.name == "huge" { // over the bound of an org name, but it was read whole
				if !errors.Is(err, ErrResultTooLarge) || !strings.Contains(err.Error(), "a name of 4194304 characters") {
					t.Fatalf("huge: %q %v", got, err)
				}
				return
			}
			if err != nil || got != tt.value {
				t.Fatalf("got %d bytes, err %v", len(got), err)
			}
		})
	}
	// The huge value reaches the script whole.
	n, err := r.OrgName(compileT(t, FieldOrgName, "function(entry) { return String(entry.department.length); }"), "cn=x", map[string][]string{"department": {huge}})
	if err != nil || n != "4194304" {
		t.Fatalf("huge length: %q %v", n, err)
	}
	// Invalid UTF-8 (a binary attribute) does not break anything.
	got, err := r.OrgName(p, "cn=x", map[string][]string{"department": {"\xff\xfe\x00binary"}})
	if err != nil || got != "\ufffd\x00binary" {
		t.Fatalf("binary: %q %v", got, err)
	}
	// Many values.
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("cn=g%d,dc=x", i)
	}
	roles, err := r.Roles(compileT(t, FieldRoleName, roleScriptOrg), "cn=x", map[string][]string{"memberOf": many})
	if err != nil || len(roles) != 2 {
		t.Fatalf("many: %v %v", roles, err)
	}
}

func TestNilProgramsAreDefaults(t *testing.T) {
	r := NewRunner(0)
	if r.Limit() != DefaultLimit {
		t.Fatalf("limit %v", r.Limit())
	}
	if ok, err := r.Active(nil, "cn=x", nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if org, err := r.OrgName(nil, "cn=x", nil); org != "" || err != nil {
		t.Fatal(org, err)
	}
	if roles, err := r.Roles(nil, "cn=x", nil); roles != nil || err != nil {
		t.Fatal(roles, err)
	}
}

// One Runner keeps a bounded number of runtimes.
func TestRunnerCacheIsBounded(t *testing.T) {
	r := NewRunner(time.Second)
	for i := 0; i < 3*maxCachedPrograms; i++ {
		p := compileT(t, FieldOrgName, fmt.Sprintf("function(entry) { return 'o%d'; }", i))
		if got, err := r.OrgName(p, "cn=x", nil); err != nil || got != fmt.Sprintf("o%d", i) {
			t.Fatal(got, err)
		}
	}
	if len(r.states) > maxCachedPrograms || len(r.order) != len(r.states) {
		t.Fatalf("%d states, %d in order", len(r.states), len(r.order))
	}
}

// A Program is shared by Runners in several goroutines (run with -race).
func TestConcurrentRunners(t *testing.T) {
	set, err := CompileSet(uacScript, orgScript, roleScriptSys)
	if err != nil {
		t.Fatal(err)
	}
	loop := compileT(t, FieldActive, "function(entry) { while(true){} }")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// A generous limit for the real work (no timing assertions: the
			// race detector and other goroutines' loops slow calls down), and
			// a short one for the loops, whose timers fire while the other
			// goroutines run.
			r := NewRunner(10 * time.Second)
			short := NewRunner(50 * time.Millisecond)
			for i := 0; i < 300; i++ {
				uac := "512"
				if i%2 == 1 {
					uac = "514"
				}
				dn := fmt.Sprintf("CN=u%d-%d,OU=Students,DC=x", g, i)
				res := r.Run(set, dn, map[string][]string{"userAccountControl": {uac}, "memberOf": {"CN=Managers,DC=x"}})
				if !res.OK() || res.Active != (i%2 == 0) || res.OrgName != "Students" || len(res.Roles) != 3 || res.Roles[2] != "All Org Manager" {
					errs <- fmt.Errorf("goroutine %d call %d: %+v", g, i, res)
					return
				}
				if i%100 == 0 {
					if _, err := short.Active(loop, dn, nil); !errors.Is(err, ErrTimeout) {
						errs <- fmt.Errorf("loop: %v", err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPrepareBuildsTheRuntimesTheCallsThenUse(t *testing.T) {
	set, err := CompileSet(`function(entry) { return entry.dn.indexOf("ou=Staff") >= 0; }`,
		`function(entry) { return entry.department || ""; }`, "")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(0)
	if err := r.Prepare(set); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if len(r.states) != 2 {
		t.Fatalf("after Prepare: %d runtimes, want 2 (no role name script)", len(r.states))
	}
	built := map[*Program]*progState{}
	for p, st := range r.states {
		built[p] = st
	}
	res := r.Run(set, "uid=ann,ou=Staff,dc=example,dc=com", map[string][]string{"department": {"Sales"}})
	if !res.OK() || !res.Active || res.OrgName != "Sales" {
		t.Fatalf("after Prepare: %+v, want active in Sales", res)
	}
	for p, st := range r.states {
		if built[p] != st {
			t.Errorf("the %s's runtime was built again by its first call", p.field)
		}
	}
	if err := r.Prepare(set); err != nil || len(r.states) != 2 {
		t.Fatalf("Prepare again: %v, %d runtimes", err, len(r.states))
	}
}
