package script

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// DefaultLimit is the time limit of one script call when NewRunner is given
// zero (docs/rules.md section 4: default 1 s).
const DefaultLimit = 1 * time.Second

// DefaultMaxCallDepth is the deepest JavaScript call nesting a script may
// reach before it is stopped (an endless recursion is an error, not a crash).
const DefaultMaxCallDepth = 1000

// maxCachedPrograms bounds how many Programs one Runner keeps a runtime for.
const maxCachedPrograms = 16

// ErrTimeout is wrapped by the error of a call that ran longer than the
// Runner's limit (errors.Is(err, ErrTimeout)).
var ErrTimeout = errors.New("script ran longer than the time limit")

// ErrStackOverflow is wrapped by the error of a call that nested calls deeper
// than the Runner's maximum call depth (usually an endless recursion).
var ErrStackOverflow = errors.New("script exceeded the maximum call depth")

// ErrResultType is wrapped by the error of a call whose script returned a
// value of the wrong type.
var ErrResultType = errors.New("script returned the wrong type")

// RunError is the error of one script call for one entry. Its message names
// the script ("active script", "org name script", "role name script") and,
// where known, the line and column in the administrator's text.
type RunError struct {
	Script string // "active script", "org name script" or "role name script"
	Field  string // the Program's field, e.g. "activeScript"
	Line   int    // 1-based line of the failing statement in the script; 0 if unknown
	Column int    // 1-based column (in characters); 0 if unknown
	Msg    string // the complete message
	Err    error  // ErrTimeout, ErrStackOverflow, ErrResultType, or nil
}

// Error returns the complete message.
func (e *RunError) Error() string { return e.Msg }

// Unwrap returns the sentinel the error is classified by, if any.
func (e *RunError) Unwrap() error { return e.Err }

// Option configures a Runner.
type Option func(*Runner)

// WithSensitive hides more attributes from scripts, on top of [Sensitive]
// (compared case-insensitively; the configurable list of docs/rules.md section 3).
func WithSensitive(names ...string) Option {
	return func(r *Runner) { r.extra = append(r.extra, names...) }
}

// WithMaxCallDepth sets the deepest call nesting allowed (default
// DefaultMaxCallDepth).
func WithMaxCallDepth(n int) Option {
	return func(r *Runner) {
		if n > 0 {
			r.maxDepth = n
		}
	}
}

// Runner runs compiled Programs against directory entries. It is not safe
// for concurrent use: give each goroutine its own Runner (they may share
// Programs).
//
// A Runner keeps one goja runtime per Program it has run (up to 16, the
// least recently added dropped first), created on first use and reused for
// every later call of that Program. Each call gets a fresh entry object; a
// script that tampers with its runtime's globals (deletes Array, redefines
// Object, keeps state in globals) only affects its own later calls, never
// another Program's. A runtime whose call was stopped (time or memory
// limit), overflowed its call stack, or panicked is thrown away and rebuilt
// for the next call.
type Runner struct {
	limit    time.Duration
	maxDepth int
	extra    []string
	states   map[*Program]*progState
	order    []*Program

	// mu guards running, cur (the running call's sandbox), the watchdog
	// fields of cs, and timer against the timer's goroutine.
	mu      sync.Mutex
	running bool
	cur     *sandbox
	cs      callState
	timer   *time.Timer // one per Runner, reset for every call
	sample  []metrics.Sample
}

type progState struct {
	sb     *sandbox
	fn     goja.Callable
	broken bool
	memo   *memo // the program's answers, when it is pure (nil otherwise)
}

// NewRunner returns a Runner whose calls are stopped after limit (0 or less
// means DefaultLimit).
func NewRunner(limit time.Duration, opts ...Option) *Runner {
	if limit <= 0 {
		limit = DefaultLimit
	}
	r := &Runner{limit: limit, maxDepth: DefaultMaxCallDepth, states: make(map[*Program]*progState),
		sample: []metrics.Sample{{Name: allocsMetric}}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Limit returns the Runner's time limit per call.
func (r *Runner) Limit() time.Duration { return r.limit }

// Active runs an active script: it must return true or false. A nil Program
// is the default active script (true).
func (r *Runner) Active(p *Program, dn string, attrs map[string][]string) (bool, error) {
	if p == nil {
		return true, nil
	}
	return run(r, p, "active script", dn, attrs, func(v goja.Value) (bool, error) {
		if b, ok := v.Export().(bool); ok && isPrimitive(v) {
			return b, nil
		}
		return false, fmt.Errorf("returned %s, expected true or false", describe(v))
	})
}

// OrgName runs an org name script: it must return a string; "", null and
// undefined all mean no org and give "". The name is returned as the script
// gave it (not trimmed), except that invalid UTF-8 is replaced with U+FFFD.
// A nil Program gives "".
func (r *Runner) OrgName(p *Program, dn string, attrs map[string][]string) (string, error) {
	if p == nil {
		return "", nil
	}
	return run(r, p, "org name script", dn, attrs, func(v goja.Value) (string, error) {
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return "", nil
		}
		if goja.IsString(v) && isPrimitive(v) {
			if n := characters(v); n > MaxOrgNameLength {
				return "", &tooLargeError{fmt.Sprintf("returned a name of %d characters; an org name has at most %d", n, MaxOrgNameLength)}
			}
			return strings.ToValidUTF8(v.String(), "\ufffd"), nil
		}
		return "", fmt.Errorf("returned %s, expected a string, null or undefined", describe(v))
	})
}

// Roles runs a role name script: it must return an array of strings, or null
// or undefined for no roles (nil). An empty array gives an empty, non-nil
// slice; both mean no roles. The role names are returned as the script gave
// them (not trimmed, not deduplicated; invalid UTF-8 replaced with U+FFFD).
// A nil Program gives nil.
func (r *Runner) Roles(p *Program, dn string, attrs map[string][]string) ([]string, error) {
	if p == nil {
		return nil, nil
	}
	return run(r, p, "role name script", dn, attrs, func(v goja.Value) ([]string, error) {
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return nil, nil
		}
		o, ok := v.(*goja.Object)
		if !ok || o.ClassName() != "Array" {
			return nil, fmt.Errorf("returned %s, expected an array of strings, null or undefined", describe(v))
		}
		n := o.Get("length").ToInteger()
		if n > MaxRoles {
			return nil, &tooLargeError{fmt.Sprintf("returned %d roles; at most %d are allowed", n, MaxRoles)}
		}
		out := make([]string, 0, n)
		for i := int64(0); i < n; i++ {
			el := o.Get(strconv.FormatInt(i, 10))
			if el == nil || !goja.IsString(el) || !isPrimitive(el) {
				return nil, fmt.Errorf("returned an array whose element %d is %s, expected an array of strings", i, describe(el))
			}
			if c := characters(el); c > MaxRoleLength {
				return nil, &tooLargeError{fmt.Sprintf("returned a role of %d characters (element %d); a role name has at most %d", c, i, MaxRoleLength)}
			}
			out = append(out, strings.ToValidUTF8(el.String(), "\ufffd"))
		}
		return out, nil
	})
}

// tooLargeError is a result over its bounds (ErrResultTooLarge).
type tooLargeError struct{ msg string }

func (e *tooLargeError) Error() string { return e.msg }

// characters counts the characters (code points) of a string value without
// converting it (it may be megabytes long).
func characters(v goja.Value) int {
	s, ok := v.(goja.String)
	if !ok {
		return utf8.RuneCountInString(v.String())
	}
	if isASCII(s) {
		return s.Length()
	}
	if reflect.TypeOf(s).Kind() == reflect.Pointer {
		// goja's string made from a Go string: String() is that string.
		return utf8.RuneCountInString(s.String())
	}
	n := 0
	for r := s.Reader(); ; n++ {
		if _, _, err := r.ReadRune(); err != nil {
			return n
		}
	}
}

// isPrimitive reports whether v is not an object (new Boolean(false) and
// new String("x") are objects and refused).
func isPrimitive(v goja.Value) bool {
	_, obj := v.(*goja.Object)
	return v != nil && !obj
}

// describe names a JavaScript value's type for an error message, with the
// value itself for primitives. It never runs script code.
func describe(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if _, fn := goja.AssertFunction(o); fn {
			return "a function"
		}
		switch o.ClassName() {
		case "Array":
			return "an array"
		case "String":
			return "a String object"
		case "Boolean":
			return "a Boolean object"
		case "Number":
			return "a Number object"
		case "Date":
			return "a Date"
		case "RegExp":
			return "a regular expression"
		case "Error":
			return "an Error object"
		}
		return "an object"
	}
	switch {
	case goja.IsString(v):
		return fmt.Sprintf("a string (%q)", truncate(v.String(), 60))
	case goja.IsNumber(v):
		return fmt.Sprintf("a number (%s)", v.String())
	case goja.IsBigInt(v):
		return fmt.Sprintf("a bigint (%s)", v.String())
	}
	if t := v.ExportType(); t != nil {
		switch t.Kind() {
		case reflect.Bool:
			return fmt.Sprintf("a boolean (%s)", v.String())
		}
	}
	if _, ok := v.Export().(*goja.Symbol); ok {
		return "a symbol"
	}
	return "a value of an unexpected type"
}

// state returns the runtime and function for p, creating them on first use.
func (r *Runner) state(p *Program) (*progState, error) {
	if st, ok := r.states[p]; ok && !st.broken {
		return st, nil
	}
	if _, ok := r.states[p]; !ok && len(r.order) >= maxCachedPrograms {
		old := r.order[0]
		r.order = r.order[1:]
		delete(r.states, old)
	}
	sb, err := newSandbox(r.maxDepth)
	if err != nil {
		return nil, err
	}
	v, err := sb.vm.RunProgram(p.prog)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, errors.New("the script did not evaluate to a function")
	}
	st := &progState{sb: sb, fn: fn}
	if old, ok := r.states[p]; ok && old.memo != nil {
		st.memo = old.memo // a rebuilt runtime: the answers still hold
	} else if p.memo {
		st.memo = &memo{answers: map[string]any{}}
	}
	if _, ok := r.states[p]; !ok {
		r.order = append(r.order, p)
	}
	r.states[p] = st
	return st, nil
}

// Prepare builds the runtimes of set's scripts ahead of their first call
// (which builds them otherwise: about 5 ms each), so that a caller may
// build them while it waits for something else, such as a directory. Like
// the other methods of a Runner, it must not run at the same time as one.
func (r *Runner) Prepare(set *Set) error {
	if set == nil {
		return nil // the default scripts run no JavaScript
	}
	for _, p := range []*Program{set.Active, set.OrgName, set.RoleName} {
		if p == nil {
			continue
		}
		if _, err := r.state(p); err != nil {
			return fmt.Errorf("script: prepare the %s: %w", p.field, err)
		}
	}
	return nil
}

// run calls p's function with a fresh entry under the time limit and
// converts its result with conv, which runs under the same limits (it may
// touch script-made objects).
func run[T any](r *Runner, p *Program, script, dn string, attrs map[string][]string, conv func(goja.Value) (T, error)) (res T, err error) {
	st, err := r.state(p)
	if err != nil {
		return res, &RunError{Script: script, Field: p.field, Msg: script + ": could not start: " + err.Error()}
	}
	if m := st.memo; m != nil && !m.off {
		m.key = appendMemoKey(m.key[:0], p, attrs, r.extra)
		key := m.key
		if cap(m.key) > memoKeyCap {
			m.key = nil // an entry with many values: its key is not kept
		}
		if v, ok := m.lookup(key); ok {
			return fresh(v.(T)), nil
		}
		defer func() {
			if err == nil {
				m.keep(key, fresh(res))
			}
		}()
	}
	sb := st.sb
	r.begin(sb)
	sb.cur = &r.cs

	defer func() {
		if x := recover(); x != nil {
			st.broken = true
			var zero T
			res = zero
			if m := r.cs.stop.Load(); m != nil {
				err = r.stopError(p, script, m)
			} else {
				err = r.classify(p, script, st, x, true)
			}
		}
		r.end()
		sb.cur = nil
		// After end, the timer can no longer stop the call: clearing now
		// leaves the runtime clean for the next call.
		sb.vm.ClearInterrupt()
		if r.cs.stop.Load() != nil {
			st.broken = true
		}
	}()

	e := newEntry(sb.vm, dn, attrs, r.extra)
	v, cerr := st.fn(goja.Undefined(), sb.vm.NewDynamicObject(e))
	if m := r.cs.stop.Load(); m != nil {
		// Stopped: whatever the script did afterwards (a catch block, a
		// result), the call failed.
		return res, r.stopError(p, script, m)
	}
	if cerr != nil {
		return res, r.classify(p, script, st, cerr, false)
	}
	res, err = conv(v)
	if m := r.cs.stop.Load(); m != nil {
		var zero T
		return zero, r.stopError(p, script, m)
	}
	if err != nil {
		sentinel := ErrResultType
		var tl *tooLargeError
		if errors.As(err, &tl) {
			sentinel = ErrResultTooLarge
		}
		return res, &RunError{Script: script, Field: p.field, Msg: script + " " + err.Error(), Err: sentinel}
	}
	return res, nil
}

// allocsMetric is the runtime metric the watchdog reads: the bytes the
// whole process has allocated so far.
const allocsMetric = "/gc/heap/allocs:bytes"

// begin marks the call on sb as running and starts its timer: first a
// watchdog tick after watchFirst, then one every watchTick until the time
// limit.
func (r *Runner) begin(sb *sandbox) {
	now := time.Now()
	r.mu.Lock()
	r.running = true
	r.cur = sb
	r.cs.deadline = now.Add(r.limit)
	r.cs.stop.Store(nil)
	r.cs.charged = 0
	r.cs.haveBase = false
	first := min(watchFirst, r.limit)
	if r.timer == nil {
		r.timer = time.AfterFunc(first, r.tick)
	} else {
		r.timer.Reset(first)
	}
	r.mu.Unlock()
}

// end marks the call as over; the timer can no longer touch it.
func (r *Runner) end() {
	r.mu.Lock()
	r.running = false
	r.cur = nil
	r.timer.Stop()
	r.mu.Unlock()
}

// tick is the timer's function. While a call runs, it stops the call once
// its time limit has passed, or once the process has allocated more than
// watchLimit since the call's first tick (the process, not the call: Go
// cannot tell which goroutine allocated, so this over-counts, never
// under-counts); otherwise it looks again after watchTick. A tick that
// comes between two calls does nothing, and one that comes late acts on
// the running call's own deadline and baseline, so it cannot stop a call
// that is within its limits.
func (r *Runner) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return
	}
	now := time.Now()
	left := r.cs.deadline.Sub(now)
	if left <= 0 {
		detail := "an endless loop?"
		if r.cur.inRegexp.Load() {
			detail = "in a regular expression"
		}
		r.halt(stopTimeout, detail)
		return
	}
	metrics.Read(r.sample)
	allocated := r.sample[0].Value.Uint64()
	switch {
	case !r.cs.haveBase:
		r.cs.base, r.cs.haveBase = allocated, true
	case allocated-r.cs.base > watchLimit:
		r.halt(stopMemory, fmt.Sprintf("the server allocated %d MB while it ran (at most %d MB)", (allocated-r.cs.base)>>20, watchLimit>>20))
		return
	}
	r.timer.Reset(min(watchTick, left))
}

// halt stops the running call (under mu); the first reason wins.
func (r *Runner) halt(reason stopReason, detail string) {
	m := &stopMark{reason: reason, detail: detail}
	if r.cs.stop.CompareAndSwap(nil, m) {
		r.cur.vm.Interrupt(m)
	}
}

// stopError is the error of a call that was stopped.
func (r *Runner) stopError(p *Program, script string, m *stopMark) error {
	re := &RunError{Script: script, Field: p.field}
	switch m.reason {
	case stopTimeout:
		re.Err = ErrTimeout
		re.Msg = fmt.Sprintf("%s ran longer than the limit of %s and was stopped (%s)", script, r.limit, m.detail)
	case stopDepth:
		re.Err = ErrStackOverflow
		re.Msg = fmt.Sprintf("%s was stopped: %s", script, m.detail)
	default:
		re.Err = ErrMemoryLimit
		re.Msg = fmt.Sprintf("%s used more memory than allowed (%d MB) and was stopped: %s", script, MaxCallMemory>>20, m.detail)
	}
	return re
}

// classify turns what a call produced (an error, or a recovered panic) into
// a *RunError. It runs inside the time-limited window because turning a
// thrown object into text may run script code (toString).
func (r *Runner) classify(p *Program, script string, st *progState, x any, panicked bool) error {
	re := &RunError{Script: script, Field: p.field}
	var intr *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	err, _ := x.(error)
	switch {
	case err != nil && errors.As(err, &intr):
		// A stopped call (its stopMark) is reported by run.
		st.broken = true
		re.Msg = fmt.Sprintf("%s was interrupted: %v", script, intr.Value())
	case err != nil && errors.As(err, &so):
		st.broken = true
		re.Err = ErrStackOverflow
		re.Msg = fmt.Sprintf("%s exceeded the maximum call depth of %d (an endless recursion?)", script, r.maxDepth)
	case !panicked && err != nil && errors.As(err, &ex):
		re.Line, re.Column = r.where(p, ex)
		text := safeText(st, ex)
		if re.Line > 0 {
			re.Msg = fmt.Sprintf("%s threw an error at line %d, column %d: %s", script, re.Line, re.Column, text)
		} else {
			re.Msg = fmt.Sprintf("%s threw an error: %s", script, text)
		}
	case panicked:
		st.broken = true
		re.Msg = fmt.Sprintf("%s failed: internal error: %v", script, x)
	default:
		re.Msg = fmt.Sprintf("%s failed: %v", script, x)
	}
	return re
}

// safeText renders a thrown value; the value's toString may itself throw or
// loop (the time limit still applies), which gives a fallback text.
func safeText(st *progState, ex *goja.Exception) (s string) {
	defer func() {
		if recover() != nil {
			st.broken = true
			s = "(an exception that cannot be turned into text)"
		}
	}()
	v := ex.Value()
	if v == nil {
		return "undefined"
	}
	return strings.TrimSpace(truncate(v.String(), 500))
}

// truncate shortens s to at most n bytes, on a character boundary, marking
// the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// where finds the innermost stack frame in p's source and maps it to the
// administrator's line and column.
func (r *Runner) where(p *Program, ex *goja.Exception) (int, int) {
	for _, f := range ex.Stack() {
		if f.SrcName() != p.field {
			continue
		}
		pos := f.Position()
		if pos.Line > 0 {
			return p.fromWrapped(pos.Line, pos.Column)
		}
	}
	return 0, 0
}
