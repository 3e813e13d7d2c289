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
// other type is an error naming the type received. Errors from the Runner
// methods are *[RunError] values whose message starts with the script's name
// ("active script", "org name script", "role name script") and includes the
// JavaScript exception and its line and column when the script threw.
//
// # Sandbox and limits
//
// Each Program runs in a plain goja runtime: there is no require, console,
// setTimeout or other timer, and no file or network access; source maps are
// disabled (in Compile, eval and new Function) so that a
// "//# sourceMappingURL=" comment cannot make the parser read a file. Every
// call has a time limit ([DefaultLimit] unless NewRunner says otherwise); an
// endless loop is interrupted and reported with [ErrTimeout]. Call depth is
// bounded ([DefaultMaxCallDepth]); an endless recursion is reported with
// [ErrStackOverflow] (it cannot be caught by the script). A panic inside
// goja becomes an error. A runtime that timed out, overflowed or panicked is
// discarded and rebuilt for the next call.
//
// Known limits: the time limit only interrupts JavaScript code, not one long
// built-in call (a single huge "x".repeat(n) runs to completion), and there
// is no memory limit (a script that doubles a string in a loop can allocate
// a lot of memory within its time limit). Scripts are written by the
// server's administrators; these limits protect against mistakes, not
// against a hostile administrator.
//
// # Runtimes
//
// A Runner keeps one goja runtime per Program it has run (created on first
// use, reused for later calls, at most 16 per Runner). So a script that
// tampers with its globals (deletes Array, redefines Object) only affects its
// own later calls on that Runner, never another Program; and a script can
// keep state in globals between calls (each call still gets a fresh entry).
package script
