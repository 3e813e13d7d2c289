package script

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// The guarded built-in functions: each one works out, before the original
// runs (or instead of it), how large its result or how long its walk would
// be, refuses what is over the limits of limits.go, and charges what it
// allocates to the call.

// guardTable lists the guarded built-ins by path from the global object
// ("@@split" is the symbol Symbol.split).
var guardTable = []struct {
	path string
	g    guardFunc
}{
	{"String.prototype.repeat", guardRepeat},
	{"String.prototype.padStart", guardPad("String.prototype.padStart")},
	{"String.prototype.padEnd", guardPad("String.prototype.padEnd")},
	{"String.prototype.concat", guardStringConcat},
	{"String.prototype.replace", guardStringReplace("String.prototype.replace")},
	{"String.prototype.replaceAll", guardStringReplace("String.prototype.replaceAll")},
	{"String.prototype.split", guardStringSplit},
	{"String.prototype.normalize", guardGrowing("String.prototype.normalize", 18)},
	{"String.prototype.toLowerCase", guardGrowing("String.prototype.toLowerCase", 3)},
	{"String.prototype.toUpperCase", guardGrowing("String.prototype.toUpperCase", 3)},
	{"String.prototype.toLocaleLowerCase", guardGrowing("String.prototype.toLocaleLowerCase", 3)},
	{"String.prototype.toLocaleUpperCase", guardGrowing("String.prototype.toLocaleUpperCase", 3)},
	{"String.prototype.toWellFormed", guardGrowing("String.prototype.toWellFormed", 1)},
	{"String.prototype.match", guardStringPattern("String.prototype.match")},
	{"String.prototype.matchAll", guardStringPattern("String.prototype.matchAll")},
	{"String.prototype.search", guardStringPattern("String.prototype.search")},
	{"String.raw", guardRaw},
	{"encodeURI", guardGrowingArg("encodeURI", 9)},
	{"encodeURIComponent", guardGrowingArg("encodeURIComponent", 9)},
	{"escape", guardGrowingArg("escape", 6)},

	{"Array.from", guardArrayFrom},
	{"Array.prototype.concat", guardArrayConcat},
	{"Array.prototype.join", guardJoin},
	{"Array.prototype.toLocaleString", guardToLocaleString},
	{"Array.prototype.flat", guardFlat},
	{"Array.prototype.flatMap", guardFlatMap},
	{"Array.prototype.sort", guardLength("Array.prototype.sort", maxSortLen, 16)},
	{"Array.prototype.toSorted", guardLength("Array.prototype.toSorted", maxSortLen, 32)},
	{"Array.prototype.fill", guardLength("Array.prototype.fill", maxArrayLen, 16)},
	{"Array.prototype.map", guardLength("Array.prototype.map", maxArrayWalk, 16)},
	{"Array.prototype.filter", guardLength("Array.prototype.filter", maxArrayWalk, 16)},
	{"Array.prototype.slice", guardLength("Array.prototype.slice", maxArrayLen, 16)},
	{"Array.prototype.splice", guardLength("Array.prototype.splice", maxArrayLen, 16)},
	{"Array.prototype.toReversed", guardLength("Array.prototype.toReversed", maxArrayLen, 16)},
	{"Array.prototype.toSpliced", guardLength("Array.prototype.toSpliced", maxArrayLen, 16)},
	{"Array.prototype.with", guardLength("Array.prototype.with", maxArrayLen, 16)},
	{"Array.prototype.copyWithin", guardLength("Array.prototype.copyWithin", maxArrayWalk, 0)},
	{"Array.prototype.every", guardLength("Array.prototype.every", maxArrayWalk, 0)},
	{"Array.prototype.some", guardLength("Array.prototype.some", maxArrayWalk, 0)},
	{"Array.prototype.forEach", guardLength("Array.prototype.forEach", maxArrayWalk, 0)},
	{"Array.prototype.find", guardLength("Array.prototype.find", maxArrayWalk, 0)},
	{"Array.prototype.findIndex", guardLength("Array.prototype.findIndex", maxArrayWalk, 0)},
	{"Array.prototype.findLast", guardLength("Array.prototype.findLast", maxArrayWalk, 0)},
	{"Array.prototype.findLastIndex", guardLength("Array.prototype.findLastIndex", maxArrayWalk, 0)},
	{"Array.prototype.includes", guardLength("Array.prototype.includes", maxArrayWalk, 0)},
	{"Array.prototype.indexOf", guardLength("Array.prototype.indexOf", maxArrayWalk, 0)},
	{"Array.prototype.lastIndexOf", guardLength("Array.prototype.lastIndexOf", maxArrayWalk, 0)},
	{"Array.prototype.reduce", guardLength("Array.prototype.reduce", maxArrayWalk, 0)},
	{"Array.prototype.reduceRight", guardLength("Array.prototype.reduceRight", maxArrayWalk, 0)},
	{"Array.prototype.reverse", guardLength("Array.prototype.reverse", maxArrayWalk, 0)},
	{"Array.prototype.shift", guardLength("Array.prototype.shift", maxArrayWalk, 0)},
	{"Array.prototype.unshift", guardLength("Array.prototype.unshift", maxArrayWalk, 0)},

	{"Object.keys", guardKeys("Object.keys", 64, 0, 1)},
	{"Object.values", guardKeys("Object.values", 32, 0, 1)},
	{"Object.entries", guardKeys("Object.entries", 256, 0, 1)},
	{"Object.getOwnPropertyNames", guardKeys("Object.getOwnPropertyNames", 64, 0, 1)},
	{"Object.getOwnPropertyDescriptors", guardKeys("Object.getOwnPropertyDescriptors", 512, 0, 1)},
	{"Object.assign", guardKeys("Object.assign", 128, 1, -1)},
	{"Object.freeze", guardKeys("Object.freeze", 128, 0, 1)},
	{"Object.seal", guardKeys("Object.seal", 128, 0, 1)},
	{"Reflect.ownKeys", guardKeys("Reflect.ownKeys", 64, 0, 1)},

	{"Function.prototype.apply", guardApply("Function.prototype.apply", 1)},
	{"Reflect.apply", guardApply("Reflect.apply", 2)},
	{"Reflect.construct", guardApply("Reflect.construct", 1)},
	{"eval", guardEval},

	{"JSON.stringify", guardStringify},
	{"JSON.parse", guardParse},

	{"RegExp.prototype.exec", guardRegexpExec},
	{"RegExp.prototype.test", guardRegexpTest},
	{"RegExp.prototype.compile", guardRegexpCompile},
	{"RegExp.prototype.@@split", guardRegexpSplit},
	{"RegExp.prototype.@@replace", guardRegexpReplace},
}

var wellKnownSymbols = map[string]*goja.Symbol{
	"@@split":    goja.SymSplit,
	"@@replace":  goja.SymReplace,
	"@@match":    goja.SymMatch,
	"@@matchAll": goja.SymMatchAll,
	"@@search":   goja.SymSearch,
}

// resolveGuards finds the original built-ins of guardTable (and the
// originals the guards call) before anything is replaced.
func (sb *sandbox) resolveGuards() error {
	global := sb.vm.GlobalObject()
	for _, e := range guardTable {
		var v goja.Value = global
		for _, seg := range strings.Split(e.path, ".") {
			o, ok := v.(*goja.Object)
			if !ok {
				break
			}
			if sym, ok := wellKnownSymbols[seg]; ok {
				v = o.GetSymbol(sym)
			} else {
				v = o.Get(seg)
			}
		}
		fn, ok := v.(*goja.Object)
		if _, callable := goja.AssertFunction(v); !ok || !callable {
			continue // not in this version of goja
		}
		sb.guards[fn] = e.g
	}
	rxProto := global.Get("RegExp").(*goja.Object).Get("prototype").(*goja.Object)
	getter := func(name string) (goja.Callable, error) {
		d, ok := sb.describe(rxProto, sb.vm.ToValue(name))
		if !ok || !d.accessor {
			return nil, fmt.Errorf("RegExp.prototype.%s is not an accessor", name)
		}
		return callable(d.get)
	}
	var err error
	if sb.rxSource, err = getter("source"); err != nil {
		return err
	}
	for _, name := range regexpFlagNames {
		if sb.rxFlags[name], err = getter(name); err != nil {
			return err
		}
	}
	sb.origExecObj, _ = rxProto.Get("exec").(*goja.Object)
	if sb.origExec, err = callable(sb.origExecObj); err != nil {
		return err
	}
	var ok bool
	if sb.regExpCtor, ok = goja.AssertConstructor(global.Get("RegExp")); !ok {
		return fmt.Errorf("RegExp is not a constructor")
	}
	return nil
}

// Conversions, as the ECMAScript abstract operations do them (they may run
// the script's valueOf and toString).

// str is ToString.
func (sb *sandbox) str(v goja.Value) goja.String {
	if o, ok := v.(*goja.Object); ok {
		v = o.ToString() // ToPrimitive with the hint string: a primitive
	}
	switch x := v.(type) {
	case goja.String:
		return x
	case *goja.Symbol:
		panic(sb.vm.NewTypeError("Cannot convert a Symbol value to a string"))
	}
	s, ok := sb.vm.ToValue(v.String()).(goja.String)
	if !ok {
		panic(sb.vm.NewTypeError("cannot convert to a string"))
	}
	return s
}

// thisString is RequireObjectCoercible(this) then ToString; ok is false for
// null and undefined (the caller lets the original throw).
func (sb *sandbox) thisString(c goja.FunctionCall) (goja.String, bool) {
	if isNothing(c.This) || goja.IsNull(c.This) {
		return nil, false
	}
	return sb.str(c.This), true
}

// toInteger is ToIntegerOrInfinity.
func toInteger(v goja.Value) float64 {
	if v == nil {
		return 0
	}
	f := v.ToNumber().ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	return math.Trunc(f)
}

// toLength is ToLength.
func toLength(v goja.Value) float64 {
	f := toInteger(v)
	if f <= 0 {
		return 0
	}
	return math.Min(f, 1<<53-1)
}

// lengthOf is LengthOfArrayLike(ToObject(v)).
func (sb *sandbox) lengthOf(v goja.Value) float64 {
	return toLength(v.ToObject(sb.vm).Get("length"))
}

// isASCII reports whether s is goja's one-byte-per-character string (for
// others it answers false, which only makes a guard more careful).
func isASCII(s goja.String) bool {
	return reflect.TypeOf(s).Kind() == reflect.String
}

func isArray(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == "Array"
}

// Strings.

// guardRepeat is String.prototype.repeat (goja's copies the string once per
// count, a step of millions of iterations for "x".repeat(1e6)).
func guardRepeat(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	s, ok := sb.thisString(c)
	if !ok {
		return sb.call(orig, c.This, c.Arguments...)
	}
	n := toInteger(c.Argument(0))
	if n < 0 || math.IsInf(n, 1) {
		return sb.call(orig, s, sb.vm.ToValue(n)) // throws a RangeError
	}
	if n == 0 || s.Length() == 0 {
		return sb.vm.ToValue("")
	}
	sb.checkString("String.prototype.repeat", float64(s.Length())*n)
	return sb.repeat(s, int(n))
}

// repeat returns s repeated count times, copying by doubling.
func (sb *sandbox) repeat(s goja.String, count int) goja.String {
	if isASCII(s) {
		return sb.vm.ToValue(strings.Repeat(s.String(), count)).(goja.String)
	}
	L := s.Length()
	units := make([]uint16, L*count)
	for i := 0; i < L; i++ {
		units[i] = s.CharAt(i)
	}
	for done := L; done < len(units); done *= 2 {
		copy(units[done:], units[:done])
	}
	return goja.StringFromUTF16(units)
}

// guardPad is String.prototype.padStart and padEnd (goja's append the
// filler once per copy).
func guardPad(name string) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		s, ok := sb.thisString(c)
		if !ok {
			return sb.call(orig, c.This, c.Arguments...)
		}
		n := toLength(c.Argument(0))
		fill := sb.str(sb.vm.ToValue(" "))
		if f := c.Argument(1); !isNothing(f) {
			fill = sb.str(f)
		}
		L := s.Length()
		if n <= float64(L) || fill.Length() == 0 {
			return s
		}
		sb.checkString(name, n)
		gap := int(n) - L
		pad := sb.repeat(fill, (gap+fill.Length()-1)/fill.Length()).Substring(0, gap)
		if name == "String.prototype.padStart" {
			return pad.Concat(s)
		}
		return s.Concat(pad)
	}
}

func guardStringConcat(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	s, ok := sb.thisString(c)
	if !ok {
		return sb.call(orig, c.This, c.Arguments...)
	}
	total := float64(s.Length())
	args := make([]goja.Value, len(c.Arguments))
	for i, a := range c.Arguments {
		as := sb.str(a)
		args[i] = as
		total += float64(as.Length())
	}
	sb.checkString("String.prototype.concat", total)
	return sb.call(orig, s, args...)
}

// guardGrowing guards a method whose result is at most factor times as
// long as its string (case mappings, normalization).
func guardGrowing(name string, factor float64) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		s, ok := sb.thisString(c)
		if !ok {
			return sb.call(orig, c.This, c.Arguments...)
		}
		if !isASCII(s) && float64(s.Length())*factor > maxStringLen {
			sb.tooLong(name, float64(s.Length())*factor)
		}
		res := sb.call(orig, s, c.Arguments...)
		if rs, ok := res.(goja.String); ok {
			sb.charge(int64(rs.Length())*2, name)
		}
		return res
	}
}

// guardGrowingArg guards a function of one string whose result is at most
// factor times as long.
func guardGrowingArg(name string, factor float64) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		s := sb.str(c.Argument(0))
		if float64(s.Length())*factor > maxStringLen {
			sb.tooLong(name, float64(s.Length())*factor)
		}
		res := sb.call(orig, c.This, s)
		if rs, ok := res.(goja.String); ok {
			sb.charge(int64(rs.Length())*2, name)
		}
		return res
	}
}

// guardStringPattern guards match, matchAll and search, which turn a
// string argument into a regular expression.
func guardStringPattern(name string) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		p := c.Argument(0)
		if _, obj := p.(*goja.Object); obj || isNothing(p) || goja.IsNull(p) {
			return sb.call(orig, c.This, c.Arguments...)
		}
		ps := sb.str(p)
		if ps.Length() > maxPatternLen {
			sb.fail(stopMemory, "%s would compile a regular expression of %d characters (at most %d)", name, ps.Length(), maxPatternLen)
		}
		return sb.call(orig, c.This, ps)
	}
}

func guardStringSplit(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	sep := c.Argument(0)
	if o, ok := sep.(*goja.Object); ok {
		if m := o.GetSymbol(goja.SymSplit); !isNothing(m) && !goja.IsNull(m) {
			return sb.call(orig, c.This, c.Arguments...) // a RegExp: its @@split is guarded
		}
	}
	s, ok := sb.thisString(c)
	if !ok {
		return sb.call(orig, c.This, c.Arguments...)
	}
	limit := float64(math.MaxUint32)
	var limitArg goja.Value = goja.Undefined()
	if l := c.Argument(1); !isNothing(l) {
		limit = float64(uint32(int64(toInteger(l))))
		limitArg = sb.vm.ToValue(limit)
	}
	if isNothing(sep) {
		return sb.call(orig, s, sep, limitArg)
	}
	ss := sb.str(sep)
	n := float64(s.Length())
	var parts float64
	switch {
	case ss.Length() == 0:
		parts = n
	case n/float64(ss.Length())+1 <= maxArrayLen:
		parts = n/float64(ss.Length()) + 1
	default:
		parts = float64(strings.Count(s.String(), ss.String()) + 1)
	}
	parts = math.Min(parts, limit)
	if parts > maxArrayLen {
		sb.tooMany("String.prototype.split", parts, maxArrayLen)
	}
	sb.charge(int64(parts)*48, "String.prototype.split")
	if !isASCII(s) {
		sb.charge(int64(n)*2, "String.prototype.split")
	}
	return sb.call(orig, s, ss, limitArg)
}

// guardStringReplace guards replace and replaceAll with a string pattern
// (a RegExp pattern goes to RegExp.prototype[Symbol.replace], guarded too).
func guardStringReplace(name string) guardFunc {
	return func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
		search, repl := c.Argument(0), c.Argument(1)
		if o, ok := search.(*goja.Object); ok {
			if m := o.GetSymbol(goja.SymReplace); !isNothing(m) && !goja.IsNull(m) {
				return sb.call(orig, c.This, c.Arguments...)
			}
		}
		s, ok := sb.thisString(c)
		if !ok {
			return sb.call(orig, c.This, c.Arguments...)
		}
		ss := sb.str(search)
		res := sb.call(orig, s, ss, sb.replacement(name, s, repl))
		if rs, ok := res.(goja.String); ok {
			sb.charge(int64(rs.Length())*2, name)
		}
		return res
	}
}

// replacement returns what a replace guard passes on as the replacement:
// a template that cannot make the result too long as it is, otherwise a
// function that builds each replacement (GetSubstitution, or the script's
// function) and stops the call when their total would be too long.
func (sb *sandbox) replacement(what string, s goja.String, repl goja.Value) goja.Value {
	total := float64(s.Length()) // an upper bound of the result's length
	account := func(r goja.String) goja.String {
		total += float64(r.Length())
		if total > maxStringLen {
			sb.tooLong(what, total)
		}
		sb.charge(int64(r.Length())*2, what)
		return r
	}
	if fn, ok := goja.AssertFunction(repl); ok {
		return sb.vm.ToValue(func(c goja.FunctionCall) goja.Value {
			sb.check()
			return account(sb.str(sb.call(fn, goja.Undefined(), c.Arguments...)))
		})
	}
	tmpl := sb.str(repl)
	// Each match (at most len(s)+1 of them) is replaced by the template,
	// in which each $ may stand for at most the whole string.
	n, t := float64(s.Length()), float64(tmpl.Length())
	dollars := float64(strings.Count(tmpl.String(), "$"))
	if n+(n+1)*(t+dollars*n) <= maxStringLen {
		return tmpl
	}
	return sb.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		sb.check()
		return account(sb.substitute(tmpl, c.Arguments, total, what))
	})
}

// substitute is GetSubstitution, for the arguments a replace function gets:
// (matched, captures..., position, string[, groups]). It measures the
// replacement, and stops the call if the result (already that long) would
// be too long, before building it.
func (sb *sandbox) substitute(tmpl goja.String, args []goja.Value, already float64, what string) goja.String {
	n := len(args)
	var groups *goja.Object
	if n > 0 {
		if g, ok := args[n-1].(*goja.Object); ok {
			groups, n = g, n-1
		}
	}
	if n < 3 {
		return tmpl
	}
	matched, str := sb.str(args[0]), sb.str(args[n-1])
	pos := int(math.Max(0, math.Min(toInteger(args[n-2]), float64(str.Length()))))
	caps := args[1 : n-2]
	tail := min(pos+matched.Length(), str.Length())
	type piece struct {
		s    goja.String
		a, b int
	}
	var pieces []piece
	total := 0
	add := func(s goja.String, a, b int) {
		if b > a {
			pieces = append(pieces, piece{s, a, b})
			total += b - a
		}
	}
	whole := func(v goja.Value) {
		if !isNothing(v) {
			s := sb.str(v)
			add(s, 0, s.Length())
		}
	}
	isDigit := func(u uint16) bool { return u >= '0' && u <= '9' }
	L := tmpl.Length()
	lit := 0
	for i := 0; i+1 < L; i++ {
		if tmpl.CharAt(i) != '$' {
			continue
		}
		next := tmpl.CharAt(i + 1)
		switch {
		case next == '$':
			add(tmpl, lit, i+1)
			i++
		case next == '&':
			add(tmpl, lit, i)
			add(matched, 0, matched.Length())
			i++
		case next == '`':
			add(tmpl, lit, i)
			add(str, 0, pos)
			i++
		case next == '\'':
			add(tmpl, lit, i)
			add(str, tail, str.Length())
			i++
		case isDigit(next):
			d := int(next - '0')
			if i+2 < L && isDigit(tmpl.CharAt(i+2)) {
				if nn := d*10 + int(tmpl.CharAt(i+2)-'0'); nn >= 1 && nn <= len(caps) {
					add(tmpl, lit, i)
					whole(caps[nn-1])
					i += 2
					lit = i + 1
					continue
				}
			}
			if d < 1 || d > len(caps) {
				continue
			}
			add(tmpl, lit, i)
			whole(caps[d-1])
			i++
		case next == '<':
			if groups == nil {
				continue
			}
			end := -1
			for j := i + 2; j < L; j++ {
				if tmpl.CharAt(j) == '>' {
					end = j
					break
				}
			}
			if end < 0 {
				continue
			}
			add(tmpl, lit, i)
			whole(groups.Get(tmpl.Substring(i+2, end).String()))
			i = end
		default:
			continue
		}
		lit = i + 1
	}
	add(tmpl, lit, L)
	if already+float64(total) > maxStringLen {
		sb.tooLong(what, already+float64(total))
	}
	var b goja.StringBuilder
	b.Grow(total)
	for _, p := range pieces {
		b.WriteSubstring(p.s, p.a, p.b)
	}
	return b.String()
}

func guardRaw(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	cooked := c.Argument(0).ToObject(sb.vm)
	raw := cooked.Get("raw")
	if raw == nil {
		raw = goja.Undefined()
	}
	rawObj := raw.ToObject(sb.vm)
	n := toLength(rawObj.Get("length"))
	if n > maxArrayLen {
		sb.tooMany("String.raw", n, maxArrayLen)
	}
	var b goja.StringBuilder
	total := 0.0
	add := func(s goja.String) {
		total += float64(s.Length())
		if total > maxStringLen {
			sb.tooLong("String.raw", total)
		}
		b.WriteString(s)
	}
	for i := 0; i < int(n); i++ {
		seg := rawObj.Get(strconv.Itoa(i))
		if seg == nil {
			seg = goja.Undefined()
		}
		add(sb.str(seg))
		if i+1 < int(n) && i+1 < len(c.Arguments) {
			add(sb.str(c.Arguments[i+1]))
		}
	}
	sb.charge(int64(total)*2, "String.raw")
	return b.String()
}

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
	if _, bad, found := forbiddenSyntax(tree); found {
		obj, cerr := sb.syntaxError(nil, sb.vm.ToValue(bad+" is not supported in scripts"))
		if cerr != nil {
			panic(cerr)
		}
		panic(obj)
	}
}
