package script

import (
	"reflect"
	"sort"
	"strings"

	"github.com/dop251/goja/ast"
)

// Attributes returns the entry attributes the program reads, by name (as
// written, without duplicates ignoring case, sorted), or all=true when it
// cannot tell: the entry is used other than as entry.name or
// entry["literal"] (passed to a function, stored, indexed by a computed
// name, enumerated), the parameter is a pattern, or the script uses eval,
// Function, arguments or with. entry.dn is not an attribute and is left out.
// A directory search may ask only for these attributes: a script can never
// read one that was not fetched.
func (p *Program) Attributes() (names []string, all bool) {
	if p == nil {
		return nil, false
	}
	return p.attrs, p.allAttrs
}

// Attributes is the union of the Set's programs' attributes.
func (s *Set) Attributes() (names []string, all bool) {
	if s == nil {
		return nil, false
	}
	seen := map[string]bool{}
	for _, p := range []*Program{s.Active, s.OrgName, s.RoleName} {
		ns, a := p.Attributes()
		if a {
			return nil, true
		}
		for _, n := range ns {
			if !seen[strings.ToLower(n)] {
				seen[strings.ToLower(n)] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names, false
}

// objectMembers are the names every object has: reading one of them from
// the entry is no attribute access (entry.hasOwnProperty("x") asks about x).
var objectMembers = map[string]bool{"constructor": true, "hasownproperty": true, "isprototypeof": true,
	"propertyisenumerable": true, "tolocalestring": true, "tostring": true, "valueof": true, "__proto__": true,
	"__definegetter__": true, "__definesetter__": true, "__lookupgetter__": true, "__lookupsetter__": true}

// dangerous names let a script reach the entry without naming it.
var dangerous = map[string]bool{"eval": true, "Function": true, "arguments": true}

// referencedAttributes finds what the script's one function reads of its
// first parameter (see Program.Attributes).
func referencedAttributes(tree *ast.Program) (names []string, all bool) {
	if len(tree.Body) != 1 {
		return nil, true
	}
	es, ok := tree.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil, true
	}
	var params *ast.ParameterList
	switch fn := es.Expression.(type) {
	case *ast.FunctionLiteral:
		params = fn.ParameterList
	case *ast.ArrowFunctionLiteral:
		params = fn.ParameterList
	default:
		return nil, true
	}
	w := &attrWalker{seen: map[uintptr]bool{}, names: map[string]string{}}
	if params != nil && len(params.List) > 0 {
		id, ok := params.List[0].Target.(*ast.Identifier)
		if !ok {
			return nil, true // a pattern: function({mail}) { ... }
		}
		w.param = id
		w.name = id.Name.String()
	}
	w.walk(reflect.ValueOf(tree))
	if w.all {
		return nil, true
	}
	for _, n := range w.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, false
}

type attrWalker struct {
	seen  map[uintptr]bool
	param *ast.Identifier // the declaration itself, which is no use of it
	name  string          // the entry parameter's name ("" when none)
	names map[string]string
	all   bool
}

func (w *attrWalker) isParam(e ast.Expression) bool {
	id, ok := e.(*ast.Identifier)
	return ok && w.name != "" && id.Name.String() == w.name
}

func (w *attrWalker) read(name string) {
	switch {
	case strings.EqualFold(name, "dn"):
	case objectMembers[strings.ToLower(name)]:
		w.all = true
	default:
		if _, ok := w.names[strings.ToLower(name)]; !ok {
			w.names[strings.ToLower(name)] = name // the first spelling
		}
	}
}

func (w *attrWalker) walk(v reflect.Value) {
	if w.all || !v.IsValid() {
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
			case *ast.DotExpression:
				if w.isParam(n.Left) {
					w.read(n.Identifier.Name.String())
					return
				}
			case *ast.BracketExpression:
				if w.isParam(n.Left) {
					if s, ok := n.Member.(*ast.StringLiteral); ok {
						w.read(s.Value.String())
						return
					}
					w.all = true // entry[computed]
					return
				}
			case *ast.Identifier:
				if n == w.param {
					return
				}
				if (w.name != "" && n.Name.String() == w.name) || dangerous[n.Name.String()] {
					w.all = true
					return
				}
			case *ast.WithStatement:
				w.all = true
				return
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
