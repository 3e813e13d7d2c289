// Package demodir runs a small LDAP directory in-process: a glauth server
// (github.com/glauth/glauth/v2) on a random loopback port, built from a list
// of [User] values ([Start]), with sample people for `authority serve --demo`
// ([People]). It is the directory of the demo mode, and package testenv wraps
// it for tests (testenv.StartGlauth). It imports no test code, so the
// production binary can link it.
//
// # Directory layout
//
// The base DN is [BaseDN] ("dc=example,dc=com"). A search from the base DN
// returns users as cn=NAME,ou=PRIMARYGROUP,ou=users,dc=example,dc=com
// (binding also works without the ",ou=users" part) with objectClass
// posixAccount, shadowAccount, person, organizationalPerson, inetOrgPerson
// and user (so the AD-style filter (&(objectClass=user)(sAMAccountName=%u))
// works), attributes cn and uid (both NAME), givenName, sn, mail, memberOf
// (ou=GROUP,ou=groups,dc=example,dc=com — "ou=", glauth's fixed layout),
// accountStatus (active/inactive), uidNumber, gidNumber, plus sAMAccountName
// (= NAME), userAccountControl (512, or 514 when Disabled) and
// userPrincipalName (the first mail) unless Custom sets them. Group names are
// lower-cased. The service account is cn=svc,ou=svcaccts,dc=example,dc=com,
// password "svc-secret" ([ServiceDN], [ServicePassword]), with the search
// capability; it and its group are hidden from search results.
//
// # glauth's known bugs (the product must handle them, demodir does not)
//
//   - A Disabled user binds successfully: glauth only reports
//     accountStatus=inactive (and demodir adds userAccountControl=514).
//   - A user without a password hash (User.Password == "") binds with ANY
//     password, the empty one included. The product must reject empty
//     passwords before any LDAP traffic.
//   - No real paging (all results come in one page, without a paging cookie),
//     no >=, <= or extensible filters (the AD bit filter
//     (userAccountControl:1.2.840.113556.1.4.803:=2) drops the connection),
//     multi-part substring filters match wrongly, no operational attributes
//     (no entryUUID/objectGUID), and no size limits.
//   - Behaviors.LimitFailedBinds is kept off: it has a data race under -race.
//
// # Logs
//
// glauth's zerolog output goes to the debugLog writer passed to [Start], or
// nowhere. The glauth/ldap library prints a few error lines (for example for
// an unsupported filter) through the standard "log" package; demodir leaves
// the global logger alone.
package demodir
