// Package ldapauth talks to the directory: the LDAP server list and its
// settings, connections (ldap://, ldaps://, StartTLS), paged searches,
// search-then-bind authentication, and the administrator's tools (reachable,
// bindable, matches, preview). The server only binds and searches; it never
// writes to the directory.
package ldapauth
