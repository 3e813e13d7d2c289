package script

import (
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// The guards of Array, Object, Function and eval built-ins (see guards.go).

// Arrays.

// guardLength guards an Array.prototype method that walks (and, with
// perElement, allocates for) every index below this.length.
func guardLength(name string, limit int, perElement int64) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		if !isNothing(c.This) && !goja.IsNull(c.This) {
			n := sb.lengthOf(c.This)
			if n > float64(limit) {
				sb.tooMany(name, n, limit)
			}
			sb.charge(int64(n)*perElement, name)
		}
		return sb.call(orig, c.This, c.Arguments...)
	}
}

func guardArrayFrom(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	items := c.Argument(0)
	if !isNothing(items) && !goja.IsNull(items) {
		if _, str := items.(goja.String); !str {
			o := items.ToObject(sb.vm)
			if it := o.GetSymbol(goja.SymIterator); isNothing(it) || goja.IsNull(it) {
				n := toLength(o.Get("length"))
				if n > maxArrayLen {
					sb.tooMany("Array.from", n, maxArrayLen)
				}
				sb.charge(int64(n)*16, "Array.from")
			}
		}
	}
	return sb.call(orig, c.This, c.Arguments...)
}

func guardArrayConcat(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	total := 0.0
	for _, item := range append([]goja.Value{c.This}, c.Arguments...) {
		o, ok := item.(*goja.Object)
		if !ok {
			total++
			continue
		}
		spreadable := o.ClassName() == "Array"
		if s := o.GetSymbol(goja.SymIsConcatSpreadable); !isNothing(s) {
			spreadable = s.ToBoolean()
		}
		if spreadable {
			total += toLength(o.Get("length"))
		} else {
			total++
		}
	}
	if total > maxArrayLen {
		sb.tooMany("Array.prototype.concat", total, maxArrayLen)
	}
	sb.charge(int64(total)*16, "Array.prototype.concat")
	return sb.call(orig, c.This, c.Arguments...)
}

// guardJoin is Array.prototype.join, done here so that the length of the
// result is known as it grows (elements may all be the same long string).
func guardJoin(sb *sandbox, _ goja.Callable, c goja.FunctionCall) goja.Value {
	o := c.This.ToObject(sb.vm)
	n := toLength(o.Get("length"))
	sep := goja.String(nil)
	if s := c.Argument(0); !isNothing(s) {
		sep = sb.str(s)
	}
	if sep == nil {
		sep = sb.str(sb.vm.ToValue(","))
	}
	return sb.joinWith("Array.prototype.join", o, n, sep, func(v goja.Value) goja.String { return sb.str(v) })
}

func guardToLocaleString(sb *sandbox, _ goja.Callable, c goja.FunctionCall) goja.Value {
	o := c.This.ToObject(sb.vm)
	n := toLength(o.Get("length"))
	return sb.joinWith("Array.prototype.toLocaleString", o, n, sb.str(sb.vm.ToValue(",")), func(v goja.Value) goja.String {
		m, ok := goja.AssertFunction(v.ToObject(sb.vm).Get("toLocaleString"))
		if !ok {
			panic(sb.vm.NewTypeError("toLocaleString is not a function"))
		}
		return sb.str(sb.call(m, v))
	})
}

func (sb *sandbox) joinWith(what string, o *goja.Object, n float64, sep goja.String, conv func(goja.Value) goja.String) goja.Value {
	if n > maxArrayWalk {
		sb.tooMany(what, n, maxArrayWalk)
	}
	for _, j := range sb.joining {
		if j == o {
			return sb.vm.ToValue("") // a cycle: the inner join is empty
		}
	}
	if len(sb.joining) >= maxNesting { // nested arrays join recursively, in Go
		sb.fail(stopDepth, "%s nested deeper than %d levels", what, maxNesting)
	}
	sb.joining = append(sb.joining, o)
	defer func() { sb.joining = sb.joining[:len(sb.joining)-1] }()
	// Convert every element first, so that the length of the result is
	// known before it is built (the elements may all be one long string).
	parts := make([]goja.String, int(n))
	sb.charge(int64(n)*16, what)
	total := math.Max(0, n-1) * float64(sep.Length())
	for i := range parts {
		if v := o.Get(strconv.Itoa(i)); !isNothing(v) && !goja.IsNull(v) {
			parts[i] = conv(v)
			total += float64(parts[i].Length())
		}
		if total > maxStringLen {
			sb.tooLong(what, total)
		}
		if i&1023 == 1023 {
			sb.check()
		}
	}
	sb.checkString(what, total)
	var b goja.StringBuilder
	b.Grow(int(total))
	for i, p := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		if p != nil {
			b.WriteString(p)
		}
	}
	return b.String()
}

func guardFlat(sb *sandbox, _ goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "Array.prototype.flat"
	o := c.This.ToObject(sb.vm)
	n := toLength(o.Get("length"))
	depth := 1.0
	if d := c.Argument(0); !isNothing(d) {
		depth = math.Max(0, toInteger(d))
	}
	// Count first: an array that holds itself, or the same array many
	// times, flattens to far more elements than it holds.
	count := 0
	sb.flatten(what, o, n, depth, 0, nil, nil, func(goja.Value) {
		if count++; count > maxArrayLen {
			sb.tooMany(what, float64(count), maxArrayLen)
		}
	})
	out := make([]any, 0, count)
	sb.charge(int64(count)*16, what)
	sb.flatten(what, o, n, depth, 0, nil, nil, func(v goja.Value) { out = append(out, v) })
	return sb.vm.NewArray(out...)
}

func guardFlatMap(sb *sandbox, _ goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "Array.prototype.flatMap"
	o := c.This.ToObject(sb.vm)
	n := toLength(o.Get("length"))
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		panic(sb.vm.NewTypeError("flatMap mapper function is not callable"))
	}
	var out []any
	sb.flatten(what, o, n, 1, 0, fn, c.Argument(1), func(v goja.Value) {
		if out = append(out, v); len(out) > maxArrayLen {
			sb.tooMany(what, float64(len(out)), maxArrayLen)
		}
	})
	sb.charge(int64(len(out))*16, what)
	return sb.vm.NewArray(out...)
}

// flatten is FlattenIntoArray, giving each element to emit; it stops past
// maxArrayLen elements in one array and maxNesting levels.
func (sb *sandbox) flatten(what string, src *goja.Object, n, depth float64, level int, mapper goja.Callable, thisArg goja.Value, emit func(goja.Value)) {
	if n > maxArrayLen {
		sb.tooMany(what, n, maxArrayLen)
	}
	if level > maxNesting {
		sb.fail(stopDepth, "%s nested deeper than %d levels", what, maxNesting)
	}
	for i := 0; i < int(n); i++ {
		el := src.Get(strconv.Itoa(i))
		if el == nil {
			continue
		}
		if mapper != nil {
			el = sb.call(mapper, thisArg, el, sb.vm.ToValue(i), src)
		}
		if depth > 0 && isArray(el) {
			inner := el.(*goja.Object)
			sb.flatten(what, inner, toLength(inner.Get("length")), depth-1, level+1, nil, nil, emit)
		} else {
			emit(el)
		}
		if i&1023 == 1023 {
			sb.check()
		}
	}
}

// preArray checks Array(n) and new Array(n).
func preArray(sb *sandbox, args []goja.Value) []goja.Value {
	if len(args) == 1 && goja.IsNumber(args[0]) {
		if n := args[0].ToFloat(); n > maxArrayWalk && n <= math.MaxUint32 {
			sb.tooMany("Array", n, maxArrayWalk)
		}
	}
	return args
}

// Objects and functions.

// guardKeys guards a function that makes a property (or key) per element
// of the arguments from..from+count (count -1: all): a string or an array
// of n elements gets n properties.
func guardKeys(name string, perKey int64, from, count int) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		args := c.Arguments
		if from < len(args) {
			args = args[from:]
			if count >= 0 && count < len(args) {
				args = args[:count]
			}
			for _, a := range args {
				n := keysOf(a)
				if n > maxArrayLen {
					sb.tooMany(name, n, maxArrayLen)
				}
				sb.charge(int64(n)*perKey, name)
			}
		}
		return sb.call(orig, c.This, c.Arguments...)
	}
}

// keysOf is how many index keys a string or an array has (0 for others,
// whose keys already take as much memory as their list will).
func keysOf(v goja.Value) float64 {
	switch x := v.(type) {
	case goja.String:
		return float64(x.Length())
	case *goja.Object:
		switch x.ClassName() {
		case "String", "Array":
			return toLength(x.Get("length"))
		}
	}
	return 0
}

// guardApply guards a function that spreads the array-like argument idx
// as arguments.
func guardApply(name string, idx int) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		if o, ok := c.Argument(idx).(*goja.Object); ok {
			n := toLength(o.Get("length"))
			if n > maxApplyArgs {
				sb.tooMany(name, n, maxApplyArgs)
			}
			sb.charge(int64(n)*16, name)
		}
		return sb.call(orig, c.This, c.Arguments...)
	}
}

func guardEval(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	if s, ok := c.Argument(0).(goja.String); ok {
		sb.checkSource("eval", s.String())
	}
	return sb.call(orig, c.This, c.Arguments...)
}

// preFunction checks the source text given to the Function constructors.
func preFunction(kind string) ctorPre {
	return func(sb *sandbox, args []goja.Value) []goja.Value {
		conv := make([]goja.Value, len(args))
		params := make([]string, 0, len(args))
		body := ""
		for i, a := range args {
			s := sb.str(a)
			conv[i] = s
			if i == len(args)-1 {
				body = s.String()
			} else {
				params = append(params, s.String())
			}
		}
		sb.checkSource(kind, "("+kind+" anonymous("+strings.Join(params, ",")+"\n) {\n"+body+"\n})")
		return conv
	}
}

// checkSource refuses source text that a script compiles at run time when
// it is too long or uses syntax scripts may not use (forbiddenSyntax).
func (sb *sandbox) checkSource(what, src string) {
	if len(src) > maxEvalSource {
		sb.fail(stopMemory, "%s would compile %d bytes of source (at most %d)", what, len(src), maxEvalSource)
	}
	// The parser recurses once per nesting level: count them first (an
	// upper bound: brackets in strings and comments count too).
	depth, deepest := 0, 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			depth--
		}
	}
	if deepest > maxNesting {
		sb.fail(stopDepth, "%s would compile source nested %d levels deep (at most %d)", what, deepest, maxNesting)
	}
	tree, err := parser.ParseFile(nil, "", src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return // the original reports the syntax error
	}
	msg := ""
	if bad, found := unguardable(tree); found {
		msg = bad + " is not supported in source given to " + what + " (write it in the script itself)"
	} else if _, bad, found := forbiddenSyntax(tree); found {
		msg = bad + " is not supported in scripts"
	}
	if msg != "" {
		obj, cerr := sb.syntaxError(nil, sb.vm.ToValue(msg))
		if cerr != nil {
			panic(cerr)
		}
		panic(obj)
	}
}
