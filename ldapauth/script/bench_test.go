package script

// Benchmarks of one call, entry conversion and time-limit timer included.
// Figures on the 2-core build machine (AMD, Go 1.26, goja 2026-09),
// go test -run XXX -bench . -benchtime=3s -cpu 1 ./ldapauth/script/:
//
//	BenchmarkActiveUAC      1005 ns/op   616 B/op   11 allocs/op  (~1,000,000 calls/s on one core)
//	BenchmarkRolesMemberOf 10574 ns/op  4088 B/op  109 allocs/op  (~95,000 calls/s; 5 memberOf values,
//	                                                               ~90% of the time is goja running the loop)
//	BenchmarkOrgNameDN      1246 ns/op   856 B/op   12 allocs/op  (~800,000 calls/s)

import (
	"testing"
	"time"
)

func benchAttrs() map[string][]string {
	return map[string][]string{
		"cn":                 {"John Smith"},
		"sAMAccountName":     {"jsmith"},
		"mail":               {"jsmith@example.com"},
		"givenName":          {"John"},
		"sn":                 {"Smith"},
		"userAccountControl": {"512"},
		"employeeType":       {"staff"},
		"objectClass":        {"top", "person", "organizationalPerson", "user"},
		"memberOf": {
			"CN=Staff,OU=Groups,DC=example,DC=com",
			"CN=VPN Users,OU=Groups,DC=example,DC=com",
			"CN=Support,OU=Groups,DC=example,DC=com",
			"CN=Managers,OU=Groups,DC=example,DC=com",
			"CN=Printers,OU=Groups,DC=example,DC=com",
		},
	}
}

const benchDN = "CN=John Smith,OU=Staff,OU=People,DC=example,DC=com"

func mustCompile(b testing.TB, field, src string) *Program {
	b.Helper()
	p, err := Compile(field, src)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkActiveUAC(b *testing.B) {
	p := mustCompile(b, FieldActive, uacScript)
	r := NewRunner(time.Second)
	attrs := benchAttrs()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := r.Active(p, benchDN, attrs)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRolesMemberOf(b *testing.B) {
	p := mustCompile(b, FieldRoleName, roleScriptOrg)
	r := NewRunner(time.Second)
	attrs := benchAttrs()
	b.ReportAllocs()
	for b.Loop() {
		roles, err := r.Roles(p, benchDN, attrs)
		if err != nil || len(roles) == 0 {
			b.Fatal(roles, err)
		}
	}
}

func BenchmarkOrgNameDN(b *testing.B) {
	p := mustCompile(b, FieldOrgName, orgScript)
	r := NewRunner(time.Second)
	attrs := benchAttrs()
	b.ReportAllocs()
	for b.Loop() {
		org, err := r.OrgName(p, benchDN, attrs)
		if err != nil || org != "Staff" {
			b.Fatal(org, err)
		}
	}
}
