package script

// Benchmarks of one call, entry conversion and time-limit timer included.
// Figures on the 2-core build machine (AMD, Go 1.26, goja 2026-09),
// go test -run x -bench . -benchtime 2s ./ldapauth/script/, before and after
// the containment work (every built-in wrapped, guards, watchdog):
//
//	BenchmarkActiveUAC       912 -> 840 ns/op   616 -> 456 B/op   11 -> 9 allocs/op
//	BenchmarkRolesMemberOf  9350 -> 10800 ns/op (25 wrapped built-in calls a call)
//	BenchmarkOrgNameDN      1120 -> 1140 ns/op   856 -> 696 B/op
//	BenchmarkNewRuntime     about 2 ms, 1.1 MB (was goja.New, about 10 µs)

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

// BenchmarkNewRuntime is the cost of a Runner's first call of a Program:
// a goja runtime whose built-ins are all wrapped (sandbox.go).
func BenchmarkNewRuntime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newSandbox(DefaultMaxCallDepth); err != nil {
			b.Fatal(err)
		}
	}
}
