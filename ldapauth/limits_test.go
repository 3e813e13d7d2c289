package ldapauth

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// Each text field of a server is refused just over its limit, naming the
// field, and accepted at it (docs/rules.md section 10).
func TestFieldLengthLimits(t *testing.T) {
	valid := func() Server {
		return Server{Name: "Corp", URL: "ldap://dc.example.com/dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "pw",
			SearchFilter: "(uid=%u)", TimeoutSeconds: 30, PageSize: 500, ActiveScript: DefaultActiveScript}
	}
	fn := "function(entry) { return true; } //"
	for _, c := range []struct {
		field   string
		set     func(*Server, string)
		fill    func(n int) string // a value of n characters (or bytes)
		max     int
		atLimit bool // the value at the limit is otherwise valid
	}{
		{"name", func(s *Server, v string) { s.Name = v }, func(n int) string { return strings.Repeat("ä", n) }, MaxNameLength, true},
		{"url", func(s *Server, v string) { s.URL = v }, func(n int) string {
			return "ldap://dc.example.com/dc=" + strings.Repeat("a", n-len("ldap://dc.example.com/dc="))
		}, MaxURLLength, true},
		{"bindDN", func(s *Server, v string) { s.BindDN = v }, func(n int) string { return "cn=" + strings.Repeat("s", n-3) }, MaxDNLength, true},
		{"bindPassword", func(s *Server, v string) { s.BindPassword = v }, func(n int) string { return strings.Repeat("p", n) }, MaxBindPasswordBytes, true},
		{"searchFilter", func(s *Server, v string) { s.SearchFilter = v }, func(n int) string {
			return "(&(cn=" + strings.Repeat("c", n-len("(&(cn=)(uid=%u))")) + ")(uid=%u))"
		}, MaxSearchFilterLength, true},
		{"emailAttribute", func(s *Server, v string) { s.EmailAttribute = v }, func(n int) string { return strings.Repeat("m", n) }, MaxAttributeNameLength, true},
		{"firstNameAttribute", func(s *Server, v string) { s.FirstNameAttribute = v }, func(n int) string { return strings.Repeat("g", n) }, MaxAttributeNameLength, true},
		{"lastNameAttribute", func(s *Server, v string) { s.LastNameAttribute = v }, func(n int) string { return strings.Repeat("s", n) }, MaxAttributeNameLength, true},
		{"sensitiveAttributes", func(s *Server, v string) { s.SensitiveAttributes = []string{v} }, func(n int) string { return strings.Repeat("x", n) }, MaxAttributeNameLength, true},
		{"caCertificate", func(s *Server, v string) { s.CACertificate = v }, func(n int) string { return strings.Repeat("c", n) }, MaxCACertificateBytes, false},
		{"activeScript", func(s *Server, v string) { s.ActiveScript = v }, func(n int) string { return fn + strings.Repeat("a", n-len(fn)) }, script.MaxSourceLen, true},
		{"orgNameScript", func(s *Server, v string) { s.OrgNameScript = v }, func(n int) string { return fn + strings.Repeat("o", n-len(fn)) }, script.MaxSourceLen, true},
		{"roleNameScript", func(s *Server, v string) { s.RoleNameScript = v }, func(n int) string { return fn + strings.Repeat("r", n-len(fn)) }, script.MaxSourceLen, true},
	} {
		srv := valid()
		c.set(&srv, c.fill(c.max+1))
		if e, ok := apperr.As(Validate(srv)); !ok || e.Field != c.field || !strings.Contains(e.Message, "too long") {
			t.Errorf("%s of %d: %v, want too long", c.field, c.max+1, Validate(srv))
		}
		srv = valid()
		c.set(&srv, c.fill(c.max))
		err := Validate(srv)
		if c.atLimit && err != nil {
			t.Errorf("%s of %d: %v, want accepted", c.field, c.max, err)
		} else if e, ok := apperr.As(err); ok && strings.Contains(e.Message, "too long") {
			t.Errorf("%s of %d: %v, want it not too long", c.field, c.max, err)
		}
	}
	srv := valid()
	srv.SensitiveAttributes = strings.Split(strings.Repeat("a,", MaxSensitiveAttributes)+"b", ",")
	if e, ok := apperr.As(Validate(srv)); !ok || e.Field != "sensitiveAttributes" {
		t.Errorf("%d sensitive attributes: %v, want refused", len(srv.SensitiveAttributes), Validate(srv))
	}
}
