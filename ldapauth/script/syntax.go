package script

import (
	"math/big"
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
)

// forbiddenSyntax finds the first construct in a parsed script that scripts
// may not use, because goja runs it in one step whose cost has no bound:
//
//   - BigInt literals (10n): 2n ** 10n ** 9n or 1n << 10n ** 9n computes
//     for as long and allocates as much as it likes;
//   - object spread and object rest ({...x}, {a, ...rest} = x): goja copies
//     every property of x in one step, and a string of n characters or an
//     array of n elements has n properties, each costing a hundred bytes.
//
// It returns the construct's 1-based offset in the parsed text and its
// description.
func forbiddenSyntax(tree *ast.Program) (file.Idx, string, bool) {
	var idx file.Idx
	what := ""
	found := func(at file.Idx, w string) bool {
		idx, what = at, w
		return false
	}
	walkAST(tree, func(node any) bool {
		if what != "" {
			return false
		}
		switch n := node.(type) {
		case *ast.NumberLiteral:
			if reflect.TypeOf(n.Value) == bigIntType {
				return found(n.Idx, "a BigInt literal ("+n.Literal+")")
			}
			return false
		case *ast.ObjectLiteral:
			for _, p := range n.Value {
				if s, ok := p.(*ast.SpreadElement); ok {
					return found(s.Idx0(), "object spread ({...x})")
				}
			}
		case *ast.ObjectPattern:
			if n.Rest != nil {
				return found(n.Rest.Idx0(), "an object rest pattern ({...rest})")
			}
		}
		return true
	})
	return idx, what, what != ""
}

var (
	fileType   = reflect.TypeOf((*file.File)(nil))
	bigIntType = reflect.TypeOf((*big.Int)(nil))
)

// walkAST calls visit on every node of tree (each pointer in it, once), by
// reflection: goja's ast package has no walker. visit returns whether to
// go into the node's children.
func walkAST(tree *ast.Program, visit func(node any) bool) {
	walkReflect(reflect.ValueOf(tree), visit, nil)
}

// walkReflect goes through the nodes below v by reflection, each pointer
// once: visit (when not nil) is called on each pointer before its children
// and returns whether to go into them; after (when not nil) is called on
// each interface-typed slot once its children are done, so that it may
// replace what the slot holds (guardConcatenation).
func walkReflect(v reflect.Value, visit func(node any) bool, after func(slot reflect.Value)) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			walk(v.Elem())
			if after != nil {
				after(v)
			}
		case reflect.Pointer:
			if v.IsNil() || v.Type() == fileType || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if visit != nil && v.CanInterface() && !visit(v.Interface()) {
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(v)
}
