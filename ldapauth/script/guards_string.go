package script

import (
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// The guards of String built-ins (see guards.go).

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
