package ldapauth

import (
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// MaxNameLength bounds a server's name.
const MaxNameLength = 200

// Validate checks a server's settings as Create and Update do, without
// storing anything. The first problem is returned as an *apperr.Error of kind
// KindInvalid naming the field and saying how to fix it; a script that does
// not compile also carries its Line and Column.
func Validate(srv Server) error {
	return normalize(&srv)
}

// normalize trims and defaults srv's fields and validates them.
func normalize(srv *Server) error {
	srv.Name = strings.TrimSpace(srv.Name)
	switch {
	case srv.Name == "":
		return apperr.Invalid("name", "is required: a label for this server, e.g. \"Corporate AD\"")
	case utf8.RuneCountInString(srv.Name) > MaxNameLength:
		return apperr.Invalid("name", "is longer than %d characters", MaxNameLength)
	}
	srv.URL = strings.TrimSpace(srv.URL)
	u, err := parseServerURL(srv.URL)
	if err != nil {
		return apperr.Invalid("url", "%v", err)
	}
	if srv.StartTLS && u.scheme != "ldap" {
		return apperr.Invalid("startTLS", "is only for ldap:// URLs: an ldaps:// connection is already encrypted; turn startTLS off or use ldap://")
	}
	if strings.TrimSpace(srv.CACertificate) == "" {
		srv.CACertificate = ""
	} else if _, err := certPool(srv.CACertificate); err != nil {
		return apperr.Invalid("caCertificate", "%s", strings.TrimPrefix(err.Error(), "caCertificate: "))
	}
	srv.BindDN = strings.TrimSpace(srv.BindDN)
	if !srv.BindAnonymously {
		if srv.BindDN == "" {
			return apperr.Invalid("bindDN", "is required unless bindAnonymously is on: the DN of the service account, e.g. cn=svc,ou=Service,dc=example,dc=com")
		}
		if _, err := ldap.ParseDN(srv.BindDN); err != nil {
			return apperr.Invalid("bindDN", "is not a DN (%v): write it as cn=svc,ou=Service,dc=example,dc=com", err)
		}
		if srv.BindPassword == "" {
			return apperr.Invalid("bindPassword", "is required unless bindAnonymously is on (an empty password would be an unauthenticated bind)")
		}
	} else if srv.BindDN != "" {
		if _, err := ldap.ParseDN(srv.BindDN); err != nil {
			return apperr.Invalid("bindDN", "is not a DN (%v): correct it or clear it", err)
		}
	}
	srv.SearchFilter = strings.TrimSpace(srv.SearchFilter)
	if _, err := usernameAttribute(srv.SearchFilter); err != nil {
		return apperr.Invalid("searchFilter", "%v", err)
	}
	for _, a := range []struct {
		field string
		dst   *string
		def   string
	}{
		{"emailAttribute", &srv.EmailAttribute, DefaultEmailAttribute},
		{"firstNameAttribute", &srv.FirstNameAttribute, DefaultFirstNameAttr},
		{"lastNameAttribute", &srv.LastNameAttribute, DefaultLastNameAttr},
	} {
		*a.dst = strings.TrimSpace(*a.dst)
		if *a.dst == "" {
			*a.dst = a.def
		}
		if err := checkAttributeName(*a.dst); err != nil {
			return apperr.Invalid(a.field, "%v", err)
		}
		if script.IsSensitive(*a.dst, srv.SensitiveAttributes) {
			return apperr.Invalid(a.field, "%s is a sensitive attribute, which is never read", *a.dst)
		}
	}
	if srv.TimeoutSeconds < 1 || srv.TimeoutSeconds > MaxTimeoutSeconds {
		return apperr.Invalid("timeoutSeconds", "must be from 1 to %d seconds, not %d (the default is %d)", MaxTimeoutSeconds, srv.TimeoutSeconds, DefaultTimeoutSeconds)
	}
	if srv.PageSize < 1 || srv.PageSize > MaxPageSize {
		return apperr.Invalid("pageSize", "must be from 1 to %d, not %d (the default is %d; Active Directory answers at most 1000 a page)", MaxPageSize, srv.PageSize, DefaultPageSize)
	}
	var sens []string
	seen := map[string]bool{}
	for _, a := range srv.SensitiveAttributes {
		a = strings.TrimSpace(a)
		if a == "" || seen[strings.ToLower(a)] {
			continue
		}
		if err := checkAttributeName(a); err != nil {
			return apperr.Invalid("sensitiveAttributes", "%v", err)
		}
		seen[strings.ToLower(a)] = true
		sens = append(sens, a)
	}
	if sens == nil {
		sens = []string{}
	}
	srv.SensitiveAttributes = sens
	if ua, _ := usernameAttribute(srv.SearchFilter); script.IsSensitive(ua, srv.SensitiveAttributes) {
		return apperr.Invalid("searchFilter", "the username attribute %s is a sensitive attribute, which is never read", ua)
	}
	if strings.TrimSpace(srv.ActiveScript) == "" {
		return apperr.Invalid("activeScript", "is required; the default is %s", DefaultActiveScript)
	}
	if strings.TrimSpace(srv.OrgNameScript) == "" {
		srv.OrgNameScript = ""
	}
	if strings.TrimSpace(srv.RoleNameScript) == "" {
		srv.RoleNameScript = ""
	}
	if _, err := script.CompileSet(srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript); err != nil {
		return err
	}
	return nil
}
