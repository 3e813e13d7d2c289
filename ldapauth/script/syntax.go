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
	w := &syntaxWalker{seen: make(map[uintptr]bool)}
	w.walk(reflect.ValueOf(tree))
	return w.idx, w.what, w.what != ""
}

type syntaxWalker struct {
	seen map[uintptr]bool
	idx  file.Idx
	what string
}

var (
	fileType   = reflect.TypeOf((*file.File)(nil))
	bigIntType = reflect.TypeOf((*big.Int)(nil))
)

func (w *syntaxWalker) found(idx file.Idx, what string) {
	if w.what == "" {
		w.idx, w.what = idx, what
	}
}

// walk visits every node of the tree (by reflection: goja's ast package has
// no walker).
func (w *syntaxWalker) walk(v reflect.Value) {
	if w.what != "" || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == fileType {
			return
		}
		if w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		if v.CanInterface() {
			switch n := v.Interface().(type) {
			case *ast.NumberLiteral:
				if reflect.TypeOf(n.Value) == bigIntType {
					w.found(n.Idx, "a BigInt literal ("+n.Literal+")")
				}
				return
			case *ast.ObjectLiteral:
				for _, p := range n.Value {
					if s, ok := p.(*ast.SpreadElement); ok {
						w.found(s.Idx0(), "object spread ({...x})")
						return
					}
				}
			case *ast.ObjectPattern:
				if n.Rest != nil {
					w.found(n.Rest.Idx0(), "an object rest pattern ({...rest})")
					return
				}
			}
		}
		w.walk(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			w.walk(v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i))
		}
	}
}
