package script

import (
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"
)

// pureGlobals are the global names a pure script may use: constructors and
// functions whose answers depend on their arguments alone. Math is one,
// except Math.random (see pureWalker.visit). Date, Object, RegExp (whose
// legacy statics keep the last match), Function, eval and globalThis are not.
var pureGlobals = map[string]bool{
	"undefined": true, "NaN": true, "Infinity": true,
	"String": true, "Number": true, "Boolean": true, "Array": true, "Math": true, "JSON": true,
	"parseInt": true, "parseFloat": true, "isNaN": true, "isFinite": true,
	"encodeURIComponent": true, "decodeURIComponent": true, "encodeURI": true, "decodeURI": true,
	"escape": true, "unescape": true,
	"Error": true, "TypeError": true, "RangeError": true,
}

// hiddenMembers are the property names through which a script reaches
// shared objects (prototypes, constructors): a pure script names none.
var hiddenMembers = map[string]bool{"prototype": true, "__proto__": true, "constructor": true,
	"__definegetter__": true, "__definesetter__": true}

// globalNames are the names the global object of a fresh runtime has.
var globalNames = sync.OnceValue(func() map[string]bool {
	vm := goja.New()
	names := map[string]bool{}
	v, err := vm.RunString(`Object.getOwnPropertyNames(globalThis)`)
	if err != nil {
		return names
	}
	var list []string
	if err := vm.ExportTo(v, &list); err == nil {
		for _, n := range list {
			names[n] = true
		}
	}
	return names
})

// isPure reports whether the script's function answers with a function of
// its entry alone, so that a Runner may give the same answer again for an
// entry with the same values of the attributes it reads (memo). It is
// conservative: it is true only for a function that
//   - declares no other function or class, and never uses this, super,
//     new.target, with, delete, yield, await or a tagged template;
//   - assigns (=, +=, ++ ...) only to its parameters and to its var
//     variables (never to a let or const outside its declaration, nor to a
//     property: a script's own arrays grow by push);
//   - names no other variable than its own and the globals in pureGlobals,
//     and declares none of a global's names;
//   - reads no property named prototype, constructor, __proto__ or random,
//     uses Math only as Math.name, and indexes no global by a computed name.
//
// A script that keeps state between calls (a counter in an undeclared
// variable, a property of a global), asks the time or draws random numbers
// is left out, as is one that reads its entry's dn (every entry differs).
func isPure(tree *ast.Program) bool {
	if len(tree.Body) != 1 {
		return false
	}
	es, ok := tree.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return false
	}
	w := &pureWalker{declared: map[string]bool{}, vars: map[string]bool{}, targets: map[*ast.Identifier]bool{}, math: map[*ast.Identifier]bool{}}
	switch fn := es.Expression.(type) {
	case *ast.FunctionLiteral:
		w.top = fn
		if fn.Name != nil {
			w.declared[fn.Name.Name.String()] = true
			w.targets[fn.Name] = true
		}
		w.params(fn.ParameterList)
	case *ast.ArrowFunctionLiteral:
		w.top = fn
		w.params(fn.ParameterList)
	default:
		return false
	}
	if !w.ok {
		return false
	}
	walkAST(tree, w.declare)
	if !w.ok {
		return false
	}
	for name := range w.declared {
		if globalNames()[name] || pureGlobals[name] {
			return false // a declaration that shadows a global
		}
	}
	walkAST(tree, w.visit)
	return w.ok && !w.dn
}

// pureWalker checks one script for isPure.
type pureWalker struct {
	top      any                      // the script's function (its literal)
	param    string                   // the entry parameter's name
	declared map[string]bool          // every name the script declares
	vars     map[string]bool          // the names it may assign: parameters and var variables
	targets  map[*ast.Identifier]bool // the identifiers that declare a name
	math     map[*ast.Identifier]bool // the uses of Math as Math.name (the only ones allowed)
	dn       bool                     // it reads entry.dn
	ok       bool
}

// params declares the function's parameters (identifiers only).
func (w *pureWalker) params(pl *ast.ParameterList) {
	w.ok = true
	if pl == nil {
		return
	}
	if pl.Rest != nil {
		w.ok = false
		return
	}
	for i, b := range pl.List {
		id, isID := b.Target.(*ast.Identifier)
		if !isID || b.Initializer != nil {
			w.ok = false
			return
		}
		if i == 0 {
			w.param = id.Name.String()
		}
		w.declareID(id, true)
	}
}

func (w *pureWalker) declareID(id *ast.Identifier, assignable bool) {
	w.declared[id.Name.String()] = true
	w.targets[id] = true
	if assignable {
		w.vars[id.Name.String()] = true
	}
}

// bindings declares the names of bindings (identifiers only; a pattern is
// not pure).
func (w *pureWalker) bindings(list []*ast.Binding, assignable bool) {
	for _, b := range list {
		w.binding(b.Target, assignable)
	}
}

func (w *pureWalker) binding(t ast.BindingTarget, assignable bool) {
	if id, isID := t.(*ast.Identifier); isID {
		w.declareID(id, assignable)
		return
	}
	w.ok = false
}

// declare collects the declarations: var (assignable everywhere in the
// one function), let and const (block-scoped: never assigned), catch
// parameters.
func (w *pureWalker) declare(node any) bool {
	if !w.ok {
		return false
	}
	switch n := node.(type) {
	case *ast.VariableStatement:
		w.bindings(n.List, true)
	case *ast.ForLoopInitializerVarDeclList:
		w.bindings(n.List, true)
	case *ast.ForIntoVar:
		w.bindings([]*ast.Binding{n.Binding}, true)
	case *ast.LexicalDeclaration:
		w.bindings(n.List, false)
	case *ast.ForLoopInitializerLexicalDecl:
		w.bindings(n.LexicalDeclaration.List, false)
	case *ast.ForDeclaration:
		w.binding(n.Target, false)
	case *ast.CatchStatement:
		if n.Parameter != nil {
			w.binding(n.Parameter, false)
		}
	}
	return true
}

// assignable reports whether e is a variable the script may assign.
func (w *pureWalker) assignable(e ast.Expression) bool {
	id, ok := e.(*ast.Identifier)
	return ok && w.vars[id.Name.String()]
}

// isEntry reports whether e is the entry parameter.
func (w *pureWalker) isEntry(e ast.Expression) bool {
	id, ok := e.(*ast.Identifier)
	return ok && w.param != "" && id.Name.String() == w.param
}

// isGlobal reports whether e names a global (pureGlobals).
func isGlobal(e ast.Expression) bool {
	id, ok := e.(*ast.Identifier)
	return ok && pureGlobals[id.Name.String()]
}

// visit checks one node; it returns whether to go into its children.
func (w *pureWalker) visit(node any) bool {
	if !w.ok {
		return false
	}
	fail := func() bool { w.ok = false; return false }
	switch n := node.(type) {
	case *ast.FunctionLiteral:
		if any(n) != w.top {
			return fail()
		}
	case *ast.ArrowFunctionLiteral:
		if any(n) != w.top {
			return fail()
		}
	case *ast.ClassLiteral, *ast.ClassDeclaration, *ast.FunctionDeclaration,
		*ast.ThisExpression, *ast.SuperExpression, *ast.MetaProperty, *ast.WithStatement,
		*ast.YieldExpression, *ast.AwaitExpression, *ast.PrivateDotExpression,
		*ast.ArrayPattern, *ast.ObjectPattern, *ast.LabelledStatement:
		return fail()
	case *ast.TemplateLiteral:
		if n.Tag != nil {
			return fail()
		}
	case *ast.UnaryExpression:
		if n.Operator == token.DELETE {
			return fail()
		}
		if n.Operator == token.INCREMENT || n.Operator == token.DECREMENT {
			if !w.assignable(n.Operand) {
				return fail()
			}
		}
	case *ast.AssignExpression:
		if !w.assignable(n.Left) {
			return fail()
		}
	case *ast.ForIntoExpression:
		if !w.assignable(n.Expression) {
			return fail()
		}
	case *ast.DotExpression:
		name := n.Identifier.Name.String()
		if hiddenMembers[strings.ToLower(name)] {
			return fail()
		}
		if name == "random" {
			return fail() // Math.random
		}
		if id, ok := n.Left.(*ast.Identifier); ok && id.Name.String() == "Math" {
			w.math[id] = true
		}
		if w.isEntry(n.Left) && strings.EqualFold(name, "dn") {
			w.dn = true
		}
	case *ast.BracketExpression:
		if isGlobal(n.Left) {
			return fail()
		}
		if s, ok := n.Member.(*ast.StringLiteral); ok {
			if hiddenMembers[strings.ToLower(s.Value.String())] {
				return fail()
			}
			if w.isEntry(n.Left) && strings.EqualFold(s.Value.String(), "dn") {
				w.dn = true
			}
		}
	case *ast.PropertyShort:
		if !w.declared[n.Name.Name.String()] {
			return fail()
		}
	case *ast.PropertyKeyed:
		if n.Kind != ast.PropertyKindValue {
			return fail() // getters, setters, methods
		}
	case *ast.Identifier:
		if w.targets[n] {
			return false
		}
		if name := n.Name.String(); !w.declared[name] && !pureGlobals[name] || name == "Math" && !w.math[n] {
			return fail() // another global, or Math other than as Math.name (var m = Math; m.random())
		}
	}
	return true
}
