package script

import (
	"math"
	"strconv"

	"github.com/dop251/goja"
)

// JSON.stringify and JSON.parse run in one step and recurse in Go: a
// structure that shares its parts (a = [a, a], thirty times) has a billion
// leaves, a toJSON that returns a fresh structure recurses for ever, and
// "[[[[..." a million deep recurses a million times.

// guardStringify runs the original JSON.stringify with a replacer of its
// own, which goja calls for every value it serializes: it tracks the
// nesting depth and an upper bound of the output's length, and calls the
// script's replacer (or applies its property list) itself.
func guardStringify(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "JSON.stringify"
	value, replacer, space := c.Argument(0), c.Argument(1), c.Argument(2)
	var userFn goja.Callable
	var list []string
	if fn, ok := goja.AssertFunction(replacer); ok {
		userFn = fn
	} else if isArray(replacer) {
		list = sb.propertyList(replacer.(*goja.Object))
	}
	indent := 0.0
	switch {
	case goja.IsNumber(space):
		indent = math.Max(0, math.Min(10, toInteger(space)))
	case goja.IsString(space):
		indent = math.Min(10, float64(space.(goja.String).Length()))
	default:
		if o, ok := space.(*goja.Object); ok {
			switch o.ClassName() {
			case "Number":
				space = o.ToNumber()
				indent = math.Max(0, math.Min(10, toInteger(space)))
			case "String":
				space = sb.str(o)
				indent = math.Min(10, float64(space.(goja.String).Length()))
			}
		}
	}

	var stack []*goja.Object // the objects being serialized, outermost first
	total := 0.0             // an upper bound of the output's length
	visited := 0
	own := sb.vm.ToValue(func(rc goja.FunctionCall) goja.Value {
		sb.check()
		if visited++; visited > maxArrayWalk {
			sb.tooMany(what, float64(visited), maxArrayWalk)
		}
		holder, _ := rc.This.(*goja.Object)
		for len(stack) > 0 && stack[len(stack)-1] != holder {
			stack = stack[:len(stack)-1]
		}
		key, v := rc.Argument(0), rc.Argument(1)
		if userFn != nil {
			v = sb.call(userFn, holder, key, v)
		}
		// a comma, the key, quotes and colon (not for array elements), and
		// a new line and indentation
		total++
		if !isArray(holder) {
			total += float64(sb.str(key).Length()) + 3
		}
		if indent > 0 {
			total += 1 + indent*float64(len(stack)+1)
		}
		switch x := v.(type) {
		case goja.String:
			total += jsonLength(x)
		case *goja.Object:
			if _, fn := goja.AssertFunction(x); !fn {
				if len(stack) >= maxNesting {
					sb.fail(stopDepth, "%s nested deeper than %d levels", what, maxNesting)
				}
				if list != nil && !isArray(x) {
					x = sb.pick(x, list)
					v = x
				}
				stack = append(stack, x)
				total += 2
			}
		default:
			total += 24
		}
		if total > maxStringLen {
			sb.tooLong(what, total)
		}
		return v
	})
	res := sb.call(orig, c.This, value, own, space)
	if s, ok := res.(goja.String); ok {
		sb.charge(int64(s.Length())*4, what) // the result and the buffer it grew in
	}
	return res
}

// propertyList is the property list of an array replacer.
func (sb *sandbox) propertyList(a *goja.Object) []string {
	n := toLength(a.Get("length"))
	if n > maxArrayLen {
		sb.tooMany("JSON.stringify", n, maxArrayLen)
	}
	list := []string{}
	seen := map[string]bool{}
	for i := 0; i < int(n); i++ {
		v := a.Get(strconv.Itoa(i))
		var item string
		switch {
		case v == nil:
			continue
		case goja.IsString(v) || goja.IsNumber(v):
			item = v.String()
		default:
			o, ok := v.(*goja.Object)
			if !ok || (o.ClassName() != "String" && o.ClassName() != "Number") {
				continue
			}
			item = sb.str(o).String()
		}
		if !seen[item] {
			seen[item] = true
			list = append(list, item)
		}
	}
	return list
}

// pick copies the properties of the list that o has, in the list's order
// (what JSON.stringify does with a property list).
func (sb *sandbox) pick(o *goja.Object, list []string) *goja.Object {
	out := sb.vm.NewObject()
	for _, k := range list {
		if v := o.Get(k); v != nil && !goja.IsUndefined(v) {
			if err := out.Set(k, v); err != nil {
				panic(err)
			}
		}
	}
	sb.charge(int64(len(list))*64, "JSON.stringify")
	return out
}

// guardParse reads the text once before the original parses it: the depth
// of its nesting, and how many values it holds (each costs more memory than
// its text).
func guardParse(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "JSON.parse"
	text := sb.str(c.Argument(0))
	depth, maxDepth := 0, 0
	containers, values := 0, 1
	inString, escaped := false, false
	r := text.Reader()
	for {
		ch, _, err := r.ReadRune()
		if err != nil {
			break
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			depth++
			containers++
			maxDepth = max(maxDepth, depth)
		case ch == ']' || ch == '}':
			depth--
		case ch == ',' || ch == ':':
			values++
		}
	}
	if maxDepth > maxNesting {
		sb.fail(stopDepth, "%s would nest %d levels deep (at most %d)", what, maxDepth, maxNesting)
	}
	sb.charge(int64(containers)*256+int64(values)*48+int64(text.Length())*2, what)
	args := append([]goja.Value{text}, c.Arguments[min(1, len(c.Arguments)):]...)
	return sb.call(orig, c.This, args...)
}

// jsonLength is an upper bound of the length of s as a JSON string: exact
// for goja's one-byte strings, six characters per character otherwise
// (\u00XX).
func jsonLength(s goja.String) float64 {
	if !isASCII(s) {
		return 6*float64(s.Length()) + 2
	}
	str := s.String()
	n := len(str) + 2
	for i := 0; i < len(str); i++ {
		switch c := str[i]; {
		case c < 0x20:
			n += 5
		case c == '"' || c == '\\':
			n++
		}
	}
	return float64(n)
}
