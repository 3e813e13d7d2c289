package ldapauth

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
)

func TestUsernameAttribute(t *testing.T) {
	for filter, want := range map[string]string{
		"(&(objectClass=user)(sAMAccountName=%u))": "sAMAccountName",
		"(uid=%u)": "uid",
		"(&(objectClass=person)(|(memberOf=cn=A,dc=x)(memberOf=cn=B,dc=x))(mail=%u))":                  "mail",
		"(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(userPrincipalName=%u))": "userPrincipalName",
		"(uid=%u*)":                  "",
		"(uid=x%u)":                  "",
		"(uid~=%u)":                  "",
		"(uid>=%u)":                  "",
		"(|(uid=%u)(cn=%u))":         "",
		"(uid=alice)":                "",
		"uid=%u":                     "",
		"(&(uid=%u)":                 "",
		"(cn:dn:=%u)":                "",
		"(&(objectClass=*)(uid=%u))": "uid",
	} {
		srv := Server{SearchFilter: filter}
		if got := srv.UsernameAttribute(); got != want {
			t.Errorf("UsernameAttribute(%s) = %q, want %q", filter, got, want)
		}
	}
	srv := Server{SearchFilter: "(&(objectClass=user)(sAMAccountName=%u))"}
	if got := srv.UserFilter(`a*b(c)\d`); got != `(&(objectClass=user)(sAMAccountName=a\2ab\28c\29\5cd))` {
		t.Errorf("UserFilter = %s", got)
	}
	// A username that contains %u is inserted once, not expanded.
	if got := srv.UserFilter("%u"); got != "(&(objectClass=user)(sAMAccountName=%u))" {
		t.Errorf("UserFilter(%%u) = %s", got)
	}
	if got := srv.SyncFilter(); got != "(&(objectClass=user)(sAMAccountName=*))" {
		t.Errorf("SyncFilter = %s", got)
	}
	if got := srv.substringFilter("a*"); got != `(&(objectClass=user)(sAMAccountName=*a\2a*))` {
		t.Errorf("substringFilter = %s", got)
	}
}

func TestParseServerURL(t *testing.T) {
	for raw, want := range map[string]string{
		"ldap://dc1.example.com/dc=example,dc=com":                   "dc1.example.com:389 dc=example,dc=com",
		"ldaps://dc1.example.com/dc=example,dc=com":                  "dc1.example.com:636 dc=example,dc=com",
		"LDAP://dc1:3268/ou=IT%20Staff,dc=example,dc=com":            "dc1:3268 ou=IT Staff,dc=example,dc=com",
		"ldap://[::1]:1389/dc=example,dc=com":                        "[::1]:1389 dc=example,dc=com",
		"ldap://h/cn=Smith%5C%2C%20John,ou=People,dc=example,dc=com": `h:389 cn=Smith\, John,ou=People,dc=example,dc=com`,
	} {
		u, err := parseServerURL(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := u.addr() + " " + u.baseDN; got != want {
			t.Errorf("%s: %q, want %q", raw, got, want)
		}
	}
	for _, raw := range []string{"", "ldap://", "ldap:///dc=x", "http://h/dc=x", "ldap://h", "ldap://h/", "ldap://h:0/dc=x",
		"ldap://h:/dc=x", "ldap://u:p@h/dc=x", "ldap://h/dc=x?cn", "ldap://h/dc=x#f", "ldap://h/not-a-dn", "ldapi:///dc=x"} {
		if _, err := parseServerURL(raw); err == nil {
			t.Errorf("%q parsed", raw)
		}
	}
}

func TestValidateMessagesNameTheField(t *testing.T) {
	good := Server{Name: "AD", URL: "ldaps://dc1.example.com/dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "pw",
		SearchFilter: "(sAMAccountName=%u)", TimeoutSeconds: 30, PageSize: 500, ActiveScript: DefaultActiveScript}
	if err := Validate(good); err != nil {
		t.Fatalf("good server: %v", err)
	}
	for field, change := range map[string]func(*Server){
		"name":                func(s *Server) { s.Name = " " },
		"url":                 func(s *Server) { s.URL = "ldaps://dc1.example.com" },
		"startTLS":            func(s *Server) { s.StartTLS = true },
		"caCertificate":       func(s *Server) { s.CACertificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
		"bindDN":              func(s *Server) { s.BindDN = "svc" },
		"bindPassword":        func(s *Server) { s.BindPassword = "" },
		"searchFilter":        func(s *Server) { s.SearchFilter = "(&(objectClass=user)(sAMAccountName=%u)" },
		"emailAttribute":      func(s *Server) { s.EmailAttribute = "mail address" },
		"firstNameAttribute":  func(s *Server) { s.FirstNameAttribute = "1abc" },
		"lastNameAttribute":   func(s *Server) { s.LastNameAttribute = "userPassword" },
		"timeoutSeconds":      func(s *Server) { s.TimeoutSeconds = 0 },
		"pageSize":            func(s *Server) { s.PageSize = 10001 },
		"activeScript":        func(s *Server) { s.ActiveScript = "return true;" },
		"orgNameScript":       func(s *Server) { s.OrgNameScript = "function(entry) {" },
		"roleNameScript":      func(s *Server) { s.RoleNameScript = "function(e) { return [ }" },
		"sensitiveAttributes": func(s *Server) { s.SensitiveAttributes = []string{"a b"} },
	} {
		s := good
		change(&s)
		err := Validate(s)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Field != field || !strings.HasPrefix(err.Error(), field+": ") {
			t.Errorf("%s: %v", field, err)
		}
		if strings.HasSuffix(field, "Script") && (e == nil || e.Line == 0 || e.Column == 0) {
			t.Errorf("%s: no line and column: %+v", field, e)
		}
	}
	anon := good
	anon.BindAnonymously, anon.BindDN, anon.BindPassword = true, "", ""
	if err := Validate(anon); err != nil {
		t.Errorf("anonymous: %v", err)
	}
}

func BenchmarkPerson(b *testing.B) {
	srv := Server{SearchFilter: "(&(objectClass=user)(sAMAccountName=%u))"}
	e := &Entry{DN: "cn=a,dc=x", Attrs: map[string][]string{"sAMAccountName": {"a"}, "mail": {"a@x"}, "givenName": {"A"}, "sn": {"B"}, "objectGUID": {"x"}}}
	for i := 0; i < b.N; i++ {
		srv.Person(e)
	}
}
