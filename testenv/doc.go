// Package testenv starts the real servers that the other packages' tests
// talk to: no mocks.
//
//   - An in-process glauth LDAP server ([StartGlauth], [StartGlauthServer],
//     [DemoDirectory]): quick, small directories, no external binary. It is
//     package [demodir] (which `authority serve --demo` uses directly, so
//     that the production binary links no test code) wrapped for tests.
//   - Debian's OpenLDAP slapd with an AD-like schema ([StartSlapd],
//     [StartSlapdServer], [GeneratePeople], [WriteLDIF]): real paging, size and
//     time limits, the AD bit filter, TLS/StartTLS, scale (100,000 people),
//     RFC 4533 content synchronization (the syncprov overlay with a session
//     log, on by default: [WithoutSyncprov], [WithUnlimitedServiceAccount]).
//   - A real Active Directory: a Samba AD domain controller ([StartSambaAD],
//     [StartSambaADServer], [SambaAD]): objectGUID, userAccountControl,
//     computed memberOf, nested groups (LDAP_MATCHING_RULE_IN_CHAIN), UPN
//     binds, AD's bind diagnostics ("data 52e", 533, 701, 532, 773, 775),
//     uSNChanged/highestCommittedUSN, the DirSync control, continuation
//     references. The domain is provisioned once per machine into a cached
//     template ([SambaCacheDir]); each instance is a copy of it on its own
//     loopback address 127.0.0.x, ready in about a second. It needs root.
//   - An SMTP sink ([StartSMTP]) built on github.com/emersion/go-smtp.
//
// Every server listens on a random loopback port (Samba: on ports 389 and
// 636 of its own loopback address) and is stopped by t.Cleanup (or by the
// stop function of the ...Server variants).
//
// # Directory layout (both LDAP servers)
//
// The base DN is always [BaseDN] ("dc=example,dc=com").
//
// glauth: see package [demodir] for the layout (users are
// cn=NAME,ou=PRIMARYGROUP,ou=users,dc=example,dc=com, with the AD-style
// attributes sAMAccountName, userAccountControl and userPrincipalName, so
// the filter (&(objectClass=user)(sAMAccountName=%u)) works on both
// servers). The service account is cn=svc,ou=svcaccts,dc=example,dc=com,
// password "svc-secret" ([GlauthServiceDN], [GlauthServicePassword]); it and
// its group are hidden from search results.
//
// slapd: see [StartSlapd]. People are cn=CN,ou=OU,dc=example,dc=com with
// objectClass inetOrgPerson plus the auxiliary class "user" (sAMAccountName,
// userAccountControl, memberOf, userPrincipalName, objectGUID); groups are
// groupOfNames plus the auxiliary class "group" under ou=Groups. The service
// account is cn=svc,dc=example,dc=com / "svc-secret" ([SlapdServiceDN],
// [SlapdServicePassword]); the rootdn is cn=admin,dc=example,dc=com /
// "admin-secret" ([SlapdRootDN], [SlapdRootPassword]).
//
// # glauth's known bugs
//
// glauth lets a Disabled user bind, and a user without a password hash
// (GlauthUser.Password == "") bind with ANY password, the empty one included;
// it has no real paging, no >=, <= or extensible filters, and no operational
// attributes. The product must handle these; see package [demodir] for the
// full list.
//
// # Logs
//
// glauth's zerolog output is discarded unless the environment variable
// TESTENV_DEBUG is set (then it goes to stderr, slapd runs with "-d stats"
// and samba with "--debuglevel=3", their output copied to stderr). The
// glauth/ldap library prints a few error lines (for example for an
// unsupported filter) through the standard "log" package; testenv leaves
// the global logger alone.
package testenv
