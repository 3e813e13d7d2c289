// Package testenv starts the real servers that the other packages' tests (and
// `authority serve --demo`) talk to: no mocks.
//
//   - An in-process glauth LDAP server ([StartGlauth], [StartGlauthServer],
//     [DemoDirectory]): quick, small directories, no external binary.
//   - Debian's OpenLDAP slapd with an AD-like schema ([StartSlapd],
//     [StartSlapdServer], [GeneratePeople], [WriteLDIF]): real paging, size and
//     time limits, the AD bit filter, TLS/StartTLS, scale (100,000 people).
//   - An SMTP sink ([StartSMTP]) built on github.com/emersion/go-smtp.
//
// Every server listens on a random loopback port and is stopped by t.Cleanup
// (or by the stop function of the ...Server variants).
//
// # Directory layout (both LDAP servers)
//
// The base DN is always [BaseDN] ("dc=example,dc=com").
//
// glauth: a search from the base DN returns users as
// cn=NAME,ou=PRIMARYGROUP,ou=users,dc=example,dc=com (binding also works
// without the ",ou=users" part) with objectClass posixAccount,
// shadowAccount, person, organizationalPerson, inetOrgPerson and user (so
// the AD-style filter (&(objectClass=user)(sAMAccountName=%u)) works on
// both servers), attributes cn and uid (both NAME), givenName, sn,
// mail, memberOf (ou=GROUP,ou=groups,dc=example,dc=com — "ou=", glauth's
// fixed layout), accountStatus (active/inactive),
// uidNumber, gidNumber, plus sAMAccountName (= NAME), userAccountControl (512,
// or 514 when Disabled) and userPrincipalName (the first mail) unless Custom
// sets them. Group names are lower-cased. The service account is
// cn=svc,ou=svcaccts,dc=example,dc=com, password "svc-secret", with the search
// capability; it and its group are hidden from search results.
//
// slapd: see [StartSlapd]. People are cn=CN,ou=OU,dc=example,dc=com with
// objectClass inetOrgPerson plus the auxiliary class "user" (sAMAccountName,
// userAccountControl, memberOf, userPrincipalName, objectGUID); groups are
// groupOfNames plus the auxiliary class "group" under ou=Groups. The service
// account is cn=svc,dc=example,dc=com / "svc-secret" ([SlapdServiceDN],
// [SlapdServicePassword]); the rootdn is cn=admin,dc=example,dc=com /
// "admin-secret" ([SlapdRootDN], [SlapdRootPassword]).
//
// # glauth's known bugs (the product must handle them, testenv does not)
//
//   - A Disabled user binds successfully: glauth only reports
//     accountStatus=inactive (and testenv adds userAccountControl=514).
//   - A user without a password hash (GlauthUser.Password == "") binds with
//     ANY password, the empty one included. The product must reject empty
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
// glauth's zerolog output is discarded unless the environment variable
// TESTENV_DEBUG is set (then it goes to stderr, and slapd runs with
// "-d stats" with its output copied to stderr). The glauth/ldap library
// prints a few error lines (for example for an unsupported filter) through
// the standard "log" package; testenv leaves the global logger alone.
package testenv
