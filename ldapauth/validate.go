package ldapauth

import (
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// Length limits of a server's text fields and of the admin tools' inputs
// (docs/rules.md section 10): characters, or bytes where named so. A script's
// limit is script.MaxSourceLen.
const (
	MaxNameLength          = 200      // name
	MaxURLLength           = 2048     // url
	MaxCACertificateBytes  = 64 << 10 // caCertificate (PEM)
	MaxDNLength            = 1024     // bindDN, a DN to try a script on
	MaxBindPasswordBytes   = 1024     // bindPassword
	MaxSearchFilterLength  = 4096     // searchFilter
	MaxAttributeNameLength = 256      // each mapped or sensitive attribute
	MaxSensitiveAttributes = 100      // entries of sensitiveAttributes
	MaxSearchLength        = 256      // the preview's search box
	MaxUsernameLength      = 256      // a username to try a script on (as users.MaxUsernameLength)
)

// Validate checks a server's settings as Create and Update do, without
// storing anything. The first problem is returned as an *apperr.Error of kind
// KindInvalid naming the field and saying how to fix it; a script that does
// not compile also carries its Line and Column.
func Validate(srv Server) error {
	return normalize(&srv)
}

// checkLengths refuses a text field of srv over its limit, naming the field,
// before anything parses it.
func checkLengths(srv *Server) error {
	for _, f := range []struct {
		field, value string
		max          int
	}{
		{"name", srv.Name, MaxNameLength}, {"url", srv.URL, MaxURLLength}, {"bindDN", srv.BindDN, MaxDNLength},
		{"emailAttribute", srv.EmailAttribute, MaxAttributeNameLength}, {"firstNameAttribute", srv.FirstNameAttribute, MaxAttributeNameLength},
		{"lastNameAttribute", srv.LastNameAttribute, MaxAttributeNameLength},
	} {
		if err := apperr.CheckLine(f.field, f.value, f.max); err != nil {
			return err
		}
	}
	if err := srv.ProfileMapping.checkLengths(); err != nil {
		return err
	}
	if err := apperr.CheckText("searchFilter", srv.SearchFilter, MaxSearchFilterLength); err != nil {
		return err
	}
	if n := len(srv.CACertificate); n > MaxCACertificateBytes {
		return apperr.Invalid("caCertificate", "is too long: %d bytes, at most %d (64 KiB)", n, MaxCACertificateBytes)
	}
	if n := len(srv.BindPassword); n > MaxBindPasswordBytes {
		return apperr.Invalid("bindPassword", "is too long: at most %d bytes", MaxBindPasswordBytes)
	}
	if n := len(srv.SensitiveAttributes); n > MaxSensitiveAttributes {
		return apperr.Invalid("sensitiveAttributes", "lists %d attributes, at most %d", n, MaxSensitiveAttributes)
	}
	for _, a := range srv.SensitiveAttributes {
		if err := apperr.CheckLine("sensitiveAttributes", a, MaxAttributeNameLength); err != nil {
			return err
		}
	}
	return nil
}

// normalize trims and defaults srv's fields and validates them.
func normalize(srv *Server) error {
	srv.Name = strings.TrimSpace(srv.Name)
	if srv.Name == "" {
		return apperr.Invalid("name", "is required: a label for this server, e.g. \"Corporate AD\"")
	}
	if err := checkLengths(srv); err != nil {
		return err
	}
	srv.ChangeTracking = strings.ToLower(strings.TrimSpace(srv.ChangeTracking))
	switch srv.ChangeTracking {
	case "":
		srv.ChangeTracking = TrackingAuto
	case TrackingAuto, TrackingSyncrepl, TrackingDirSync, TrackingUSN, TrackingTimestamp, TrackingNone:
	default:
		return apperr.Invalid("changeTracking", "must be auto, syncrepl, dirsync, usn, timestamp or none")
	}
	id, err := normalizeStableID(srv.StableIDAttribute)
	if err != nil {
		return err
	}
	srv.StableIDAttribute = id
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
		if err := checkBindName(srv.BindDN); err != nil {
			return apperr.Invalid("bindDN", "is not a DN (%v): write it as cn=svc,ou=Service,dc=example,dc=com (Active Directory also takes svc@example.com or EXAMPLE\\svc)", err)
		}
		if srv.BindPassword == "" {
			return apperr.Invalid("bindPassword", "is required unless bindAnonymously is on (an empty password would be an unauthenticated bind)")
		}
	} else if srv.BindDN != "" {
		if err := checkBindName(srv.BindDN); err != nil {
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
	if err := srv.ProfileMapping.normalize(srv.SensitiveAttributes); err != nil {
		return err
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

// checkBindName accepts what a directory takes as the name of a simple bind:
// a DN, or, for Active Directory, a userPrincipalName (svc@example.com) or a
// down-level logon name (EXAMPLE\svc). It returns the DN parser's error
// for anything else.
func checkBindName(name string) error {
	if !strings.ContainsAny(name, "=,") {
		if user, domain, ok := strings.Cut(name, "@"); ok && user != "" && domain != "" &&
			!strings.ContainsAny(name, `\ `) && !strings.Contains(domain, "@") {
			return nil
		}
		if domain, user, ok := strings.Cut(name, `\`); ok && domain != "" && strings.TrimSpace(user) != "" &&
			!strings.ContainsAny(domain, "@ ") && !strings.ContainsAny(user, `\@`) {
			return nil
		}
	}
	_, err := ldap.ParseDN(name)
	return err
}
