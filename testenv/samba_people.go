package testenv

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// The Samba AD domain: realm, names and accounts. Every instance has the same
// domain (it is copied from one provisioned template).
const (
	SambaRealm         = "ACME.TEST"
	SambaDomain        = "ACME" // NetBIOS domain name: ACME\alice binds too
	SambaDNSDomain     = "acme.test"
	SambaBaseDN        = "DC=acme,DC=test"
	SambaPeopleDN      = "OU=People," + SambaBaseDN
	SambaGroupsDN      = "OU=Groups," + SambaBaseDN
	SambaServiceOUDN   = "OU=Service Accounts," + SambaBaseDN
	SambaGeneratedDN   = "OU=Generated," + SambaPeopleDN
	SambaAdminDN       = "CN=Administrator,CN=Users," + SambaBaseDN
	SambaAdminUPN      = "Administrator@" + SambaDNSDomain
	SambaAdminPassword = "Admin-Passw0rd!"
	// The service account, an ordinary user: it reads the directory like any
	// authenticated user (no replication rights: DirSync needs the
	// administrator).
	SambaServiceSam      = "svc-authority"
	SambaServiceDN       = "CN=svc-authority," + SambaServiceOUDN
	SambaServiceUPN      = SambaServiceSam + "@" + SambaDNSDomain
	SambaServicePassword = "Svc-Passw0rd1"
	// SambaPassword is the password of every known person of [SambaPeople].
	SambaPassword = "Samba-Passw0rd1"
)

// SambaPerson is one user of the Samba directory. Its entry is
// CN=CN,OU,DC=acme,DC=test with objectClass user, sAMAccountName Sam and
// userPrincipalName Sam@acme.test; empty fields are left out.
type SambaPerson struct {
	Sam          string // sAMAccountName
	CN           string // default: GivenName SN
	OU           string // the container's DN without the base, e.g. "OU=Staff,OU=People"
	GivenName    string
	SN           string
	DisplayName  string // default: CN
	Mail         string
	Title        string
	Department   string
	EmployeeType string
	Manager      string // sAMAccountName of the manager (stored as a DN)
	City         string // l
	State        string // st
	Country      string // c (two letters)
	Password     string // "" = no password: cannot bind
	Groups       []string
	// The account's state; each gives its own bind diagnostic with the right
	// password (see [SambaPeople]).
	Disabled        bool // userAccountControl 514: "data 533"
	Locked          bool // lockoutTime set, locked forever: "data 775" for any password
	MustChange      bool // pwdLastSet 0: "data 773"
	AccountExpired  bool // accountExpires in the past: "data 701"
	PasswordExpired bool // password older than its maximum age: "data 532"
}

// UPN returns the person's userPrincipalName, Sam@acme.test.
func (p SambaPerson) UPN() string { return p.Sam + "@" + SambaDNSDomain }

// DN returns the person's distinguished name.
func (p SambaPerson) DN() string {
	return "CN=" + ldap.EscapeDN(p.cn()) + "," + p.OU + "," + SambaBaseDN
}

func (p SambaPerson) cn() string {
	if p.CN != "" {
		return p.CN
	}
	if n := strings.TrimSpace(p.GivenName + " " + p.SN); n != "" {
		return n
	}
	return p.Sam
}

// UserAccountControl returns the person's userAccountControl: 512, or 514
// when Disabled.
func (p SambaPerson) UserAccountControl() int {
	if p.Disabled {
		return UACDisabled
	}
	return UACNormal
}

// Clone returns a deep copy of p.
func (p SambaPerson) Clone() SambaPerson {
	p.Groups = append([]string(nil), p.Groups...)
	return p
}

// SambaGroup is a global security group CN=CN,OU=Groups,DC=acme,DC=test whose
// members are the people naming it in Groups and the groups listed here.
type SambaGroup struct {
	CN      string
	Members []string // CNs of member groups (nesting)
}

// DN returns the group's distinguished name.
func (g SambaGroup) DN() string { return SambaGroupDN(g.CN) }

// SambaGroupDN returns the DN of the group with this CN.
func SambaGroupDN(cn string) string { return "CN=" + ldap.EscapeDN(cn) + "," + SambaGroupsDN }

// SambaGroups are the groups of every instance, members before the groups
// containing them: Engineers is a member of R&D, a member of All Staff
// (nested three deep); Sales is also in All Staff.
var SambaGroups = []SambaGroup{
	{CN: "Engineers"},
	{CN: "Sales"},
	{CN: "Managers"},
	{CN: "Contractors"},
	{CN: "R&D", Members: []string{"Engineers"}},
	{CN: "All Staff", Members: []string{"R&D", "Sales"}},
}

// SambaPeople are the known people of every instance (password
// [SambaPassword]), one for each account state. Samba 4.17 answers a bind with
// the right password with: dave "data 533" (disabled), erin "data 775"
// (locked, with any password), frank "data 773" (must change), grace "data
// 701" (account expired), heidi "data 532" (password expired); with a wrong
// password every one but erin answers "data 52e".
func SambaPeople() []SambaPerson {
	staff, contractors, disabled := "OU=Staff,OU=People", "OU=Contractors,OU=People", "OU=Disabled,OU=People"
	p := func(sam, given, sn, ou string) SambaPerson {
		return SambaPerson{Sam: sam, GivenName: given, SN: sn, OU: ou, Mail: sam + "@" + SambaDNSDomain,
			Password: SambaPassword, City: "Springfield", State: "IL", Country: "US", EmployeeType: "Employee"}
	}
	alice := p("alice", "Alice", "Anderson", staff)
	alice.Title, alice.Department, alice.Groups = "Engineer", "Engineering", []string{"Engineers"}
	bob := p("bob", "Bob", "Brown", staff)
	bob.Title, bob.Department, bob.Manager, bob.Groups = "Sales Manager", "Sales", "alice", []string{"Sales", "Managers"}
	carol := p("carol", "Carol", "Clark", contractors)
	carol.Title, carol.Department, carol.EmployeeType, carol.Groups = "Consultant", "Engineering", "Contractor", []string{"Contractors"}
	carol.City, carol.State, carol.Country = "Toronto", "ON", "CA"
	dave := p("dave", "Dave", "Davis", disabled)
	dave.Disabled, dave.Department = true, "Sales"
	erin := p("erin", "Erin", "Evans", staff)
	erin.Locked, erin.Department, erin.Groups = true, "Engineering", []string{"Engineers"}
	frank := p("frank", "Frank", "Fischer", staff)
	frank.MustChange, frank.Department = true, "Sales"
	grace := p("grace", "Grace", "Green", staff)
	grace.AccountExpired, grace.Department = true, "Engineering"
	heidi := p("heidi", "Heidi", "Hill", staff)
	heidi.PasswordExpired, heidi.Department = true, "Engineering"
	ivan := p("ivan", "Ivan", "Ivanov", staff)
	ivan.CN, ivan.DisplayName, ivan.Department = "Ivanov, Ivan", "Ivan Ivanov", "Sales" // a comma in the DN
	zoe := p("zoe", "Zoë", "Żak", staff)
	zoe.Department, zoe.Manager = "Engineering", "alice" // non-ASCII names
	return []SambaPerson{alice, bob, carol, dave, erin, frank, grace, heidi, ivan, zoe}
}

// SambaGeneratedSam returns the sAMAccountName of the i-th generated person
// (1-based): user00001, user00002, ...
func SambaGeneratedSam(i int) string { return fmt.Sprintf("user%05d", i) }

// SambaGeneratedDisabled reports whether the i-th generated person is disabled
// (every tenth: 10, 20, ...).
func SambaGeneratedDisabled(i int) bool { return i%10 == 0 }

// sambaGenerated returns the i-th generated person: OU=Generated,OU=People,
// no password (they cannot bind), every tenth disabled.
func sambaGenerated(i int) SambaPerson {
	sam := SambaGeneratedSam(i)
	departments := []string{"Engineering", "Sales", "Support", "Finance"}
	return SambaPerson{Sam: sam, GivenName: "User", SN: strconv.Itoa(i), OU: "OU=Generated,OU=People",
		Mail: sam + "@" + SambaDNSDomain, Department: departments[i%len(departments)], EmployeeType: "Employee",
		Disabled: SambaGeneratedDisabled(i)}
}

// unicodePwd encodes a password for AD's unicodePwd: quoted, UTF-16LE.
func unicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return string(b)
}

// sambaPersonAttrs returns the attributes of p's entry (without manager,
// which needs the manager's entry first).
func sambaPersonAttrs(p SambaPerson) []attr {
	display := p.DisplayName
	if display == "" {
		display = p.cn()
	}
	a := []attr{
		{"objectClass", []string{"user"}},
		{"sAMAccountName", []string{p.Sam}},
		{"userPrincipalName", []string{p.UPN()}},
		{"displayName", []string{display}},
		{"userAccountControl", []string{strconv.Itoa(p.UserAccountControl())}},
	}
	for _, kv := range [][2]string{{"givenName", p.GivenName}, {"sn", p.SN}, {"mail", p.Mail}, {"title", p.Title},
		{"department", p.Department}, {"employeeType", p.EmployeeType}, {"l", p.City}, {"st", p.State}, {"c", p.Country}} {
		if kv[1] != "" {
			a = append(a, attr{kv[0], []string{kv[1]}})
		}
	}
	if p.Password != "" {
		a = append(a, attr{"unicodePwd", []string{unicodePwd(p.Password)}})
	}
	return a
}

// ntTime converts t to AD's 100-ns intervals since 1601.
func ntTime(t time.Time) int64 {
	return t.Unix()*10_000_000 + int64(t.Nanosecond()/100) + 116444736000000000
}

// writeSambaLDIF writes the population, for ldbmodify on an offline sam.ldb:
// the OUs, the service account, the known people, generated people, the
// groups, then the modifications that need the entries to exist (manager,
// lockout, must-change, account expiry) and the password policies.
func writeSambaLDIF(w io.Writer, generated int) error {
	bw := bufio.NewWriter(w)
	base := func(rdn string) string { return rdn + "," + SambaBaseDN }
	for _, ou := range []string{"OU=People", "OU=Staff,OU=People", "OU=Contractors,OU=People", "OU=Disabled,OU=People",
		"OU=Generated,OU=People", "OU=Groups", "OU=Service Accounts"} {
		name := strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=")
		writeEntry(bw, base(ou), []attr{{"objectClass", []string{"organizationalUnit"}}, {"ou", []string{name}}})
	}
	// The domain's policy: passwords never expire (the template outlives the
	// default 42 days); two fine-grained policies for erin and heidi below.
	writeModify(bw, SambaBaseDN, "replace", "maxPwdAge", "-9223372036854775808")
	writeEntry(bw, SambaServiceDN, []attr{
		{"objectClass", []string{"user"}}, {"sAMAccountName", []string{SambaServiceSam}},
		{"userPrincipalName", []string{SambaServiceUPN}}, {"userAccountControl", []string{"66048"}},
		{"unicodePwd", []string{unicodePwd(SambaServicePassword)}}})
	known := SambaPeople()
	members := map[string][]string{}
	for _, p := range known {
		writeEntry(bw, p.DN(), sambaPersonAttrs(p))
		for _, g := range p.Groups {
			members[g] = append(members[g], p.DN())
		}
	}
	for i := 1; i <= generated; i++ {
		p := sambaGenerated(i)
		writeEntry(bw, p.DN(), sambaPersonAttrs(p))
	}
	for _, g := range SambaGroups {
		a := []attr{{"objectClass", []string{"group"}}, {"sAMAccountName", []string{g.CN}}, {"description", []string{"testenv group " + g.CN}}}
		m := members[g.CN]
		for _, sub := range g.Members {
			m = append(m, SambaGroupDN(sub))
		}
		if len(m) > 0 {
			a = append(a, attr{"member", m})
		}
		writeEntry(bw, g.DN(), a)
	}
	byName := map[string]SambaPerson{}
	for _, p := range known {
		byName[p.Sam] = p
	}
	now := time.Now()
	var locked, expired []string
	for _, p := range known {
		if p.Manager != "" {
			writeModify(bw, p.DN(), "replace", "manager", byName[p.Manager].DN())
		}
		if p.MustChange {
			writeModify(bw, p.DN(), "replace", "pwdLastSet", "0")
		}
		if p.AccountExpired {
			writeModify(bw, p.DN(), "replace", "accountExpires", strconv.FormatInt(ntTime(now.AddDate(0, 0, -30)), 10))
		}
		if p.Locked {
			// After the userAccountControl (setting that clears lockoutTime).
			writeModify(bw, p.DN(), "replace", "lockoutTime", strconv.FormatInt(ntTime(now), 10))
			locked = append(locked, p.DN())
		}
		if p.PasswordExpired {
			expired = append(expired, p.DN())
		}
	}
	// Samba counts lockoutTime only with a lockout threshold; this policy
	// (threshold 5, lockout 10 years) applies to the locked people and to
	// those [SambaAD.Lock] locks later. Password ages under a day count as
	// "never", so heidi's policy says 2 days, and her pwdLastSet is moved
	// 100 days back afterwards (sambaBackdateLDIF).
	tenYears := strconv.FormatInt(-10*365*86400*10_000_000, 10)
	writeEntry(bw, sambaLockPSO, psoAttrs(1, "5", tenYears, "-9223372036854775808", locked))
	writeEntry(bw, sambaExpirePSO, psoAttrs(2, "0", tenYears, strconv.FormatInt(-2*86400*10_000_000, 10), expired))
	return bw.Flush()
}

// The password settings objects of the template.
const (
	sambaLockPSO   = "CN=testenv-lockout,CN=Password Settings Container,CN=System," + SambaBaseDN
	sambaExpirePSO = "CN=testenv-expired,CN=Password Settings Container,CN=System," + SambaBaseDN
)

func psoAttrs(precedence int, threshold, lockout, maxAge string, appliesTo []string) []attr {
	a := []attr{
		{"objectClass", []string{"msDS-PasswordSettings"}},
		{"msDS-PasswordSettingsPrecedence", []string{strconv.Itoa(precedence)}},
		{"msDS-PasswordReversibleEncryptionEnabled", []string{"FALSE"}},
		{"msDS-PasswordHistoryLength", []string{"0"}},
		{"msDS-PasswordComplexityEnabled", []string{"FALSE"}},
		{"msDS-MinimumPasswordLength", []string{"0"}},
		{"msDS-MinimumPasswordAge", []string{"0"}},
		{"msDS-MaximumPasswordAge", []string{maxAge}},
		{"msDS-LockoutThreshold", []string{threshold}},
		{"msDS-LockoutObservationWindow", []string{lockout}},
		{"msDS-LockoutDuration", []string{lockout}},
	}
	if len(appliesTo) > 0 {
		a = append(a, attr{"msDS-PSOAppliesTo", appliesTo})
	}
	return a
}

// writeSambaBackdateLDIF sets the password of the password-expired people
// again with a pwdLastSet 100 days ago; ldbmodify must send Samba's
// "bypass last set" control (sambaBypassLastSetOID) for it.
func writeSambaBackdateLDIF(w io.Writer) error {
	bw := bufio.NewWriter(w)
	past := strconv.FormatInt(ntTime(time.Now().AddDate(0, 0, -100)), 10)
	for _, p := range SambaPeople() {
		if !p.PasswordExpired {
			continue
		}
		writeLine(bw, "dn", p.DN())
		bw.WriteString("changetype: modify\nreplace: unicodePwd\n")
		writeLine(bw, "unicodePwd", unicodePwd(p.Password))
		bw.WriteString("-\nreplace: pwdLastSet\n")
		writeLine(bw, "pwdLastSet", past)
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// sambaBypassLastSetOID is DSDB_CONTROL_PASSWORD_BYPASS_LAST_SET_OID: with it
// a local (ldb) modification may set pwdLastSet to any time.
const sambaBypassLastSetOID = "1.3.6.1.4.1.7165.4.3.20"

// writeModify writes one LDIF modification of a single value.
func writeModify(w *bufio.Writer, dn, op, name, value string) {
	writeLine(w, "dn", dn)
	w.WriteString("changetype: modify\n" + op + ": " + name + "\n")
	writeLine(w, name, value)
	w.WriteString("\n")
}
