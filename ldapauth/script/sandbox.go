package script

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// This file builds the runtime a Program runs in: a plain goja runtime whose
// built-in functions are all replaced by wrappers that stop a call that was
// stopped, and some of them by guarded versions that refuse what would make
// one step too long or too large (guards.go, regexp.go). doc.go,
// "Containment", says why.

// stopReason says why a call was stopped.
type stopReason int

const (
	stopTimeout stopReason = iota + 1 // the time limit passed
	stopMemory                        // a memory or size limit
	stopDepth                         // a nesting limit (JSON, flat)
)

// stopMark records why a call was stopped; the first reason wins. It is
// also the value the runtime is interrupted with.
type stopMark struct {
	reason stopReason
	detail string
}

// callState is the running call, as its runtime's wrappers and its Runner's
// timer see it.
type callState struct {
	deadline time.Time
	stop     atomic.Pointer[stopMark] // set once, by whoever stops the call first
	charged  int64                    // bytes charged by guarded built-ins (the script's goroutine only)

	// The watchdog's baseline (under Runner.mu).
	base     uint64
	haveBase bool
}

// haltError is what a wrapper panics with to end a stopped call. It wraps a
// goja.InterruptedError, which makes goja treat it as uncatchable: no catch
// or finally block of the script runs, and it comes out of the call as the
// call's error.
type haltError struct {
	mark  *stopMark
	inner *goja.InterruptedError
}

func (e *haltError) Error() string { return "script stopped: " + e.mark.detail }
func (e *haltError) Unwrap() error { return e.inner }

// guardFunc is a guarded built-in: it checks (and charges) what the call
// would cost, then calls the original orig or does the work itself.
type guardFunc func(sb *sandbox, orig goja.Callable, c goja.FunctionCall) goja.Value

// ctorPre checks (and may convert) the arguments of a wrapped constructor.
type ctorPre func(sb *sandbox, args []goja.Value) []goja.Value

// sandbox is the goja runtime of one Program in one Runner.
type sandbox struct {
	vm  *goja.Runtime
	cur *callState // the running call; nil between calls

	// inRegexp is set while a regular expression is being matched, so that
	// a time limit that passes meanwhile says so.
	inRegexp atomic.Bool

	wrapped map[*goja.Object]*goja.Object // original built-in → its wrapper
	guards  map[*goja.Object]guardFunc    // original built-in → its guard
	ctors   map[*goja.Object]*goja.Object // original constructor → its wrapper
	seen    map[*goja.Object]bool         // objects already walked
	skip    map[*goja.Object]bool         // built-ins left alone (they only throw)
	mine    map[*goja.Object]bool         // the wrappers
	failed  []string                      // properties that could not be replaced (tests look at them)

	getDesc goja.Callable // the original Object.getOwnPropertyDescriptor
	getSyms goja.Callable // the original Object.getOwnPropertySymbols

	// Originals the guards use.
	syntaxError goja.Constructor
	rxSource    goja.Callable            // RegExp.prototype.source's getter
	rxFlags     map[string]goja.Callable // RegExp.prototype's flag getters, by property name
	regExpCtor  goja.Constructor         // RegExp
	origExec    goja.Callable            // RegExp.prototype.exec
	origExecObj *goja.Object             // the same
	execWrapper *goja.Object             // and its wrapper

	rx      map[string]*compiledRegexp // compiled patterns, by flags and source
	runes   runeCache
	joining []*goja.Object // arrays being joined (a cyclic join gives "")
}

// keepInstallMaps keeps a sandbox's bookkeeping after install, for tests.
var keepInstallMaps = false

// removedGlobals are taken out of every runtime: BigInt (whose operators,
// 2n ** 10n ** 9n, run in one step for as long and as large as they like),
// the typed arrays and buffers (one allocation of any size), and goja's own
// GoError.
var removedGlobals = []string{
	"BigInt", "ArrayBuffer", "DataView", "Uint8Array", "Uint8ClampedArray", "Int8Array",
	"Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array",
	"BigInt64Array", "BigUint64Array", "GoError",
}

// walkedGlobals are the global names the walk starts from (goja builds its
// global object lazily, so its own list of names may be incomplete).
var walkedGlobals = []string{
	"Object", "Function", "Array", "String", "Number", "RegExp", "Date", "Boolean", "Proxy",
	"Reflect", "Error", "AggregateError", "TypeError", "ReferenceError", "SyntaxError",
	"RangeError", "EvalError", "URIError", "eval", "Math", "JSON", "Symbol", "WeakSet",
	"WeakMap", "Map", "Set", "Promise", "isNaN", "parseInt", "parseFloat", "isFinite",
	"decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
}

// seedSource reaches the built-in objects no global name leads to.
const seedSource = `(function() {
	"use strict";
	return [
		Object.getPrototypeOf([][Symbol.iterator]()),
		Object.getPrototypeOf(""[Symbol.iterator]()),
		Object.getPrototypeOf(new Map()[Symbol.iterator]()),
		Object.getPrototypeOf(new Set()[Symbol.iterator]()),
		Object.getPrototypeOf(/x/[Symbol.matchAll]("")),
		Object.getPrototypeOf(function*() {}),
		Object.getPrototypeOf(async function() {}),
		Object.getOwnPropertyDescriptor(arguments, "callee").get,
	];
})()`

// newSandbox makes the runtime for one Program.
func newSandbox(maxDepth int) (*sandbox, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxDepth)
	// eval and new Function must not read source maps from disk either.
	vm.SetParserOptions(parser.WithDisableSourceMaps)
	sb := &sandbox{
		vm:      vm,
		wrapped: make(map[*goja.Object]*goja.Object, 512),
		guards:  make(map[*goja.Object]guardFunc, 64),
		ctors:   make(map[*goja.Object]*goja.Object, 16),
		seen:    make(map[*goja.Object]bool, 256),
		skip:    make(map[*goja.Object]bool),
		mine:    make(map[*goja.Object]bool, 512),
		rxFlags: make(map[string]goja.Callable, 6),
		rx:      make(map[string]*compiledRegexp),
	}
	if err := sb.install(); err != nil {
		return nil, fmt.Errorf("preparing the script runtime: %w", err)
	}
	return sb, nil
}

// install replaces every built-in function of the fresh runtime.
func (sb *sandbox) install() error {
	vm := sb.vm
	global := vm.GlobalObject()
	seedsVal, err := vm.RunString(seedSource)
	if err != nil {
		return err
	}
	seeds := seedsVal.(*goja.Object)
	seed := func(i int) *goja.Object { return seeds.Get(strconv.Itoa(i)).(*goja.Object) }

	object := global.Get("Object").(*goja.Object)
	if sb.getDesc, err = callable(object.Get("getOwnPropertyDescriptor")); err != nil {
		return err
	}
	if sb.getSyms, err = callable(object.Get("getOwnPropertySymbols")); err != nil {
		return err
	}
	syntaxError, ok := goja.AssertConstructor(global.Get("SyntaxError"))
	if !ok {
		return errors.New("SyntaxError is not a constructor")
	}
	sb.syntaxError = syntaxError
	sb.skip[seed(7)] = true // %ThrowTypeError%: it only throws

	for _, name := range removedGlobals {
		if err := global.Delete(name); err != nil {
			return fmt.Errorf("removing %s: %w", name, err)
		}
	}
	if err := sb.resolveGuards(); err != nil {
		return err
	}

	// The constructors that return an object when merely called are
	// replaced by wrapping constructors; the others (Map, Set, Date,
	// Promise, ...) throw or return a primitive when called, and their
	// [[Construct]] only calls functions that are wrapped.
	for _, c := range wrappedConstructors {
		orig, ok := global.Get(c.name).(*goja.Object)
		if !ok {
			return fmt.Errorf("no constructor %s", c.name)
		}
		sb.wrapConstructor(orig, c.pre)
	}
	for i, kind := range map[int]string{5: "function*", 6: "async function"} { // GeneratorFunction, AsyncFunction
		if orig, ok := seed(i).Get("constructor").(*goja.Object); ok {
			sb.wrapConstructor(orig, preFunction(kind))
		}
	}

	// Walk everything reachable from the globals and the seeds.
	sb.seen[global] = true
	names := map[string]bool{}
	for _, name := range append(walkedGlobals, global.GetOwnPropertyNames()...) {
		if !names[name] {
			names[name] = true
			sb.replaceProperty(global, global, name)
		}
	}
	for i := 0; i < 7; i++ {
		sb.visit(seed(i))
	}
	for orig, w := range sb.ctors {
		sb.visit(orig)
		proto, _ := orig.Get("prototype").(*goja.Object)
		if err := w.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return fmt.Errorf("constructor %s: %w", orig.Get("name"), err)
		}
		parent := orig.Prototype()
		if pw, ok := sb.ctors[parent]; ok {
			parent = pw
		}
		if err := w.SetPrototype(parent); err != nil {
			return err
		}
	}

	// arguments[Symbol.iterator] is goja's own Array.prototype.values, which
	// no walk can replace: used as an iterator's next, it would make array
	// iterators for ever. Reading "done" from one stops a stopped call.
	arrayIterProto := seed(0)
	done := sb.native("get done", 0, func(goja.FunctionCall) goja.Value {
		sb.check()
		return goja.Undefined()
	})
	if err := arrayIterProto.DefineAccessorProperty("done", done, nil, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return err
	}
	if err := sb.installConcatGuard(); err != nil {
		return err
	}
	sb.execWrapper = sb.wrapped[sb.origExecObj]
	if !keepInstallMaps { // only needed while installing (and by tests)
		sb.seen, sb.wrapped, sb.guards, sb.ctors, sb.mine, sb.skip = nil, nil, nil, nil, nil, nil
	}
	return nil
}

// wrappedConstructors are the constructors replaced by wrappers, with their
// argument checks.
var wrappedConstructors = []struct {
	name string
	pre  ctorPre
}{
	{"Object", nil}, {"Array", preArray}, {"RegExp", preRegExp}, {"Function", preFunction("function")},
	{"Error", nil}, {"EvalError", nil}, {"RangeError", nil}, {"ReferenceError", nil},
	{"SyntaxError", nil}, {"TypeError", nil}, {"URIError", nil}, {"AggregateError", nil},
}

func callable(v goja.Value) (goja.Callable, error) {
	f, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("%v is not a function", v)
	}
	return f, nil
}

// visit walks o's own properties (and its prototype), replacing built-in
// functions by their wrappers. The properties of an original constructor go
// to its wrapper.
func (sb *sandbox) visit(o *goja.Object) {
	if o == nil || sb.seen[o] {
		return
	}
	sb.seen[o] = true
	target := o
	if w, ok := sb.ctors[o]; ok {
		target = w
	}
	for _, name := range o.GetOwnPropertyNames() {
		if target != o && (name == "prototype" || name == "name" || name == "length") {
			if name == "prototype" {
				proto, _ := o.Get("prototype").(*goja.Object)
				sb.visit(proto)
			}
			continue
		}
		sb.replaceProperty(o, target, name)
	}
	for _, sym := range sb.symbols(o) {
		sb.replaceProperty(o, target, sym)
	}
	sb.visit(o.Prototype())
}

// symbols returns all of o's own symbol keys (goja's Object.Symbols only
// returns the enumerable ones).
func (sb *sandbox) symbols(o *goja.Object) []*goja.Symbol {
	v, err := sb.getSyms(goja.Undefined(), o)
	if err != nil {
		return nil
	}
	a, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	n := int(a.Get("length").ToInteger())
	out := make([]*goja.Symbol, 0, n)
	for i := 0; i < n; i++ {
		if sym, ok := a.Get(strconv.Itoa(i)).(*goja.Symbol); ok {
			out = append(out, sym)
		}
	}
	return out
}

// descriptor is a property descriptor read with the original
// Object.getOwnPropertyDescriptor.
type descriptor struct {
	value, get, set                    goja.Value
	accessor                           bool
	writable, enumerable, configurable bool
}

func (sb *sandbox) describe(o *goja.Object, key goja.Value) (descriptor, bool) {
	v, err := sb.getDesc(goja.Undefined(), o, key)
	if err != nil {
		return descriptor{}, false
	}
	d, ok := v.(*goja.Object)
	if !ok {
		return descriptor{}, false
	}
	var out descriptor
	out.enumerable = d.Get("enumerable").ToBoolean()
	out.configurable = d.Get("configurable").ToBoolean()
	if w := d.Get("writable"); w == nil || goja.IsUndefined(w) {
		out.accessor = true
		out.get, out.set = d.Get("get"), d.Get("set")
	} else {
		out.writable = w.ToBoolean()
		out.value = d.Get("value")
	}
	return out, true
}

func flag(b bool) goja.Flag {
	if b {
		return goja.FLAG_TRUE
	}
	return goja.FLAG_FALSE
}

// replaceProperty replaces o's property key (a string or a *goja.Symbol) on
// target by its wrapped value, and walks into objects.
func (sb *sandbox) replaceProperty(o, target *goja.Object, key any) {
	var kv goja.Value
	switch k := key.(type) {
	case string:
		kv = sb.vm.ToValue(k)
	case *goja.Symbol:
		kv = k
	}
	d, ok := sb.describe(o, kv)
	if !ok {
		return
	}
	var err error
	if d.accessor {
		get, set := sb.wrapValue(d.get), sb.wrapValue(d.set)
		if target == o && get == d.get && set == d.set {
			return
		}
		if isNothing(get) {
			get = nil
		}
		if isNothing(set) {
			set = nil
		}
		switch k := key.(type) {
		case string:
			err = target.DefineAccessorProperty(k, get, set, flag(d.configurable), flag(d.enumerable))
		case *goja.Symbol:
			err = target.DefineAccessorPropertySymbol(k, get, set, flag(d.configurable), flag(d.enumerable))
		}
	} else {
		v := d.value
		if obj, ok := v.(*goja.Object); ok {
			if key == "prototype" {
				sb.visit(obj) // prototypes are walked, never wrapped
			} else {
				v = sb.wrapValue(obj)
				_, fn := goja.AssertFunction(obj)
				_, ctor := goja.AssertConstructor(obj)
				if !fn || ctor || sb.ctors[obj] != nil || isObject(obj.Get("prototype")) {
					sb.visit(obj) // namespaces (Math, JSON, Reflect) and constructors
				}
			}
		}
		if target == o && v == d.value {
			return
		}
		switch k := key.(type) {
		case string:
			err = target.DefineDataProperty(k, v, flag(d.writable), flag(d.configurable), flag(d.enumerable))
		case *goja.Symbol:
			err = target.DefineDataPropertySymbol(k, v, flag(d.writable), flag(d.configurable), flag(d.enumerable))
		}
	}
	if err != nil {
		sb.failed = append(sb.failed, fmt.Sprintf("%v.%v: %v", o.Get("name"), key, err))
	}
}

func isNothing(v goja.Value) bool { return v == nil || goja.IsUndefined(v) }

func isObject(v goja.Value) bool {
	_, ok := v.(*goja.Object)
	return ok
}

// wrapValue returns the wrapper of a built-in function, or v unchanged.
func (sb *sandbox) wrapValue(v goja.Value) goja.Value {
	obj, ok := v.(*goja.Object)
	if !ok {
		return v
	}
	return sb.wrapFunction(obj)
}

// wrapFunction returns the wrapper of the built-in function orig (made
// once), or orig itself when it is not a function, or one of the
// constructors that are left alone.
func (sb *sandbox) wrapFunction(orig *goja.Object) *goja.Object {
	if w, ok := sb.wrapped[orig]; ok {
		return w
	}
	if w, ok := sb.ctors[orig]; ok {
		return w
	}
	fn, ok := goja.AssertFunction(orig)
	if !ok || sb.skip[orig] || sb.mine[orig] {
		return orig
	}
	if _, ctor := goja.AssertConstructor(orig); ctor {
		sb.wrapped[orig] = orig
		return orig
	}
	g := sb.guards[orig]
	var w *goja.Object
	if g != nil {
		w = sb.native(orig.Get("name").String(), orig.Get("length").ToInteger(), func(c goja.FunctionCall) goja.Value {
			sb.check()
			return g(sb, fn, c)
		})
	} else {
		w = sb.native(orig.Get("name").String(), orig.Get("length").ToInteger(), func(c goja.FunctionCall) goja.Value {
			sb.check()
			return sb.call(fn, c.This, c.Arguments...)
		})
	}
	sb.wrapped[orig] = w
	return w
}

// native makes a function named name of the given length.
func (sb *sandbox) native(name string, length int64, f func(goja.FunctionCall) goja.Value) *goja.Object {
	w := sb.vm.ToValue(f).(*goja.Object)
	_ = w.DefineDataProperty("name", sb.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = w.DefineDataProperty("length", sb.vm.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	if sb.mine != nil {
		sb.mine[w] = true
	}
	return w
}

// wrapConstructor replaces the constructor orig by a wrapper that checks the
// stop flag (and the arguments, with pre), then calls or constructs orig.
func (sb *sandbox) wrapConstructor(orig *goja.Object, pre ctorPre) {
	call, _ := goja.AssertFunction(orig)
	construct, _ := goja.AssertConstructor(orig)
	var w *goja.Object
	w = sb.vm.ToValue(func(c goja.ConstructorCall) *goja.Object {
		sb.check()
		args := c.Arguments
		if pre != nil {
			args = pre(sb, args)
		}
		if c.NewTarget == nil { // called, not constructed
			v, err := call(goja.Undefined(), args...)
			if err != nil {
				panic(err)
			}
			o, _ := v.(*goja.Object)
			return o
		}
		nt := c.NewTarget
		if nt == w {
			nt = orig
		}
		o, err := construct(nt, args...)
		if err != nil {
			panic(err)
		}
		return o
	}).(*goja.Object)
	_ = w.DefineDataProperty("name", orig.Get("name"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = w.DefineDataProperty("length", orig.Get("length"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	sb.ctors[orig] = w
	sb.mine[w] = true
}

// call calls a function from a wrapper, rethrowing what it throws.
func (sb *sandbox) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	v, err := fn(this, args...)
	if err != nil {
		panic(err)
	}
	return v
}

// check ends the call if it was stopped: every wrapper calls it first, so
// that a loop inside goja that calls any function (an iterator's next, a
// callback) ends too.
func (sb *sandbox) check() {
	if c := sb.cur; c != nil {
		if m := c.stop.Load(); m != nil {
			panic(&haltError{mark: m, inner: &goja.InterruptedError{}})
		}
	}
}

// fail stops the running call (the first reason given wins) and unwinds it.
func (sb *sandbox) fail(reason stopReason, format string, args ...any) {
	m := &stopMark{reason: reason, detail: fmt.Sprintf(format, args...)}
	if c := sb.cur; c != nil {
		if c.stop.CompareAndSwap(nil, m) {
			sb.vm.Interrupt(m)
		} else {
			m = c.stop.Load()
		}
	}
	panic(&haltError{mark: m, inner: &goja.InterruptedError{}})
}

// tooLong stops the call because what would make a string of n UTF-16 units.
func (sb *sandbox) tooLong(what string, n float64) {
	sb.fail(stopMemory, "%s would make a string of %s characters (at most %d)", what, count(n), maxStringLen)
}

// tooMany stops the call because what would make or walk n elements.
func (sb *sandbox) tooMany(what string, n float64, limit int) {
	sb.fail(stopMemory, "%s would make or walk %s elements (at most %d)", what, count(n), limit)
}

// count formats a size for a message.
func count(n float64) string {
	if n >= 1e15 || math.IsInf(n, 0) {
		return strconv.FormatFloat(n, 'g', 4, 64)
	}
	return strconv.FormatFloat(n, 'f', 0, 64)
}

// charge counts n bytes that a built-in function allocates for the call,
// and stops the call past chargeLimit.
func (sb *sandbox) charge(n int64, what string) {
	c := sb.cur
	if c == nil || n <= 0 {
		return
	}
	c.charged += n
	if c.charged > chargeLimit {
		sb.fail(stopMemory, "%s: the built-in functions it called made more than %d MB", what, chargeLimit>>20)
	}
}

// checkString stops the call if what would make a string of n UTF-16
// units, and charges it otherwise.
func (sb *sandbox) checkString(what string, n float64) {
	if n > maxStringLen {
		sb.tooLong(what, n)
	}
	sb.charge(int64(n)*2, what)
}
