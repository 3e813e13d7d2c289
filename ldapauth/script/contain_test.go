package script

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// containLimit is the time limit of the containment tests: short, so that
// "within twice the limit" is a tight bound (the other half absorbs the
// race detector and a loaded machine delaying the timers).
const containLimit = 250 * time.Millisecond

// containedMemory is what one call may grow the process by (SPEC section 10).
const containedMemory = 64 << 20

// containAttrs is the entry of the containment tests: its department is
// 5 MB long (a directory may hold anything).
var containAttrs = map[string][]string{"department": {strings.Repeat("d", 5<<20)}}

// callAny runs p with the Runner method its field calls for and returns the
// error (the value is not interesting here).
func callAny(r *Runner, p *Program) error {
	var err error
	switch p.Field() {
	case FieldActive:
		_, err = r.Active(p, staffDN, containAttrs)
	case FieldOrgName:
		_, err = r.OrgName(p, staffDN, containAttrs)
	default:
		_, err = r.Roles(p, staffDN, containAttrs)
	}
	return err
}

var (
	stopped  = []error{ErrTimeout}
	tooBig   = []error{ErrMemoryLimit}
	tooDeep  = []error{ErrStackOverflow}
	anyLimit = []error{ErrTimeout, ErrMemoryLimit}
)

// A hostile or careless script is stopped within twice its limit whatever it
// runs, never grows the process by more than 64 MB, gets a clear error, and
// leaves its Runner working (SPEC section 10, "Scripts are contained").
func TestScriptsAreContained(t *testing.T) {
	const catastrophic = `"a".repeat(30) + "b"`
	tests := []struct {
		name, field, src string
		want             []error // the error must wrap one of these
		msg              string  // and its message contain this
	}{
		// Regular expressions that backtrack exponentially: goja hands
		// patterns Go's regexp cannot run (backreferences, lookaround) to
		// regexp2, which goja's Interrupt does not reach.
		{"regexp backreference test", FieldActive, `function(e) { return /^(a+)+\1$/.test(` + catastrophic + `); }`, stopped, "regular expression"},
		{"regexp backreference exec", FieldOrgName, `function(e) { var m = /^(a+)+\1$/.exec(` + catastrophic + `); return m ? m[0] : null; }`, stopped, "regular expression"},
		{"regexp backreference match", FieldRoleName, `function(e) { return (` + catastrophic + `).match(/^(a+)+\1$/); }`, stopped, "regular expression"},
		{"regexp backreference match global", FieldRoleName, `function(e) { return (` + catastrophic + `).match(/(a+)+\1$/g); }`, stopped, "regular expression"},
		{"regexp backreference replace", FieldOrgName, `function(e) { return (` + catastrophic + `).replace(/^(a+)+\1$/, "x"); }`, stopped, "regular expression"},
		{"regexp backreference replaceAll", FieldOrgName, `function(e) { return (` + catastrophic + `).replaceAll(/(a+)+\1$/g, "x"); }`, stopped, "regular expression"},
		{"regexp backreference split", FieldRoleName, `function(e) { return (` + catastrophic + `).split(/^(a+)+\1$/); }`, stopped, "regular expression"},
		{"regexp backreference search", FieldActive, `function(e) { return (` + catastrophic + `).search(/^(a+)+\1$/) >= 0; }`, stopped, "regular expression"},
		{"regexp backreference matchAll", FieldRoleName, `function(e) { return Array.from((` + catastrophic + `).matchAll(/(a+)+\1$/g), function(m) { return m[0]; }); }`, stopped, "regular expression"},
		{"regexp built from a string", FieldActive, `function(e) { return new RegExp("^(a+)+\\1$").test(` + catastrophic + `); }`, stopped, "regular expression"},
		{"regexp built from a string by match", FieldRoleName, `function(e) { return (` + catastrophic + `).match("^(a+)+\\1$"); }`, stopped, "regular expression"},
		{"regexp nested quantifier with lookahead", FieldActive, `function(e) { return /^(?=a)(a+)+$/.test(` + catastrophic + `); }`, stopped, "regular expression"},
		{"regexp nested quantifier on a long string", FieldActive, `function(e) { return /^(a+)+$/.test("a".repeat(1 << 19) + "b"); }`, tooBig, "on a string of 524289 characters"},
		{"regexp in a loop", FieldActive, `function(e) { var s = "a".repeat(22) + "b"; for (;;) /^(a+)+\1$/.test(s); }`, stopped, ""},

		// Huge strings and arrays made by one built-in call, which goja's
		// Interrupt cannot stop either.
		{"repeat 1<<30", FieldOrgName, `function(e) { return "x".repeat(1 << 30); }`, tooBig, "repeat"},
		{"repeat concatenated in a loop", FieldOrgName, `function(e) { var c = "x".repeat(1 << 20), s = ""; for (;;) s += c; }`, anyLimit, ""},
		// Joins are checked after each one (concat.go), on the script's own
		// goroutine: no late watchdog lets them through.
		{"string doubling", FieldOrgName, `function(e) { var s = "x"; for (;;) s += s; }`, tooBig, ""},
		{"string doubling by +", FieldOrgName, `function(e) { var s = "x"; for (;;) s = s + s; }`, tooBig, ""},
		{"string doubling that catches", FieldOrgName, `function(e) { var s = "x"; for (;;) try { s += s; } catch (x) {} }`, tooBig, ""},
		{"string doubling of a property", FieldOrgName, `function(e) { var o = {s: "x"}; for (;;) o["s"] += o.s; }`, tooBig, ""},
		{"string doubling in straight code", FieldOrgName, `function(e) { var s = "x".repeat(1 << 20); s += s; s += s; s += s; s += s; s += s; return s; }`, tooBig, ""},
		{"one long chain of +", FieldOrgName, `function(e) { var s = "x".repeat(1 << 20); return ` + strings.Repeat("s + ", 200) + `s; }`, tooBig, ""},
		{"template doubling", FieldOrgName, "function(e) { var s = 'x'; for (;;) s = `${s}${s}`; }", tooBig, ""},
		{"template of many long substitutions", FieldOrgName, "function(e) { var s = 'x'.repeat(1 << 20); return `" + strings.Repeat("${s}", 200) + "`; }", tooBig, ""},
		{"template of objects that turn into long strings", FieldOrgName, "function(e) { var s = 'x'.repeat(1 << 20), o = {toString: function() { return s; }}; return `" + strings.Repeat("${o}", 200) + "`; }", tooBig, ""},
		{"Array(1e9).fill", FieldRoleName, `function(e) { return new Array(1e9).fill(0); }`, tooBig, "Array"},
		{"length set by hand, then fill", FieldRoleName, `function(e) { var a = []; a.length = 1e9; return a.fill(0); }`, tooBig, "fill"},
		{"concat growth", FieldRoleName, `function(e) { var a = ["x"]; for (;;) a = a.concat(a); }`, anyLimit, ""},
		{"push growth", FieldRoleName, `function(e) { var a = []; for (;;) a.push({n: a.length}); }`, anyLimit, ""},
		{"string growth by small pieces", FieldOrgName, `function(e) { var a = []; for (var i = 0; ; i++) a.push("piece " + i); }`, anyLimit, ""},
		{"Array(1e8).join", FieldOrgName, `function(e) { return Array(1e8).join("x"); }`, tooBig, "100000000 elements"},
		{"join of a long sparse array", FieldOrgName, `function(e) { var a = []; a.length = 1e8; return a.join("x"); }`, tooBig, "join"},
		{"join of one long string many times", FieldOrgName, `function(e) { var s = "x".repeat(1 << 20), a = []; for (var i = 0; i < 1000; i++) a.push(s); return a.join(""); }`, tooBig, "join"},
		{"padStart 1e9", FieldOrgName, `function(e) { return "x".padStart(1e9); }`, tooBig, "padStart"},
		{"padEnd 1e9", FieldOrgName, `function(e) { return "x".padEnd(1e9, "ab"); }`, tooBig, "padEnd"},
		{"JSON.stringify of a huge structure", FieldOrgName, `function(e) { var a = [1]; for (var i = 0; i < 30; i++) a = [a, a]; return JSON.stringify(a); }`, anyLimit, ""},
		{"JSON.stringify of one long string many times", FieldOrgName, `function(e) { var s = "x".repeat(1 << 20), a = []; for (var i = 0; i < 100; i++) a.push(s); return JSON.stringify(a); }`, tooBig, "JSON.stringify"},
		{"JSON.parse deeply nested", FieldOrgName, `function(e) { return JSON.parse("[".repeat(1 << 20)); }`, tooDeep, "JSON.parse"},
		{"split into characters", FieldRoleName, `function(e) { return "x".repeat(1 << 20).split(""); }`, tooBig, "split"},
		// (stopped by the guard of replace, by the watchdog, or by the time
		// limit, whichever comes first)
		{"replace amplifying with $&", FieldOrgName, `function(e) { return "x".repeat(1 << 16).replace(/x/g, "$&".repeat(1000)); }`, anyLimit, ""},
		{"replaceAll amplifying with $'", FieldOrgName, "function(e) { return \"x\".repeat(1 << 16).replaceAll(\"x\", \"$'\"); }", anyLimit, ""},
		{"replace with a function returning a long string", FieldOrgName, `function(e) { var big = "y".repeat(1 << 20); return "x".repeat(100).replace(/x/g, function() { return big; }); }`, anyLimit, ""},
		{"Object.keys of a long string", FieldRoleName, `function(e) { return Object.keys("x".repeat(1 << 20)); }`, tooBig, "Object.keys"},
		{"apply with a huge array-like", FieldOrgName, `function(e) { return String.fromCharCode.apply(null, {length: 1e9}); }`, tooBig, "apply"},
		{"sort of a huge array-like", FieldRoleName, `function(e) { return Array.prototype.sort.call({length: 1e9}); }`, tooBig, "sort"},
		{"flat of a doubling array", FieldRoleName, `function(e) { var a = [1]; for (var i = 0; i < 30; i++) a = [a, a]; return a.flat(Infinity); }`, tooBig, "flat"},
		{"eval of a huge source", FieldOrgName, `function(e) { return eval("1+".repeat(1 << 20) + "1"); }`, tooBig, "eval"},

		// A native function used as an iterator's next: goja loops in Go,
		// without ever running JavaScript that Interrupt could stop.
		{"spread of an endless native iterator", FieldRoleName, `function(e) { return [...{[Symbol.iterator]: function() { return {next: Object}; }}]; }`, anyLimit, ""},
		{"Array.from of an endless native iterator", FieldRoleName, `function(e) { return Array.from({[Symbol.iterator]: function() { return {next: Array.of}; }}); }`, anyLimit, ""},
		{"spread of an endless iterator made by Proxy.revocable", FieldRoleName, `function(e) { var next = Proxy.revocable.bind(null, {}, {}); return [...{[Symbol.iterator]: function() { return {next: next}; }}]; }`, anyLimit, ""},
		{"new Set of an endless iterator made by arguments", FieldRoleName, `function(e) { var it = arguments[Symbol.iterator]; return [new Set({[Symbol.iterator]: function() { return {next: it}; }}).size]; }`, anyLimit, ""},

		// Recursion and loops (goja stopped these already).
		{"deep recursion", FieldActive, `function(e) { function f(n) { return f(n + 1); } return f(0); }`, tooDeep, "maximum call depth"},
		{"recursion through toJSON", FieldOrgName, `function(e) { var o = {toJSON: function() { return [o, o]; }}; return JSON.stringify(o); }`, tooDeep, "JSON.stringify"},
		{"recursion through join", FieldOrgName, `function(e) { var a = []; for (var i = 0; i < 20000; i++) a = [a]; return String(a); }`, tooDeep, "join"},
		{"eval of deeply nested source", FieldOrgName, `function(e) { return eval("(".repeat(30000) + "1" + ")".repeat(30000)); }`, tooDeep, "eval"},
		{"while(true)", FieldActive, `function(e) { while (true) {} }`, stopped, "an endless loop?"},
		{"endless loop that catches everything", FieldActive, `function(e) { for (;;) { try { "x".repeat(1 << 30); } catch (x) {} } }`, tooBig, "repeat"},

		// Results over their bounds.
		{"org name of 256 characters", FieldOrgName, `function(e) { return "o".repeat(256); }`, []error{ErrResultTooLarge}, "org name script returned a name of 256 characters; an org name has at most 255"},
		{"org name of 5 MB", FieldOrgName, `function(e) { return e.department; }`, []error{ErrResultTooLarge}, "org name script returned a name of 5242880 characters"},
		{"org name of 1 MB made by the script", FieldOrgName, `function(e) { return "o".repeat(1 << 20); }`, []error{ErrResultTooLarge}, "org name script returned a name of 1048576 characters"},
		{"101 roles", FieldRoleName, `function(e) { var r = []; for (var i = 0; i < 101; i++) r.push("R" + i); return r; }`, []error{ErrResultTooLarge}, "role name script returned 101 roles; at most 100 are allowed"},
		{"ten thousand roles", FieldRoleName, `function(e) { return new Array(1e4).fill("R"); }`, []error{ErrResultTooLarge}, "role name script returned 10000 roles"},
		{"a million roles", FieldRoleName, `function(e) { var r = []; r.length = 1e6; return r.fill("R"); }`, []error{ErrResultTooLarge, ErrMemoryLimit}, ""},
		{"a million roles by hand", FieldRoleName, `function(e) { var r = []; for (var i = 0; i < 1e6; i++) r.push("R" + i); return r; }`, []error{ErrResultTooLarge, ErrMemoryLimit, ErrTimeout}, ""},
		{"a role of 101 characters", FieldRoleName, `function(e) { return ["ok", "r".repeat(101)]; }`, []error{ErrResultTooLarge}, "role name script returned a role of 101 characters (element 1); a role name has at most 100"},
	}
	// Scripts that grow memory gradually get the default limit of 1 s, as
	// do those that build deep structures before they recurse (under the
	// race detector on a busy machine, building 20,000 nested arrays took
	// longer than 250 ms, and the call ended on its time limit first).
	slow := map[string]bool{"push growth": true, "string growth by small pieces": true,
		"recursion through join": true, "recursion through toJSON": true, "deep recursion": true}
	good := compileT(t, FieldActive, uacScript)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileT(t, tt.field, tt.src)
			limit := containLimit
			if slow[tt.name] {
				limit = DefaultLimit // long enough to grow past 64 MB without a memory limit
			}
			r := NewRunner(limit)
			elapsed, grew, err := measureCall(t, r, p)
			if elapsed > 2*limit {
				t.Errorf("the call took %v, more than twice its limit of %v", elapsed, limit)
			}
			if grew.alloc > containedMemory || grew.sys > containedMemory {
				t.Errorf("the call allocated %d MB and grew the process by %d MB (limit %d MB)", grew.alloc>>20, grew.sys>>20, containedMemory>>20)
			}
			matched := false
			for _, w := range tt.want {
				matched = matched || errors.Is(err, w)
			}
			if !matched || !strings.Contains(fmt.Sprint(err), tt.msg) {
				t.Errorf("err = %v; want one of %v with %q", err, tt.want, tt.msg)
			}
			var re *RunError
			if err != nil && (!errors.As(err, &re) || !strings.HasPrefix(re.Msg, re.Script+" ")) {
				t.Errorf("err = %#v, want a *RunError whose message starts with the script's name", err)
			}
			// The Runner still works, for this Program and for another.
			if ok, err := r.Active(good, staffDN, map[string][]string{"userAccountControl": {"514"}}); ok || err != nil {
				t.Errorf("next call: %v %v", ok, err)
			}
			if err := callAny(r, compileT(t, tt.field, tt.src)); err == nil {
				t.Errorf("the same script again: no error")
			}
		})
	}
}

type growth struct{ alloc, sys uint64 }

// measureCall runs p once on r and returns how long it took and how much the
// process allocated and grew meanwhile. A call that has not returned after
// ten times its limit is abandoned (the test has failed; on the code before
// the containment work, such calls never return).
func measureCall(t *testing.T, r *Runner, p *Program) (time.Duration, growth, error) {
	t.Helper()
	if _, err := r.state(p); err != nil { // the runtime is made before the call is timed
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- callAny(r, p) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * r.Limit()):
		t.Fatalf("the call has not returned after %v (limit %v)", time.Since(start), r.Limit())
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, growth{alloc: after.TotalAlloc - before.TotalAlloc, sys: after.Sys - before.Sys}, err
}

// Results exactly at their bounds are accepted.
func TestResultsAtTheirBounds(t *testing.T) {
	r := NewRunner(time.Second)
	org, err := r.OrgName(compileT(t, FieldOrgName, `function(e) { return "ö".repeat(255); }`), staffDN, nil)
	if err != nil || len([]rune(org)) != 255 {
		t.Fatalf("255 characters: %d %v", len([]rune(org)), err)
	}
	roles, err := r.Roles(compileT(t, FieldRoleName, `function(e) { var r = []; for (var i = 0; i < 100; i++) r.push(String(i % 10).repeat(100)); return r; }`), staffDN, nil)
	if err != nil || len(roles) != 100 || len(roles[99]) != 100 {
		t.Fatalf("100 roles of 100 characters: %d %v", len(roles), err)
	}
	// A role's length counts characters, not bytes or UTF-16 units.
	roles, err = r.Roles(compileT(t, FieldRoleName, `function(e) { return ["😀".repeat(100)]; }`), staffDN, nil)
	if err != nil || len(roles) != 1 {
		t.Fatalf("100 emoji: %v %v", roles, err)
	}
	if _, err := r.OrgName(compileT(t, FieldOrgName, `function(e) { return "😀".repeat(256); }`), staffDN, nil); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("256 emoji: %v", err)
	}
}
