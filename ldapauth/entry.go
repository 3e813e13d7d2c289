package ldapauth

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/ldapauth/script"
)

// Entry is one directory entry as the product sees it: its DN and its
// attributes, with the sensitive attributes already removed. Binary
// objectGUID and objectSid values are already in their string forms
// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "S-1-5-...").
type Entry struct {
	DN    string              `json:"dn"`
	Attrs map[string][]string `json:"attrs"`
	// origin is the URL of the server that returned the entry when it came
	// through a followed referral ("" for the configured server): the user
	// bind goes there, unless foreign.
	origin string
	// foreign is true when origin is another server than the configured one
	// (scheme, host or port): a person's password is never sent there.
	foreign bool
}

// Get returns the values of attribute name, compared case-insensitively
// (and ignoring attribute options only when there is no exact match).
func (e *Entry) Get(name string) []string {
	if e == nil {
		return nil
	}
	if v, ok := e.Attrs[name]; ok {
		return v
	}
	for k, v := range e.Attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// First returns the first value of attribute name, or "".
func (e *Entry) First(name string) string {
	if v := e.Get(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Person is an entry seen through a server's attribute mapping.
type Person struct {
	Entry *Entry
	// Usernames are every value of the username attribute (several mail
	// values make several usernames, and so several users), trimmed, empty
	// values and case-insensitive duplicates dropped.
	Usernames []string
	Email     string // first value of the email attribute
	FirstName string
	LastName  string
	// UID is the stable id, from the server's StableIDAttribute (auto:
	// objectGUID as a GUID string, else entryUUID, nsUniqueId, ipaUniqueID);
	// "" when the entry has none of them.
	UID string
	// Profile is the profile attributes of the server's ProfileMapping.
	Profile PersonProfile
	// emailIsUsername: the email attribute is the username attribute, so each
	// username is its own email (see EmailFor).
	emailIsUsername bool
}

// EmailFor returns the email of the user with this username: the username
// itself when the email attribute is the username attribute (several mail
// values, each its own user), otherwise Email.
func (p Person) EmailFor(username string) string {
	if p.emailIsUsername && username != "" {
		return username
	}
	return p.Email
}

// Person applies the server's attribute mapping to e.
func (s Server) Person(e *Entry) Person {
	p := Person{Entry: e}
	ua := s.UsernameAttribute()
	if ua != "" {
		seen := map[string]bool{}
		for _, v := range e.Get(ua) {
			v = strings.TrimSpace(v)
			k := casefold.Key(v)
			if v == "" || seen[k] {
				continue
			}
			seen[k] = true
			p.Usernames = append(p.Usernames, v)
		}
	}
	p.Email = strings.TrimSpace(e.First(orDefault(s.EmailAttribute, DefaultEmailAttribute)))
	p.FirstName = strings.TrimSpace(e.First(orDefault(s.FirstNameAttribute, DefaultFirstNameAttr)))
	p.LastName = strings.TrimSpace(e.First(orDefault(s.LastNameAttribute, DefaultLastNameAttr)))
	p.Profile = s.personProfile(e)
	p.emailIsUsername = ua != "" && strings.EqualFold(ua, orDefault(s.EmailAttribute, DefaultEmailAttribute))
	p.UID = s.stableID(e)
	return p
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return strings.TrimSpace(s)
}

// decodeEntry turns a go-ldap entry into an Entry, dropping the sensitive
// attributes (script.IsSensitive with extra) and formatting binary ids.
func decodeEntry(le *ldap.Entry, extra []string) *Entry {
	e := &Entry{DN: le.DN, Attrs: make(map[string][]string, len(le.Attributes))}
	for _, a := range le.Attributes {
		if a == nil || script.IsSensitive(a.Name, extra) || strings.EqualFold(a.Name, MemberOfAll) {
			// memberOfAll is computed (NestedGroups), never the directory's.
			continue
		}
		var vals []string
		switch {
		case strings.EqualFold(a.Name, "objectGUID"):
			for _, raw := range a.ByteValues {
				vals = append(vals, formatGUID(raw))
			}
		case strings.EqualFold(a.Name, "objectSid"):
			for _, raw := range a.ByteValues {
				vals = append(vals, formatSID(raw))
			}
		default:
			vals = a.Values // go-ldap's entry is not kept: no copy
		}
		if old, ok := e.Attrs[a.Name]; ok {
			vals = append(old, vals...)
		}
		e.Attrs[a.Name] = vals
	}
	return e
}

// formatGUID formats AD's 16-byte objectGUID (mixed-endian) as
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx; other values (a directory that
// stores the GUID as text) are returned as they are.
func formatGUID(b []byte) string {
	if len(b) != 16 {
		return string(b)
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16])
}

// formatSID formats a binary security identifier as S-1-5-21-...; other
// values are returned as they are.
func formatSID(b []byte) string {
	if len(b) < 8 || int(b[1])*4+8 != len(b) || b[0] != 1 {
		return string(b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-1-")
	sb.WriteString(strconv.FormatUint(auth, 10))
	for i := 0; i < int(b[1]); i++ {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String()
}
