package script

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authority-server/authority/internal/apperr"
)

// The vendor's printed examples, as printed (closing braces lost).
const (
	printedActive = "function(entry) {\n  return !(entry.userAccountControl & 0x2);\n"
	printedOrg    = `function(entry) {
   var ou = entry.dn;
   if (ou != null){
       if ((ou.indexOf("Staff") >= 0 )){  
           return 'Staff';
       else if ((ou.indexOf("Students") >= 0 )){
           return 'Students';  
       else {
           return 'Default';  
   else {
       return 'Default';  
`
)

func TestCompileAcceptsTheDocumentedForms(t *testing.T) {
	tests := []struct {
		name, src string
	}{
		{"default", DefaultActiveSource},
		{"vendor default", "function(entry) {return true;}"},
		{"uac", uacScript},
		{"employeeType", employeeTypeScript},
		{"org by DN", orgScript},
		{"roles org", roleScriptOrg},
		{"roles sysadmin", roleScriptSys},
		{"trailing semicolon", "function(entry) { return true; };"},
		{"trailing semicolons and comments", "function(entry) { return true; } ; // done\n/* really */ ;\n"},
		{"leading comments and whitespace", "\n\n  // active script\n  /* v2 */\n\tfunction(entry) {\n return true;\n}\n\n"},
		{"byte order mark", "\ufefffunction(entry) { return true; }"},
		{"named isActive", "function isActive(entry) { return entry.employeeType != 'inactive'; }"},
		{"named getOrgName", "function getOrgName(entry) {\n  return 'Staff';\n}"},
		{"named getRoles with semicolon", "function getRoles(entry) { return []; };"},
		{"any name", "function whatever(e) { return true }"},
		{"space before paren", "function (entry) { return true; }"},
		{"parenthesised", "(function(entry) { return true; })"},
		{"arrow", "entry => entry.employeeType != 'inactive'"},
		{"arrow with block", "(entry) => { return true; }"},
		{"use strict inside", "function(entry) { 'use strict'; return true; }"},
		{"helpers inside", "function(entry) {\n  function has(g) { return (entry.memberOf || []).indexOf(g) >= 0; }\n  return has('x');\n}"},
		{"CRLF", "function(entry) {\r\n  return true;\r\n}\r\n"},
		{"no parameter", "function() { return true; }"},
		{"line comment at end without newline", "function(entry) { return true; } // the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(FieldActive, tt.src)
			if err != nil {
				t.Fatalf("Compile(%q) = %v", tt.src, err)
			}
			if p.Field() != FieldActive || p.Source() != tt.src {
				t.Errorf("Field/Source = %q/%q", p.Field(), p.Source())
			}
			// And it runs (some return other things than a boolean).
			if _, err := NewRunner(0).Active(p, "cn=a,dc=b", nil); err != nil && !errors.Is(err, ErrResultType) {
				t.Fatal(err)
			}
		})
	}
}

func TestCompileRefusesWithLineAndColumn(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		want      []string // substrings of the message
	}{
		{"empty", "", 1, 1, []string{"empty", "function(entry)"}},
		{"blank", " \n\t ", 1, 1, []string{"empty"}},
		{"only comments", "// nothing here\n/* nor here */", 1, 1, []string{"empty", "must be one function"}},
		{"syntax error on line 2", "function(entry) {\n  return entry.x +;\n}", 2, 19, []string{"syntax error at line 2, column 19", "Unexpected token ;"}},
		{"syntax error on line 1 (the wrapping paren does not shift it)", "function(entry) { return +; }", 1, 27, []string{"line 1, column 27"}},
		{"printed active example (missing brace)", printedActive, 2, 44, []string{"end of script", "}"}},
		{"printed org example (missing braces)", printedOrg, 6, 8, []string{"Unexpected token else"}},
		{"columns count characters, not bytes", "function(entry) {\n  // größe\n  var ü = 'é'; return ü +;\n}", 3, 26, []string{"line 3, column 26"}},
		{"CRLF lines", "function(entry) {\r\n  return +;\r\n}", 2, 11, []string{"line 2, column 11"}},
		{"unterminated string", "function(entry) {\n  return \"abc;\n}", 2, 10, []string{"line 2"}},
		{"garbage after the function", "function(entry) { return true; } x", 1, 34, []string{"Unexpected identifier"}},
		{"compiler error (redeclaration)", "function(e) {\n  let a; let a;\n}", 2, 14, []string{"already been declared"}},
		{"two functions", "function isActive(entry) { return true; }\nfunction helper(x) { return x; }", 2, 1, []string{"found 2 functions", "must be one function"}},
		{"function then statement", "function(entry) { return true; }\nvar x = 1;", 2, 1, []string{"Unexpected token var"}},
		{"a statement", "return true;", 1, 1, []string{"Unexpected token return", "must be one function"}},
		{"a var statement", "var x = 1;", 1, 1, []string{"found a statement", "must be one function"}},
		{"an if statement", "\n  if (entry.x) { true }", 2, 3, []string{"found a statement"}},
		{"a number", "42", 1, 1, []string{"found a number", "must be one function"}},
		{"a string", "  'function(entry) { return true; }'", 1, 3, []string{"found a string"}},
		{"a name", "entry", 1, 1, []string{"found a name"}},
		{"a call", "(function(entry) { return true; })(1)", 1, 2, []string{"function call"}},
		{"a comma expression", "function(a){}, function(b){}", 1, 1, []string{"several expressions"}},
		{"an async function", "async function(entry) { return true; }", 1, 1, []string{"async"}},
		{"a generator", "function*(entry) { yield true; }", 1, 1, []string{"generator"}},
		{"an object", "({})", 1, 2, []string{"found an object"}},
		{"closing the wrapping parenthesis", "function(e) { return true; }); while(true){}; (function(){}", 1, 29, []string{"more than one statement"}},
		// Syntax goja runs in one unbounded step (syntax.go).
		{"a BigInt literal", "function(e) {\n  return 2n ** 1000000000n > 0;\n}", 2, 10, []string{"a BigInt literal (2n) at line 2, column 10 is not supported in scripts"}},
		{"a with statement", "function(e) {\n  with (e) { return dn; }\n}", 2, 3, []string{"a with statement at line 2, column 3 is not supported in scripts"}},
		{"a reserved name", "function(e) {\n  var __authority_concat = String;\n  return 'x' + e.cn;\n}", 2, 7, []string{"the name __authority_concat (names starting with __authority_ are reserved) at line 2, column 7"}},
		{"object spread", "function(e) {\n  var o = {a: 1, ...e.dn};\n  return true;\n}", 2, 21, []string{"object spread ({...x}) at line 2, column 21"}},
		{"object rest", "function(e) { var {a, ...rest} = e; return true; }", 1, 26, []string{"object rest pattern"}},
		{"object rest in a parameter", "function({dn, ...rest}) { return true; }", 1, 18, []string{"object rest pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(FieldOrgName, tt.src)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tt.src, p)
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("error %T %v is not an *apperr.Error", err, err)
			}
			if e.Kind != apperr.KindInvalid || e.Field != FieldOrgName {
				t.Errorf("Kind/Field = %v/%q", e.Kind, e.Field)
			}
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", e.Line, e.Column, tt.line, tt.col, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not contain %q", err.Error(), w)
				}
			}
			if !strings.HasPrefix(err.Error(), FieldOrgName+": ") {
				t.Errorf("message %q does not start with the field", err.Error())
			}
		})
	}
}

// Array spread and rest stay allowed: goja reads them through the
// iterator protocol, one wrapped next() call per element.
func TestCompileAllowsArraySpread(t *testing.T) {
	src := "function(e) { var a = [...e.memberOf, 'x']; var [first, ...rest] = a; return Math.max(...[1, 2]) == 2 && rest.length == a.length - 1; }"
	p := compileT(t, FieldActive, src)
	if ok, err := NewRunner(time.Second).Active(p, "cn=x", map[string][]string{"memberOf": {"a", "b"}}); !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
}

func TestCompileTooLong(t *testing.T) {
	src := "function(entry) { return true; }\n//" + strings.Repeat("x", MaxSourceLen)
	if _, err := Compile(FieldActive, src); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("err = %v", err)
	}
}

// A "//# sourceMappingURL=" comment must not make goja read a file: the
// source map points at a FIFO that nobody writes, so reading it would block
// for ever.
func TestSourceMapsAreNotRead(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "map.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO:", err)
	}
	defer os.Remove(fifo)
	comment := "//# sourceMappingURL=" + fifo
	done := make(chan error, 1)
	go func() {
		p, err := Compile(FieldActive, "function(entry) { return true; }\n"+comment+"\n")
		if err != nil {
			done <- err
			return
		}
		// And not through eval or new Function inside a script either.
		p2, err := Compile(FieldOrgName, "function(entry) { eval('1\\n"+comment+"\\n'); return new Function('return \"x\"\\n"+comment+"\\n')(); }")
		if err != nil {
			done <- err
			return
		}
		r := NewRunner(time.Second)
		if _, err := r.Active(p, "cn=a", nil); err != nil {
			done <- err
			return
		}
		org, err := r.OrgName(p2, "cn=a", nil)
		if err == nil && org != "x" {
			t.Errorf("org = %q", org)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader so the test binary can exit.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("compiling or running a script read its source map")
	}
}

func TestCompileSet(t *testing.T) {
	s, err := CompileSet("", "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if s.Active == nil || s.Active.Source() != DefaultActiveSource || s.OrgName != nil || s.RoleName != nil {
		t.Fatalf("defaults: %+v", s)
	}
	s, err = CompileSet(uacScript, orgScript, roleScriptSys)
	if err != nil {
		t.Fatal(err)
	}
	if s.Active.Field() != FieldActive || s.OrgName.Field() != FieldOrgName || s.RoleName.Field() != FieldRoleName {
		t.Fatalf("fields: %q %q %q", s.Active.Field(), s.OrgName.Field(), s.RoleName.Field())
	}

	tests := []struct {
		active, org, role string
		field             string
		line, col         int
	}{
		{"function(e) { return +; }", orgScript, "", FieldActive, 1, 23},
		{"", "function(e) {\n\n  return 'x' +;\n}", "", FieldOrgName, 3, 15},
		{"", "", "true", FieldRoleName, 1, 1},
	}
	for _, tt := range tests {
		_, err := CompileSet(tt.active, tt.org, tt.role)
		e, ok := apperr.As(err)
		if !ok || e.Field != tt.field || e.Line != tt.line || e.Column != tt.col {
			t.Errorf("CompileSet(%q, %q, %q) = %v (%+v), want field %s at %d:%d", tt.active, tt.org, tt.role, err, e, tt.field, tt.line, tt.col)
		}
	}
}

func TestLineIndex(t *testing.T) {
	li := newLineIndex("ab\ncd\r\nef\rgh\u2028ij")
	tests := []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2}, {7, 3, 1}, {10, 4, 1}, {15, 5, 1}, {17, 5, 3},
	}
	for _, tt := range tests {
		if l, c := li.position(tt.off); l != tt.line || c != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
		if off := li.offset(tt.line, tt.col); off != tt.off {
			t.Errorf("offset(%d:%d) = %d, want %d", tt.line, tt.col, off, tt.off)
		}
	}
}
