package script

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// Regular expressions: goja matches with Go's regexp when it can, and with
// regexp2 (a backtracking matcher) when the pattern needs it
// (backreferences, lookaround) or the match starts after index 0 (a global
// or sticky expression's later matches). Neither can be interrupted, and
// regexp2 can take exponential time. Scripts' RegExp.prototype.exec and
// test (which every other regular expression method of the prototype
// calls, since they are no longer goja's own) and [Symbol.split] match
// here, on strings of at most maxRegexpInput characters:
//
//   - a pattern Go's regexp can run is run by goja's own exec (Go's
//     regexp, linear time) on a copy of the expression that is neither
//     global nor sticky: from index 0, or on the rest of the string when
//     the pattern has no ^, \b or \B (which would see where the rest
//     starts); the length of the string times the pattern's is bounded;
//   - any other match runs with regexp2 here, with a MatchTimeout set to
//     what is left of the call's time limit.

func init() {
	// The resolution of regexp2's timeouts (a process-wide setting that
	// only matters to matches with a timeout, which goja's own never have).
	regexp2.SetTimeoutCheckPeriod(regexpClockPeriod)
}

var regexpFlagNames = []string{"global", "ignoreCase", "multiline", "dotAll", "unicode", "sticky"}

// compiledRegexp is a pattern as this runtime matches it.
type compiledRegexp struct {
	src                     string
	flags                   [6]bool
	global, sticky, unicode bool

	re2      bool         // Go's regexp can run it (goja's choice at index 0)
	suffixOK bool         // and on the rest of a string (no ^, \b, \B)
	clone    *goja.Object // a copy neither global nor sticky, for goja's exec

	re       *regexp2.Regexp // made when first needed; its MatchTimeout is set before each match
	reFailed bool
}

// compiled returns rx's pattern, from rx's internal source and flags (read
// with the original getters).
func (sb *sandbox) compiled(rx *goja.Object) *compiledRegexp {
	src := sb.call(sb.rxSource, rx).String()
	var flags [6]bool
	key := make([]byte, 0, len(src)+7)
	for i, name := range regexpFlagNames {
		flags[i] = sb.call(sb.rxFlags[name], rx).ToBoolean()
		if flags[i] {
			key = append(key, name[0])
		}
	}
	key = append(key, '/')
	key = append(key, src...)
	if cr, ok := sb.rx[string(key)]; ok {
		return cr
	}
	cr := &compiledRegexp{src: src, flags: flags, global: flags[0], unicode: flags[4], sticky: flags[5]}
	if _, err := parser.TransformRegExp(src, flags[3], flags[4]); err == nil {
		cr.re2 = true
		cr.suffixOK = !strings.Contains(src, "^") && !strings.Contains(src, `\b`) && !strings.Contains(src, `\B`)
	}
	if len(sb.rx) >= 256 {
		clear(sb.rx)
	}
	sb.rx[string(key)] = cr
	return cr
}

// cloneOf returns the copy of cr that goja's exec runs, made with the
// original RegExp constructor.
func (sb *sandbox) cloneOf(cr *compiledRegexp) *goja.Object {
	if cr.clone == nil {
		flags := ""
		for i, f := range []string{"", "i", "m", "s", "u", ""} {
			if cr.flags[i] {
				flags += f
			}
		}
		o, err := sb.regExpCtor(nil, sb.vm.ToValue(cr.src), sb.vm.ToValue(flags))
		if err != nil {
			panic(err)
		}
		cr.clone = o
	}
	return cr.clone
}

// regexp2Of returns cr compiled by regexp2.
func (sb *sandbox) regexp2Of(what string, cr *compiledRegexp) *regexp2.Regexp {
	if cr.re == nil && !cr.reFailed {
		if len(cr.src) > maxPatternLen*4 {
			sb.fail(stopMemory, "%s: a regular expression of %d characters (at most %d)", what, len(cr.src), maxPatternLen*4)
		}
		opts := regexp2.ECMAScript
		if cr.flags[1] {
			opts |= regexp2.IgnoreCase
		}
		if cr.flags[2] {
			opts |= regexp2.Multiline
		}
		if cr.flags[3] {
			opts |= regexp2.Singleline
		}
		if cr.flags[4] {
			opts |= regexp2.Unicode
		}
		re, err := regexp2.Compile(cr.src, opts)
		cr.re, cr.reFailed = re, err != nil
	}
	if cr.re == nil {
		panic(sb.vm.NewTypeError("%s: regexp2 cannot compile this regular expression", what))
	}
	return cr.re
}

// runeCache keeps the last string converted for matching: a global
// replace or match calls exec once per match on the same string.
type runeCache struct {
	s       goja.String // kept, so that its identity cannot be reused
	id      uintptr
	n       int
	unicode bool
	runes   []rune
	pos     []int // unicode: the UTF-16 index of each code point, and the length
}

// identity returns the address of s's characters (goja strings are
// immutable), or 0 when it cannot tell.
func identity(s goja.String) uintptr {
	rv := reflect.ValueOf(s)
	switch rv.Kind() {
	case reflect.String:
		str := rv.String()
		if len(str) == 0 {
			return 0
		}
		return uintptr(unsafe.Pointer(unsafe.StringData(str)))
	case reflect.Slice, reflect.Pointer:
		return rv.Pointer()
	}
	return 0
}

// runesOf returns s as regexp2 matches it: UTF-16 code units, or code
// points (with their UTF-16 positions) in unicode mode.
func (sb *sandbox) runesOf(s goja.String, unicode bool) ([]rune, []int) {
	c := &sb.runes
	id, n := identity(s), s.Length()
	if id != 0 && c.id == id && c.n == n && c.unicode == unicode {
		return c.runes, c.pos
	}
	runes := make([]rune, 0, n)
	var pos []int
	if isASCII(s) {
		str := s.String()
		for i := 0; i < len(str); i++ {
			runes = append(runes, rune(str[i]))
		}
		if unicode {
			pos = make([]int, n+1)
			for i := range pos {
				pos[i] = i
			}
		}
	} else if !unicode {
		for i := 0; i < n; i++ {
			runes = append(runes, rune(s.CharAt(i)))
		}
	} else {
		pos = make([]int, 0, n+1)
		for i := 0; i < n; i++ {
			u := s.CharAt(i)
			pos = append(pos, i)
			if u >= 0xD800 && u <= 0xDBFF && i+1 < n {
				if t := s.CharAt(i + 1); t >= 0xDC00 && t <= 0xDFFF {
					runes = append(runes, (rune(u)-0xD800)<<10+(rune(t)-0xDC00)+0x10000)
					i++
					continue
				}
			}
			runes = append(runes, rune(u))
		}
		pos = append(pos, n)
	}
	sb.charge(int64(len(runes))*4+int64(len(pos))*8, "matching a regular expression")
	*c = runeCache{s: s, id: id, n: n, unicode: unicode, runes: runes, pos: pos}
	return runes, pos
}

// hit is a match: its start and end (UTF-16 indexes), and either goja's
// result array (Go's regexp) or regexp2's match.
type hit struct {
	ms, me int
	arr    *goja.Object
	m      *regexp2.Match
	pos    []int // regexp2 in unicode mode: the UTF-16 index of each code point
}

// findAt finds the first match of cr in s at or after the UTF-16 index from.
func (sb *sandbox) findAt(what string, cr *compiledRegexp, s goja.String, from int) (hit, bool) {
	n := s.Length()
	if n > maxRegexpInput {
		sb.fail(stopMemory, "%s on a string of %d characters (at most %d)", what, n, maxRegexpInput)
	}
	if cr.re2 && (from == 0 || cr.suffixOK) {
		if (n-from)*len(cr.src) > maxRegexpWork {
			sb.fail(stopMemory, "%s: a regular expression of %d characters on a string of %d characters (at most %d in all)", what, len(cr.src), n-from, maxRegexpWork)
		}
		sub := s
		if from > 0 {
			sub = s.Substring(from, n)
		}
		res, ok := sb.call(sb.origExec, sb.cloneOf(cr), sub).(*goja.Object)
		if !ok {
			return hit{}, false
		}
		ms := int(res.Get("index").ToInteger()) + from
		return hit{ms: ms, me: ms + sb.str(res.Get("0")).Length(), arr: res}, true
	}
	re := sb.regexp2Of(what, cr)
	runes, pos := sb.runesOf(s, cr.unicode)
	start := from
	if pos != nil {
		start = toCodePoint(pos, from)
	}
	left := time.Second
	if c := sb.cur; c != nil {
		left = time.Until(c.deadline)
	}
	if left <= 0 {
		sb.fail(stopTimeout, "in a regular expression")
	}
	// regexp2 adds a period of its clock to the timeout.
	re.MatchTimeout = max(left-regexpClockPeriod, time.Millisecond)
	sb.inRegexp.Store(true)
	m, err := re.FindRunesMatchStartingAt(runes, start)
	sb.inRegexp.Store(false)
	if err != nil {
		sb.fail(stopTimeout, "in a regular expression")
	}
	if m == nil {
		return hit{}, false
	}
	ms, me := m.RuneIndex, m.RuneIndex+m.RuneLength
	if pos != nil {
		ms, me = pos[ms], pos[me]
	}
	return hit{ms: ms, me: me, m: m, pos: pos}, true
}

// captures returns a hit's capture groups (undefined for those that did
// not take part) and its named groups (or undefined).
func (sb *sandbox) captures(h hit, s goja.String) ([]goja.Value, goja.Value) {
	if h.arr != nil {
		n := int(toLength(h.arr.Get("length")))
		caps := make([]goja.Value, 0, max(n-1, 0))
		for i := 1; i < n; i++ {
			v := h.arr.Get(strconv.Itoa(i))
			if v == nil {
				v = goja.Undefined()
			}
			caps = append(caps, v)
		}
		groups := h.arr.Get("groups")
		if groups == nil {
			groups = goja.Undefined()
		}
		return caps, groups
	}
	gs := h.m.Groups()
	caps := make([]goja.Value, 0, len(gs)-1)
	var named *goja.Object
	for i := 1; i < len(gs); i++ {
		g := gs[i]
		var v goja.Value = goja.Undefined()
		if len(g.Captures) > 0 {
			a, b := g.RuneIndex, g.RuneIndex+g.RuneLength
			if h.pos != nil {
				a, b = h.pos[a], h.pos[b]
			}
			v = s.Substring(a, b)
		}
		caps = append(caps, v)
		if g.Name != "" {
			if named == nil {
				named = sb.vm.CreateObject(nil)
			}
			if err := named.Set(g.Name, v); err != nil {
				panic(err)
			}
		}
	}
	if named == nil {
		return caps, goja.Undefined()
	}
	return caps, named
}

// toCodePoint maps a UTF-16 index to the index of the code point holding it.
func toCodePoint(pos []int, i int) int {
	lo, hi := 0, len(pos)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if pos[mid] <= i {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// execRegexp is RegExpBuiltinExec; with build false it only reports whether
// there was a match (RegExp.prototype.test).
func (sb *sandbox) execRegexp(what string, rx *goja.Object, s goja.String, build bool) goja.Value {
	cr := sb.compiled(rx)
	lastIndex := toLength(rx.Get("lastIndex"))
	if !cr.global && !cr.sticky {
		lastIndex = 0
	}
	setLast := func(v int) {
		if err := rx.Set("lastIndex", v); err != nil {
			panic(err)
		}
	}
	fail := func() goja.Value {
		if cr.global || cr.sticky {
			setLast(0)
		}
		if build {
			return goja.Null()
		}
		return sb.vm.ToValue(false)
	}
	if lastIndex > float64(s.Length()) {
		return fail()
	}
	h, ok := sb.findAt(what, cr, s, int(lastIndex))
	if !ok || (cr.sticky && h.ms != int(lastIndex)) {
		return fail()
	}
	if cr.global || cr.sticky {
		setLast(h.me)
	}
	if !build {
		return sb.vm.ToValue(true)
	}
	var a *goja.Object
	if h.arr != nil {
		a = h.arr
	} else {
		caps, groups := sb.captures(h, s)
		vals := make([]any, 1, 1+len(caps))
		vals[0] = s.Substring(h.ms, h.me)
		for _, c := range caps {
			vals = append(vals, c)
		}
		a = sb.vm.NewArray(vals...)
		if err := a.Set("groups", groups); err != nil {
			panic(err)
		}
	}
	if err := a.Set("index", h.ms); err != nil {
		panic(err)
	}
	if err := a.Set("input", s); err != nil {
		panic(err)
	}
	return a
}

// regexpThis returns the RegExp object a method was called on, or nil.
func regexpThis(c goja.FunctionCall) *goja.Object {
	if o, ok := c.This.(*goja.Object); ok && o.ClassName() == "RegExp" {
		return o
	}
	return nil
}

func guardRegexpExec(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	rx := regexpThis(c)
	if rx == nil {
		return sb.call(orig, c.This, c.Arguments...) // throws
	}
	return sb.execRegexp("RegExp.prototype.exec", rx, sb.str(c.Argument(0)), true)
}

func guardRegexpTest(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	rx := regexpThis(c)
	if rx == nil {
		return sb.call(orig, c.This, c.Arguments...)
	}
	s := sb.str(c.Argument(0))
	// A script may give a regular expression its own exec (RegExpExec).
	if exec := rx.Get("exec"); exec != sb.execWrapper {
		if fn, ok := goja.AssertFunction(exec); ok {
			res := sb.call(fn, rx, s)
			return sb.vm.ToValue(!goja.IsNull(res) && !isNothing(res))
		}
	}
	return sb.execRegexp("RegExp.prototype.test", rx, s, false)
}

func guardRegexpCompile(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	return sb.call(orig, c.This, preRegExp(sb, c.Arguments)...)
}

// preRegExp checks the pattern of RegExp(pattern, flags) and of
// RegExp.prototype.compile.
func preRegExp(sb *sandbox, args []goja.Value) []goja.Value {
	if len(args) == 0 || isNothing(args[0]) {
		return args
	}
	if o, ok := args[0].(*goja.Object); ok && o.ClassName() == "RegExp" {
		return args
	}
	p := sb.str(args[0])
	if p.Length() > maxPatternLen {
		sb.fail(stopMemory, "RegExp would compile a regular expression of %d characters (at most %d)", p.Length(), maxPatternLen)
	}
	out := append([]goja.Value{p}, args[1:]...)
	return out
}

// guardRegexpSplit is RegExp.prototype[Symbol.split] (a RegExp's species
// constructor and its own exec are not consulted): each match is searched
// from where the previous one ended, rather than tried at every index with
// a sticky copy of the pattern as the specification does.
func guardRegexpSplit(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "String.prototype.split"
	rx := regexpThis(c)
	if rx == nil {
		return sb.call(orig, c.This, c.Arguments...)
	}
	s := sb.str(c.Argument(0))
	limit := uint32(math.MaxUint32)
	if l := c.Argument(1); !isNothing(l) {
		limit = uint32(int64(toInteger(l)))
	}
	cr := sb.compiled(rx)
	if limit == 0 {
		return sb.vm.NewArray()
	}
	size := s.Length()
	if size == 0 {
		if h, ok := sb.findAt(what, cr, s, 0); ok && h.ms == 0 {
			return sb.vm.NewArray()
		}
		return sb.vm.NewArray(s)
	}
	var out []any
	push := func(v goja.Value) bool {
		out = append(out, v)
		if len(out) > maxArrayLen {
			sb.tooMany(what, float64(len(out)), maxArrayLen)
		}
		return uint32(len(out)) == limit
	}
	advance := func(q int) int {
		if cr.unicode && q+1 < size {
			if u := s.CharAt(q); u >= 0xD800 && u <= 0xDBFF {
				if t := s.CharAt(q + 1); t >= 0xDC00 && t <= 0xDFFF {
					return q + 2
				}
			}
		}
		return q + 1
	}
	p, q := 0, 0
	for q < size {
		h, ok := sb.findAt(what, cr, s, q)
		if !ok || h.ms >= size {
			break
		}
		q = h.ms
		e := min(h.me, size)
		if e == p {
			q = advance(q)
			continue
		}
		if push(s.Substring(p, q)) {
			return sb.vm.NewArray(out...)
		}
		p = e
		caps, _ := sb.captures(h, s)
		for _, v := range caps {
			if push(v) {
				return sb.vm.NewArray(out...)
			}
		}
		q = p
		sb.check()
	}
	push(s.Substring(p, size))
	sb.charge(int64(len(out))*48, what)
	if !isASCII(s) {
		sb.charge(int64(size)*2, what)
	}
	return sb.vm.NewArray(out...)
}

// guardRegexpReplace is RegExp.prototype[Symbol.replace] with a
// replacement that cannot make the result too long (see replacement).
func guardRegexpReplace(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value {
	const what = "String.prototype.replace"
	s := sb.str(c.Argument(0))
	res := sb.call(orig, c.This, s, sb.replacement(what, s, c.Argument(1)))
	if rs, ok := res.(goja.String); ok {
		sb.charge(int64(rs.Length())*2, what)
	}
	return res
}
