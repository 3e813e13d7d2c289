package testenv

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// userAccountControl values (AD): 512 is a normal account, bit 2 means disabled.
const (
	UACNormal            = 512
	UACDisabled          = 514   // 512 | ACCOUNTDISABLE
	UACNormalNoExpire    = 66048 // 512 | DONT_EXPIRE_PASSWORD
	UACDisabledNoExpire  = 66050 // 66048 | ACCOUNTDISABLE
	uacAccountDisableBit = 2
)

// Person is one AD-like person of the slapd directory.
//
// The entry is cn=CN,ou=OU,dc=example,dc=com with objectClass top, person,
// organizationalPerson, inetOrgPerson and user (testenv's auxiliary class), and
// the attributes cn, sn, givenName, displayName, uid and sAMAccountName (both
// UID), userPrincipalName (UID@example.com), mail, employeeType,
// userAccountControl, memberOf (cn=GROUP,ou=Groups,dc=example,dc=com, one per
// MemberOf), objectGUID (16 bytes derived from UID, see [PersonGUID]) and
// userPassword ({SSHA} of Password). Extra adds attributes or replaces
// generated ones (names compared case-insensitively; an empty slice removes).
type Person struct {
	UID                string   // uid and sAMAccountName; unique (case-insensitive)
	CN                 string   // default "GivenName SN", or UID; unique within OU
	GivenName, SN      string   // SN defaults to UID (person requires sn)
	Mail               []string // all values of mail
	OU                 string   // "Staff", "Students", ...; default "People"
	MemberOf           []string // group CNs, e.g. "Admins"
	UserAccountControl int      // 0 means 512 (normal); 514 disabled
	EmployeeType       string
	Password           string // "" = no userPassword (cannot bind)
	Extra              map[string][]string
}

// DN returns the person's DN under base.
func (p Person) DN(base string) string {
	return "cn=" + ldap.EscapeDN(p.cn()) + ",ou=" + ldap.EscapeDN(p.ou()) + "," + base
}

func (p Person) cn() string {
	if p.CN != "" {
		return p.CN
	}
	if n := strings.TrimSpace(p.GivenName + " " + p.SN); n != "" {
		return n
	}
	return p.UID
}

func (p Person) ou() string {
	if p.OU == "" {
		return "People"
	}
	return p.OU
}

// Disabled reports whether userAccountControl has the ACCOUNTDISABLE bit.
func (p Person) Disabled() bool { return p.UserAccountControl&uacAccountDisableBit != 0 }

// GroupDN returns the DN of the group called cn under base
// (cn=CN,ou=Groups,BASE), the form memberOf values take.
func GroupDN(base, cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + ",ou=Groups," + base
}

// PersonGUID returns the objectGUID testenv writes for a person with this UID
// (the first 16 bytes of SHA-1("objectGUID:"+lower(uid))), unless
// Person.Extra sets objectGUID.
func PersonGUID(uid string) []byte {
	sum := sha1.Sum([]byte("objectGUID:" + strings.ToLower(uid)))
	return sum[:16]
}

// GeneratedPassword is the password [GeneratePeople] gives the person with
// this UID.
func GeneratedPassword(uid string) string { return "pw-" + uid }

// attr is one attribute of an entry, in output order.
type attr struct {
	name   string
	values []string
}

// personAttrs returns the attributes of p's entry.
func personAttrs(base string, p Person) []attr {
	sn := p.SN
	if sn == "" {
		sn = p.UID
	}
	uac := p.UserAccountControl
	if uac == 0 {
		uac = UACNormal
	}
	attrs := []attr{
		{"objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson", "user"}},
		{"cn", []string{p.cn()}},
		{"sn", []string{sn}},
		{"givenName", nonEmpty(p.GivenName)},
		{"displayName", nonEmpty(strings.TrimSpace(p.GivenName + " " + p.SN))},
		{"uid", []string{p.UID}},
		{"sAMAccountName", []string{p.UID}},
		{"userPrincipalName", []string{p.UID + "@example.com"}},
		{"mail", p.Mail},
		{"employeeType", nonEmpty(p.EmployeeType)},
		{"userAccountControl", []string{strconv.Itoa(uac)}},
		{"objectGUID", []string{string(PersonGUID(p.UID))}},
		{"memberOf", nil},
		{"userPassword", nil},
	}
	for j, g := range p.MemberOf {
		if !slices.ContainsFunc(p.MemberOf[:j], func(x string) bool { return strings.EqualFold(x, g) }) {
			attrs[12].values = append(attrs[12].values, GroupDN(base, g))
		}
	}
	if p.Password != "" {
		attrs[13].values = []string{ssha(p.Password, p.UID)}
	}
	for name, values := range p.Extra {
		i := slices.IndexFunc(attrs, func(a attr) bool { return strings.EqualFold(a.name, name) })
		if i >= 0 {
			attrs[i].values = values
		} else {
			attrs = append(attrs, attr{name, values})
		}
	}
	// Extra is a map: keep the output deterministic.
	slices.SortStableFunc(attrs[14:], func(a, b attr) int { return strings.Compare(a.name, b.name) })
	return slices.DeleteFunc(attrs, func(a attr) bool { return len(a.values) == 0 })
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// ssha returns an {SSHA} userPassword value with a salt derived from salt.
func ssha(password, salt string) string {
	s := sha1.Sum([]byte("salt:" + salt))
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(s[:8])
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), s[:8]...))
}

// directory is the layout of a set of people: their DNs, OUs and groups.
type directory struct {
	base    string
	dns     []string            // per person
	ous     []string            // distinct, sorted
	groups  []string            // distinct group CNs (first spelling), sorted case-insensitively
	members map[string][]string // lower(group) → member DNs
}

func layout(base string, people []Person) (*directory, error) {
	d := &directory{base: base, dns: make([]string, len(people)), members: map[string][]string{}}
	uids := make(map[string]int, len(people))
	dns := make(map[string]int, len(people))
	ous := map[string]string{}
	for i, p := range people {
		if p.UID == "" {
			return nil, fmt.Errorf("testenv: person %d has no UID", i)
		}
		lu := strings.ToLower(p.UID)
		if j, ok := uids[lu]; ok {
			return nil, fmt.Errorf("testenv: people %d and %d have the same UID %q", j, i, p.UID)
		}
		uids[lu] = i
		dn := p.DN(base)
		ldn := strings.ToLower(dn)
		if j, ok := dns[ldn]; ok {
			return nil, fmt.Errorf("testenv: people %d and %d have the same DN %q (make CN unique within the OU)", j, i, dn)
		}
		dns[ldn] = i
		d.dns[i] = dn
		if strings.EqualFold(p.ou(), "Groups") {
			return nil, fmt.Errorf("testenv: person %q: OU %q is reserved for groups", p.UID, p.OU)
		}
		if _, ok := ous[strings.ToLower(p.ou())]; !ok {
			ous[strings.ToLower(p.ou())] = p.ou()
			d.ous = append(d.ous, p.ou())
		}
		for j, g := range p.MemberOf {
			if slices.ContainsFunc(p.MemberOf[:j], func(x string) bool { return strings.EqualFold(x, g) }) {
				continue // listed twice
			}
			lg := strings.ToLower(g)
			if _, ok := d.members[lg]; !ok {
				d.groups = append(d.groups, g)
			}
			d.members[lg] = append(d.members[lg], dn)
		}
	}
	slices.Sort(d.ous)
	slices.SortFunc(d.groups, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return d, nil
}

func groupAttrs(cn string, members []string) []attr {
	return []attr{
		{"objectClass", []string{"top", "groupOfNames", "group"}},
		{"cn", []string{cn}},
		{"sAMAccountName", []string{cn}},
		{"objectGUID", []string{string(PersonGUID("group:" + cn))}},
		{"member", members},
	}
}

// checkBase accepts only bases made of dc= components, e.g. dc=example,dc=com.
func checkBase(base string) (firstDC string, err error) {
	dn, err := ldap.ParseDN(base)
	if err != nil || len(dn.RDNs) == 0 {
		return "", fmt.Errorf("testenv: base DN %q: not a DN", base)
	}
	for _, r := range dn.RDNs {
		if len(r.Attributes) != 1 || !strings.EqualFold(r.Attributes[0].Type, "dc") {
			return "", fmt.Errorf("testenv: base DN %q: only dc= components are supported", base)
		}
	}
	return dn.RDNs[0].Attributes[0].Value, nil
}

// WriteLDIF writes the directory of people under base as LDIF for slapadd:
// the base entry (dcObject + organization), one organizationalUnit per OU
// plus ou=Groups, the service account (cn=svc,BASE, password "svc-secret"),
// the groups (groupOfNames + group, members from Person.MemberOf) and the
// people (see [Person]). It streams: only the DNs are kept in memory.
func WriteLDIF(w io.Writer, base string, people []Person) error {
	dc, err := checkBase(base)
	if err != nil {
		return err
	}
	d, err := layout(base, people)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	writeEntry(bw, base, []attr{
		{"objectClass", []string{"top", "dcObject", "organization"}},
		{"dc", []string{dc}},
		{"o", []string{dc}},
	})
	writeEntry(bw, "cn=svc,"+base, []attr{
		{"objectClass", []string{"top", "organizationalRole", "simpleSecurityObject"}},
		{"cn", []string{"svc"}},
		{"description", []string{"authority service account"}},
		{"userPassword", []string{ssha(SlapdServicePassword, "svc")}},
	})
	for _, ou := range append([]string{"Groups"}, d.ous...) {
		writeEntry(bw, "ou="+ldap.EscapeDN(ou)+","+base, []attr{
			{"objectClass", []string{"top", "organizationalUnit"}},
			{"ou", []string{ou}},
		})
	}
	for _, g := range d.groups {
		writeEntry(bw, GroupDN(base, g), groupAttrs(g, d.members[strings.ToLower(g)]))
	}
	for i, p := range people {
		writeEntry(bw, d.dns[i], personAttrs(base, p))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("testenv: write LDIF: %w", err)
	}
	return nil
}

// writeEntry writes one LDIF entry; write errors surface at Flush.
func writeEntry(w *bufio.Writer, dn string, attrs []attr) {
	writeLine(w, "dn", dn)
	for _, a := range attrs {
		for _, v := range a.values {
			writeLine(w, a.name, v)
		}
	}
	w.WriteByte('\n')
}

func writeLine(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	if ldifSafe(value) {
		w.WriteString(": ")
		w.WriteString(value)
	} else {
		w.WriteString(":: ")
		w.WriteString(base64.StdEncoding.EncodeToString([]byte(value)))
	}
	w.WriteByte('\n')
}

// ldifSafe reports whether v is an RFC 2849 SAFE-STRING.
func ldifSafe(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == ':' || c == '<' {
		return false
	}
	if v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

var (
	givenNames = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
		"William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
		"Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
		"Margaret", "Paul", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Kenneth", "Donna", "Joshua",
		"Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy", "Deborah", "Zoë", "José"}
	surnames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
		"Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
		"Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
		"Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
		"O'Brien", "Müller"}
	staffTitles = []string{"Teacher", "Librarian", "Administrator", "Technician", "Counselor", "Accountant", "Engineer"}
)

// GeneratePeople returns n deterministic AD-like people (the same n and seed
// give the same people):
//
//   - OU: Staff (~20%), Faculty (~8%), Students (~70%), Contractors (~2%);
//     employeeType staff, faculty, student or contractor (~1% have none).
//   - memberOf: the OU's own group (Staff, Faculty, Students, Contractors;
//     Faculty are also in Staff), plus at random Admins (~2% of staff),
//     Support (~10% of staff), Managers (~8% of staff and faculty),
//     WorkstationAdmins (~3%), Library (~10%) and VPN Users (~30%).
//   - userAccountControl: ~5% disabled (514, or 66050), the rest 512 or 66048
//     (so only the bit filter, not equality with 514, finds all disabled).
//   - mail UID@example.com, and for ~10% a second value
//     given.sn.N@alumni.example.com.
//   - UID lower(initial+surname)+N (N = index+1, so UIDs are unique), CN
//     "Given Surname" with " (UID)" appended when taken in the same OU; a few
//     names have non-ASCII letters and apostrophes.
//   - Password [GeneratedPassword](UID) ("pw-"+UID); title for staff.
func GeneratePeople(n int, seed int64) []Person {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	people := make([]Person, 0, n)
	usedCN := map[string]bool{}
	pct := func(p int) bool { return r.IntN(100) < p }
	for i := range n {
		given := givenNames[r.IntN(len(givenNames))]
		sn := surnames[r.IntN(len(surnames))]
		uid := strings.ToLower(asciiOnly(given[:1]+sn)) + strconv.Itoa(i+1)
		var p Person
		switch x := r.IntN(100); {
		case x < 20:
			p = Person{OU: "Staff", EmployeeType: "staff", MemberOf: []string{"Staff"}}
		case x < 28:
			p = Person{OU: "Faculty", EmployeeType: "faculty", MemberOf: []string{"Faculty", "Staff"}}
		case x < 98:
			p = Person{OU: "Students", EmployeeType: "student", MemberOf: []string{"Students"}}
		default:
			p = Person{OU: "Contractors", EmployeeType: "contractor", MemberOf: []string{"Contractors"}}
		}
		p.UID, p.GivenName, p.SN = uid, given, sn
		p.CN = given + " " + sn
		if key := strings.ToLower(p.OU + "/" + p.CN); usedCN[key] {
			p.CN += " (" + uid + ")"
		} else {
			usedCN[key] = true
		}
		isStaff := p.OU == "Staff" || p.OU == "Faculty"
		if isStaff {
			if p.OU == "Staff" && pct(2) {
				p.MemberOf = append(p.MemberOf, "Admins")
			}
			if p.OU == "Staff" && pct(10) {
				p.MemberOf = append(p.MemberOf, "Support")
			}
			if pct(8) {
				p.MemberOf = append(p.MemberOf, "Managers")
			}
			p.Extra = map[string][]string{"title": {staffTitles[r.IntN(len(staffTitles))]}}
		}
		if pct(3) {
			p.MemberOf = append(p.MemberOf, "WorkstationAdmins")
		}
		if pct(10) {
			p.MemberOf = append(p.MemberOf, "Library")
		}
		if pct(30) {
			p.MemberOf = append(p.MemberOf, "VPN Users")
		}
		if pct(1) {
			p.EmployeeType = ""
		}
		noExpire := pct(30)
		switch disabled := pct(5); {
		case disabled && noExpire:
			p.UserAccountControl = UACDisabledNoExpire
		case disabled:
			p.UserAccountControl = UACDisabled
		case noExpire:
			p.UserAccountControl = UACNormalNoExpire
		default:
			p.UserAccountControl = UACNormal
		}
		p.Mail = []string{uid + "@example.com"}
		if pct(10) {
			p.Mail = append(p.Mail, fmt.Sprintf("%s.%s.%d@alumni.example.com",
				strings.ToLower(asciiOnly(given)), strings.ToLower(asciiOnly(sn)), i+1))
		}
		p.Password = GeneratedPassword(uid)
		people = append(people, p)
	}
	return people
}

// asciiOnly folds the few non-ASCII letters used in names and drops other
// characters that do not belong in a UID or a mail address.
func asciiOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == 'ë':
			b.WriteByte('e')
		case c == 'é':
			b.WriteByte('e')
		case c == 'ü':
			b.WriteString("ue")
		case c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'):
			b.WriteRune(c)
		}
	}
	return b.String()
}

// adSchema is the small AD-like schema loaded after core, cosine and
// inetorgperson.
const adSchema = `# testenv: a few Active Directory attributes and classes.
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
	EQUALITY integerMatch
	ORDERING integerOrderingMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
	EQUALITY distinguishedNameMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )

attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch
	SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch
	SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
	EQUALITY octetStringMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.2.141 NAME 'department'
	EQUALITY caseIgnoreMatch
	SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.261 NAME 'division'
	EQUALITY caseIgnoreMatch
	SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )

attributetype ( 2.16.840.1.113730.3.1.542 NAME 'nsUniqueId'
	DESC 'testenv: 389 Directory Server stable id, a plain attribute here'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )

attributetype ( 2.16.840.1.113730.3.8.3.1 NAME 'ipaUniqueID'
	DESC 'testenv: FreeIPA stable id'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )

objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP top AUXILIARY
	MAY ( sAMAccountName $ userAccountControl $ memberOf $ userPrincipalName $ objectGUID $ department $ division $ c $
		nsUniqueId $ ipaUniqueID ) )

objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top AUXILIARY
	MAY ( sAMAccountName $ objectGUID $ memberOf ) )
`
