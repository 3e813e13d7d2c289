package script

import (
	"reflect"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/token"
)

// Joining strings with + (and +=, and template literals) is the one way a
// script makes a longer string without calling a built-in function, and goja
// does it in one step: s += s doubles s in one instruction, so a loop of them
// reaches gigabytes between two looks of the Runner's watchdog whenever the
// watchdog's timer is late (a busy machine). Compile therefore rewrites
// every such join so that its result goes through concatGuard, a function of
// the runtime that counts the string's size against the call (charge) and
// stops the call past maxStringLen: the check runs on the script's own
// goroutine, after every join, whatever the scheduler does.
//
//	a + b           →  concatGuard(a + b)        (unless a or b is a literal)
//	a += b          →  concatGuard(a += b)       (unless b is a literal)
//	`x${a}y${b}`    →  concatGuard(`x${concatGuard(a)}y${concatGuard(b)}`)
//
// A join with a literal operand grows a string by at most the literal (the
// source is at most 64 KiB): that growth is a step like any other, left to
// the watchdog, and keeps the common "cn=" + name at goja's own speed.
// Substitutions are guarded one by one because a template joins them all in
// one step; the guard converts an object to its string first, as the
// template would (so its toString runs once, at the same point).

// concatGuardName is the global that Compile's rewriting calls. Scripts may
// not name it (reservedIdentifier) nor use with (which could shadow it), and
// the global is neither writable nor configurable.
const concatGuardName = "__authority_concat"

// reservedPrefix starts every name scripts may not use.
const reservedPrefix = "__authority_"

// guardConcatenation rewrites the joins of strings in tree (see above).
func guardConcatenation(tree *ast.Program) {
	walkReflect(reflect.ValueOf(tree), nil, func(slot reflect.Value) {
		if slot.Type() != expressionType || !slot.CanSet() {
			return
		}
		e, ok := slot.Interface().(ast.Expression)
		if !ok || joinOf(e) == "" {
			return
		}
		if t, ok := e.(*ast.TemplateLiteral); ok {
			for i, x := range t.Expressions {
				t.Expressions[i] = guardCall(x)
			}
		}
		slot.Set(reflect.ValueOf(guardCall(e)))
	})
}

// joinOf describes the join of strings node makes that Compile guards: a +
// or += whose operands are not both literals, or a template with
// substitutions ("" for none).
func joinOf(node any) string {
	switch n := node.(type) {
	case *ast.BinaryExpression:
		if n.Operator == token.PLUS && !isLiteral(n.Left) && !isLiteral(n.Right) {
			return "joining two strings with +"
		}
	case *ast.AssignExpression:
		if n.Operator == token.PLUS && !isLiteral(n.Right) {
			return "joining strings with +="
		}
	case *ast.TemplateLiteral:
		if n.Tag == nil && len(n.Expressions) > 0 {
			return "a template literal with substitutions"
		}
	}
	return ""
}

// isLiteral reports whether e is a literal whose value is short: a string or
// number, or a template without substitutions.
func isLiteral(e ast.Expression) bool {
	switch n := e.(type) {
	case *ast.StringLiteral, *ast.NumberLiteral, *ast.BooleanLiteral, *ast.NullLiteral:
		return true
	case *ast.TemplateLiteral:
		return n.Tag == nil && len(n.Expressions) == 0
	}
	return false
}

// guardCall is concatGuard(e), placed where e was.
func guardCall(e ast.Expression) ast.Expression {
	at := e.Idx0()
	return &ast.CallExpression{
		Callee:           &ast.Identifier{Name: concatGuardName, Idx: at},
		LeftParenthesis:  at,
		ArgumentList:     []ast.Expression{e},
		RightParenthesis: e.Idx1() - 1,
	}
}

var expressionType = reflect.TypeOf((*ast.Expression)(nil)).Elem()

// unguardable finds, in source text a script compiles at run time (eval, the
// Function constructors), what Compile's rewriting would have guarded (and
// cannot, since goja compiles that text itself), or a reserved name: that
// text is refused. It returns the construct's description.
func unguardable(tree *ast.Program) (string, bool) {
	what := ""
	walkAST(tree, func(node any) bool {
		if what == "" {
			what = joinOf(node)
		}
		return what == ""
	})
	if what == "" {
		if _, name, bad := reservedSyntax(tree); bad {
			what = name
		}
	}
	return what, what != ""
}

// reservedSyntax finds the first use of a reserved name (reservedPrefix) or
// of a with statement in tree: either could stand in for concatGuard. It
// returns the construct's 1-based offset and its description.
func reservedSyntax(tree *ast.Program) (file.Idx, string, bool) {
	var idx file.Idx
	what := ""
	walkAST(tree, func(node any) bool {
		if what != "" {
			return false
		}
		switch n := node.(type) {
		case *ast.Identifier:
			if strings.HasPrefix(string(n.Name), reservedPrefix) {
				idx, what = n.Idx, "the name "+string(n.Name)+" (names starting with "+reservedPrefix+" are reserved)"
			}
		case *ast.WithStatement:
			idx, what = n.With, "a with statement"
		}
		return what == ""
	})
	return idx, what, what != ""
}

// installConcatGuard defines concatGuard on the runtime's global object.
func (sb *sandbox) installConcatGuard() error {
	guard := sb.native(concatGuardName, 1, func(c goja.FunctionCall) goja.Value {
		v := c.Argument(0)
		if o, ok := v.(*goja.Object); ok { // a template's substitution
			v = o.ToString()
		}
		if s, ok := v.(goja.String); ok {
			sb.checkString("joining strings", float64(s.Length()))
		}
		return v
	})
	return sb.vm.GlobalObject().DefineDataProperty(concatGuardName, guard, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}
