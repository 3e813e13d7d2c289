package script

import (
	"errors"
	"time"
)

// The bounds of a script call (docs/rules.md section 4; SPEC section 10,
// "Scripts are contained").
const (
	// MaxCallMemory is the most one script call may grow the server by.
	MaxCallMemory = 64 << 20

	// MaxOrgNameLength is the longest org name an org name script may
	// return, in characters (Unicode code points).
	MaxOrgNameLength = 255

	// MaxRoles is the most role names a role name script may return.
	MaxRoles = 100

	// MaxRoleLength is the longest role name a role name script may return,
	// in characters (Unicode code points).
	MaxRoleLength = 100
)

// ErrMemoryLimit is wrapped by the error of a call that was stopped because
// it used, or was about to use, more memory than a call may (MaxCallMemory),
// or asked a built-in function for something that large (a string of a
// billion characters, an array of a billion elements).
var ErrMemoryLimit = errors.New("script used more memory than allowed")

// ErrResultTooLarge is wrapped by the error of a call whose result is over
// its bounds: an org name longer than MaxOrgNameLength, more than MaxRoles
// roles, or a role longer than MaxRoleLength.
var ErrResultTooLarge = errors.New("script returned a result over its bounds")

// The internal limits that keep every single step of a script short and
// small. goja checks for the time limit between two JavaScript
// instructions only; one call of a built-in function is one step, so these
// bound what one step may cost (see doc.go, "Containment").
const (
	// chargeLimit bounds the memory that built-in functions are known to
	// allocate during one call (each guarded built-in charges what it
	// makes, garbage included).
	chargeLimit = 32 << 20

	// watchLimit bounds what the whole process allocates while one call
	// runs, as measured by the watchdog (the Runner's timer) every tick:
	// it catches growth that no single built-in call makes (a loop of
	// concatenations, of pushes, of object literals).
	watchLimit = 12 << 20

	// watchFirst is when the watchdog first looks at a running call (and
	// takes its baseline), watchTick how often it looks again. A call
	// shorter than watchFirst is never looked at, so fast calls pay
	// nothing.
	watchFirst = 250 * time.Microsecond
	watchTick  = 500 * time.Microsecond

	// maxStringLen is the longest string (in UTF-16 code units) that one
	// guarded built-in call may make (4 Mi units, at most 8 MB).
	maxStringLen = 1 << 22

	// maxArrayLen is the longest array (or array-like) that a built-in
	// function may make in one call without calling back into the script
	// (fill, slice, concat, Array.from, split, Object.keys, ...). goja
	// spends 150 to 250 bytes and about a microsecond per element when it
	// makes or fills an array (five to ten times as long under the race
	// detector): 16 Ki elements is some 4 MB and a few tens of
	// milliseconds, in one step.
	maxArrayLen = 1 << 14

	// maxArrayWalk is the longest array (or array-like) a built-in
	// function may walk in one call (indexOf, includes, and those that call
	// a function of the script for each element, which can be stopped
	// between two calls), and the most values JSON.stringify may visit.
	maxArrayWalk = 1 << 16

	// maxSortLen is the longest array Array.prototype.sort may sort (the
	// default comparison converts elements to strings on every comparison).
	maxSortLen = 1 << 14

	// maxApplyArgs is the most arguments Function.prototype.apply,
	// Reflect.apply and Reflect.construct may spread.
	maxApplyArgs = 1 << 16

	// maxEvalSource is the longest source text eval and the Function
	// constructors compile (the same as an administrator's script at the
	// API, SPEC section 10).
	maxEvalSource = 64 << 10

	// maxPatternLen is the longest regular expression source a script may
	// build at run time (RegExp, String.prototype.match with a string).
	maxPatternLen = 64 << 10

	// maxRegexpInput is the longest string a regular expression may be
	// matched against (the matchers' memory and, for Go's regexp, which is
	// linear but cannot be interrupted, their time grow with it).
	maxRegexpInput = 1 << 18

	// maxRegexpWork bounds the length of the string times the length of the
	// pattern for Go's regexp, whose time grows with both.
	maxRegexpWork = 1 << 26

	// maxNesting is the deepest nesting JSON.parse, JSON.stringify and
	// Array.prototype.flat may walk (they recurse in Go).
	maxNesting = DefaultMaxCallDepth

	// regexpClockPeriod is the resolution of the regular expression
	// matcher's clock (regexp2's default is 100 ms).
	regexpClockPeriod = 5 * time.Millisecond
)
