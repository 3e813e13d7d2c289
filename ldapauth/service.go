package ldapauth

// Service is the LDAP server list and the directory operations on it.
// (Placeholder: the LDAP engineer replaces this file.)
type Service struct{}
