// Package script runs the administrator's LDAP scripts (the active, org name
// and role name scripts of an LDAP server, docs/rules.md section 4) in a goja
// JavaScript sandbox.
//
// # Use
//
// Compile each script once per run ([Compile], or [CompileSet] for the three
// scripts of a server), then run it once per directory entry with a
// [Runner]:
//
//	set, err := script.CompileSet(srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
//	r := script.NewRunner(script.DefaultLimit, script.WithSensitive(extra...))
//	res := r.Run(set, entry.DN, entry.Attrs) // or r.Active / r.OrgName / r.Roles
//
// A compiled [Program] (and a [Set]) may be shared by any number of
// goroutines; a Runner belongs to one goroutine at a time (make one per
// worker goroutine, or per request).
//
// # Accepted scripts
//
// A function expression, the on-prem form,
//
//	function(entry) { return !(entry.userAccountControl & 0x2); }
//
// optionally followed by semicolons and surrounded by whitespace or comments;
// or exactly one function declaration with any name, the directory-sync-tool
// form:
//
//	function getRoles(entry) { ... }
//
// Arrow functions (entry => ...) are accepted as function expressions too.
// Anything else (a statement, two functions, an expression that is not a
// function, an async or generator function, an empty script) is refused by
// Compile with an [apperr.Error] of kind [apperr.KindInvalid] carrying the
// field name and the line and column (1-based, columns in characters) of the
// problem in the administrator's text.
//
// # The entry
//
// entry.dn is the DN. Every other attribute is a property looked up
// case-insensitively (entry.memberOf, entry.memberof and entry.MEMBEROF are
// the same): one value is a string, several are an array of strings,
// memberOf and objectClass are always arrays, an absent attribute (or one
// with no values) is undefined. Object.keys(entry) and for-in list "dn" and
// the attributes. The [Sensitive] attributes and the Runner's extra list
// ([WithSensitive]) are invisible even if the caller passes them. A script
// may change its entry; the changes last for that call only, and the
// caller's map is never modified.
//
// # Results
//
// Active must return a boolean (the string "false" is an error, not true).
// OrgName must return a string, or "", null or undefined for no org. Roles
// must return an array of strings, or null or undefined for no roles. Any
// other type is an error naming the type received ([ErrResultType]). An org
// name has at most [MaxOrgNameLength] characters, and there are at most
// [MaxRoles] roles of at most [MaxRoleLength] characters each (characters
// are Unicode code points); beyond that the call is an error
// ([ErrResultTooLarge]). Errors from the Runner methods are *[RunError]
// values whose message starts with the script's name ("active script",
// "org name script", "role name script") and includes the JavaScript
// exception and its line and column when the script threw.
//
// # Sandbox
//
// Each Program runs in its own goja runtime: there is no require, console,
// setTimeout or other timer, and no file or network access; source maps are
// disabled (in Compile, eval and new Function) so that a
// "//# sourceMappingURL=" comment cannot make the parser read a file.
// BigInt, the typed arrays, ArrayBuffer and DataView are not available, and
// Compile refuses BigInt literals and object spread or rest ({...x}).
// eval works, but always as an indirect eval (in the global scope).
//
// # Containment
//
// A script may be written by a careless or a hostile administrator, and it
// runs on directory data anyone may have written. A call is stopped, with
// an error and whatever it runs, once it passes its time limit
// ([DefaultLimit] unless NewRunner says otherwise; [ErrTimeout]) or its
// memory limit ([MaxCallMemory]; [ErrMemoryLimit]), and an endless
// recursion is an error too ([DefaultMaxCallDepth]; [ErrStackOverflow]).
// These errors cannot be caught by the script. A runtime whose call was
// stopped, overflowed or panicked is thrown away and rebuilt for the next
// call.
//
// The difficulty is that goja's Interrupt only acts between two JavaScript
// instructions, and Go has no way to stop a goroutine or to count what one
// goroutine allocates. One call of a built-in function is one instruction:
// a regexp2 match that backtracks exponentially, "x".repeat(1<<30),
// new Array(1e9).fill(0), JSON.stringify of a structure that shares its
// parts, or a native function used as an iterator's next (which goja calls
// in a Go loop for ever) never reach the next instruction, and pin a core
// or take gigabytes. So containment is this: every step a script can take
// must be short and small, and whatever is made of many steps is watched.
//
//   - Every built-in function of the runtime is replaced by a wrapper
//     (sandbox.go). A wrapper first checks whether the call was stopped,
//     and if so ends it: every Go loop inside goja that calls any function
//     (an iterator's next, a callback, a getter) therefore ends once the
//     call is stopped. The constructors that return an object when merely
//     called (Object, Array, RegExp, Function, the Errors) are wrapped the
//     same way; the others throw or return a primitive when called.
//   - The built-ins that make or walk something whose size comes from their
//     arguments (repeat, padStart, concat, replace with a $-template or a
//     function, split, join, fill, slice, concat, flat, Array.from,
//     Object.keys and its kin, apply, JSON.stringify and JSON.parse, eval
//     and the Function constructors, RegExp) work out that size first
//     (guards.go, json.go), refuse it past a limit (strings of 4 Mi
//     characters, arrays of 16 Ki elements made or 64 Ki walked, nesting of
//     1000 levels), and charge what they allocate to the call (32 MB). Some
//     are done here rather than by goja (repeat, padStart and padEnd, join,
//     flat, String.raw), because goja's loop once per character or element.
//   - Regular expressions (regexp.go) match on strings of at most 256 Ki
//     characters. Where goja would use Go's regexp (linear time), goja's
//     own exec runs, with the length of the string times that of the
//     pattern bounded; where it would use regexp2 (backreferences,
//     lookaround, and matches that start after index 0 whose pattern has ^,
//     \b or \B), regexp2 runs here with a MatchTimeout of what is left of
//     the call's limit.
//   - Joins of strings (+, +=, template literals) are rewritten by Compile
//     so that each result is checked and charged as soon as it is made
//     (concat.go): the one way a script grows a string without a built-in
//     needs no watchdog.
//   - The Runner's timer stops the call at its limit, and while a call runs
//     longer than 250 µs it also reads how much the whole process has
//     allocated, every 500 µs, and stops the call past 12 MB (a watchdog
//     for growth made of many small steps: a loop of concatenations, of
//     pushes, of object literals).
//   - Syntax that goja runs in one step of unbounded cost is refused by
//     Compile (syntax.go), and the globals that cannot be bounded are
//     removed (sandbox.go).
//
// Why this and not something else: a regexp2 MatchTimeout alone covers
// regular expressions only (and goja offers no way to set it per call);
// guarding a few built-ins leaves every other one, and the loops goja runs
// over iterators; a separate worker process with operating system limits
// would hold for anything, but costs a round trip per call (23 µs on the
// build machine through a pipe, against about 1 µs for a whole call here),
// which is 40 thousand calls a second instead of a million. The wrappers
// cost a few tens of nanoseconds per built-in call, and making a runtime
// costs about 2 ms instead of 10 µs (once per Program and Runner).
//
// What it does not cover, and why it is still bounded: the watchdog counts
// the whole process's allocations (Go cannot tell which goroutine
// allocated), so a call that runs longer than 250 µs while the rest of the
// server allocates heavily may be stopped too early (it over-counts, never
// under-counts); it samples, so a call may allocate what it can in one
// sample period and one step beyond its 12 MB before it is stopped (the
// tests check 64 MB). The timer, the watchdog and regexp2's clock are
// goroutines: on a machine so loaded that they cannot run, a call is
// stopped late. One step that the limits still allow may take tens of
// milliseconds (a 16 Ki element fill, Go's regexp on 256 Ki characters,
// the concatenation of two strings of several megabytes). A pattern that
// goja's fast path for global matches and split ran with Go's regexp now
// runs with regexp2 after the first match, under the time limit: a pattern
// with nested quantifiers and ^, \b or \B may time out there. Compiling a
// script (once per run, at most 64 KiB) is not limited.
//
// # Runtimes
//
// A Runner keeps one goja runtime per Program it has run (created on first
// use, reused for later calls, at most 16 per Runner). So a script that
// tampers with its globals (deletes Array, redefines Object) only affects its
// own later calls on that Runner, never another Program; and a script can
// keep state in globals between calls (each call still gets a fresh entry).
package script
