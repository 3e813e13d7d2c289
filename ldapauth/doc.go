// Package ldapauth talks to the directory: the LDAP server list and its
// settings, connections (ldap://, ldaps://, StartTLS), paged searches,
// search-then-bind authentication, and the administrator's tools (reachable,
// bindable, matches, preview, try a script). The server only binds and
// searches; this package has no code path that adds, modifies or deletes a
// directory entry.
//
// # Safety rules the package keeps
//
//   - A search that does not end with a success result (size or time limit,
//     busy, unavailable, a dropped connection, a cancelled or expired
//     context) is an error that names the page it happened on: a short
//     result never looks like a complete one ([Conn.SearchAll]).
//   - Sensitive attributes (script.Sensitive plus Server.SensitiveAttributes)
//     are dropped from every [Entry] as it is decoded: they never reach
//     scripts, pages or logs.
//   - The bind password is sealed at rest, never marshalled to JSON, never
//     logged and never part of an error message.
//   - An empty password is refused before any network traffic
//     ([Authenticate]); a username is escaped exactly once (RFC 4515) before
//     it is put into the search filter.
//   - StartTLS that fails is an error, never a fall-back to clear text.
//   - Secrets stay with their host: saving a server with another scheme,
//     host, port, StartTLS setting or bind DN needs the bind password again
//     ([Service.Update], [Service.Draft]); a followed referral to another
//     server (scheme, host or port) gets an anonymous bind only, and a
//     person found there cannot sign in, as their password is not sent
//     there ([Authenticate]).
//
// A disabled account (AD's userAccountControl bit 2, glauth's
// accountStatus=inactive) is not refused by [Authenticate]: deciding who is
// active is the active script's job (for AD, for example,
// function(entry) { return !(entry.userAccountControl & 2); }), which signin
// and dirsync run after authentication.
package ldapauth
