package script

import (
	"strings"
	"testing"
	"time"
)

// The guard of joins cannot be replaced, removed or bypassed by a script,
// and source compiled at run time may not join strings (concat.go).
func TestJoinsStayGuarded(t *testing.T) {
	r := NewRunner(time.Second)
	tests := []struct{ name, src, want string }{
		{"the guard cannot be replaced",
			`function(e) { var n = "__author" + "ity_concat", before = globalThis[n]; globalThis[n] = null;
				try { delete globalThis[n]; } catch (x) {}
				try { Object.defineProperty(globalThis, n, {value: String}); } catch (x) {}
				return String(globalThis[n] === before && typeof before === "function"); }`, "true"},
		{"eval may not join",
			`function(e) { var s = "x"; try { return eval("s + s"); } catch (x) { return x.name + ": " + x.message; } }`,
			"SyntaxError: joining two strings with + is not supported in source given to eval (write it in the script itself)"},
		{"eval may not name the guard",
			`function(e) { try { return eval("var __authority_" + "concat = 1"); } catch (x) { return x.message; } }`,
			"the name __authority_concat (names starting with __authority_ are reserved) is not supported in source given to eval (write it in the script itself)"},
		{"new Function may not use a template",
			"function(e) { try { return new Function('a', 'return `${a}${a}`')('x'); } catch (x) { return x.message; } }",
			"a template literal with substitutions is not supported in source given to function (write it in the script itself)"},
		{"eval may join with literals", `function(e) { return eval("'a' + 1 + 'b'"); }`, "a1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.OrgName(compileT(t, FieldOrgName, tt.src), staffDN, nil)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// A guarded join costs a Go call: it must not change what ordinary
	// scripts return (the documented examples run in examples_test.go).
	got, err := r.OrgName(compileT(t, FieldOrgName, "function(e) { var a = e.department, b = e.cn; return a + '/' + b + `(${a.length + b.length})`; }"),
		staffDN, map[string][]string{"department": {"Sales"}, "cn": {"Ann"}})
	if err != nil || !strings.HasPrefix(got, "Sales/Ann(8)") {
		t.Errorf("got %q, %v", got, err)
	}
}
