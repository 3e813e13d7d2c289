package ldapauth

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Defaults and limits of a server's settings (docs/rules.md section 3).
const (
	DefaultTimeoutSeconds = 30
	MaxTimeoutSeconds     = 300
	DefaultPageSize       = 500
	MaxPageSize           = 10000
	DefaultActiveScript   = "function(entry) { return true; }"
	DefaultEmailAttribute = "mail"
	DefaultFirstNameAttr  = "givenName"
	DefaultLastNameAttr   = "sn"
	DefaultLDAPPort       = "389"
	DefaultLDAPSPort      = "636"
)

// Server is one configured LDAP server. JSON names are the API's (docs/rules.md
// section 8). BindPassword is the plain service password, held in memory
// only: it is never marshalled (json:"-"); HasBindPassword says whether one
// is stored.
type Server struct {
	ID               int64  `json:"id"`
	Name             string `json:"name"`
	URL              string `json:"url"`
	StartTLS         bool   `json:"startTLS"`
	CACertificate    string `json:"caCertificate"`
	AllowUnsafeCerts bool   `json:"allowUnsafeCerts"`
	BindAnonymously  bool   `json:"bindAnonymously"`
	BindDN           string `json:"bindDN"`
	// BindPassword is write-only: never returned by any API, never logged.
	BindPassword       string `json:"-"`
	HasBindPassword    bool   `json:"hasBindPassword"`
	SearchFilter       string `json:"searchFilter"`
	EmailAttribute     string `json:"emailAttribute"`
	FirstNameAttribute string `json:"firstNameAttribute"`
	LastNameAttribute  string `json:"lastNameAttribute"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	PageSize           int    `json:"pageSize"`
	FollowReferrals    bool   `json:"followReferrals"`
	ActiveScript       string `json:"activeScript"`
	OrgNameScript      string `json:"orgNameScript"`
	RoleNameScript     string `json:"roleNameScript"`
	// SensitiveAttributes are withheld from scripts, pages and logs on top of
	// the built-in list (userPassword, unixUserPassword, msSFU30Password,
	// unicodePwd).
	SensitiveAttributes []string `json:"sensitiveAttributes"`
	// ChangeTracking is how incremental runs learn what changed: TrackingAuto
	// (default), TrackingSyncrepl, TrackingDirSync, TrackingUSN,
	// TrackingTimestamp or TrackingNone (docs/rules.md section 6.1).
	ChangeTracking string `json:"changeTracking"`
	// StableIDAttribute is the attribute the stable id (Person.UID) comes
	// from: StableIDAuto (default: objectGUID, entryUUID, nsUniqueId,
	// ipaUniqueID, the first the entry has) or one of them alone.
	StableIDAttribute string `json:"stableIdAttribute"`
	// NestedGroups gives scripts entry.memberOfAll: every group the entry is
	// in, directly or through other groups (see GroupIndex).
	NestedGroups bool `json:"nestedGroups"`
	// Fetched is what the searches ask the directory for (SearchAttributes;
	// read-only, shown on the server page).
	Fetched []string `json:"searchAttributes"`
	// ProfileMapping is the optional profile attribute mapping (its fields
	// are the server's titleAttribute, departmentAttribute, ... in JSON).
	ProfileMapping
}

// String names the server for logs and errors (never the password).
func (s Server) String() string {
	if s.Name != "" {
		return fmt.Sprintf("%s (%s)", s.Name, s.URL)
	}
	return s.URL
}

// LogValue logs a server as its id, name and URL (never the password).
func (s Server) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("id", s.ID), slog.String("name", s.Name), slog.String("url", s.URL))
}

// UsernameAttribute returns the attribute of the search filter's equality
// assertion with %u, e.g. "sAMAccountName" for
// (&(objectClass=user)(sAMAccountName=%u)); "" when the filter is not valid.
func (s Server) UsernameAttribute() string {
	if v, ok := usernameAttrCache.Load(s.SearchFilter); ok {
		return v.(string)
	}
	attr, err := usernameAttribute(s.SearchFilter)
	if err != nil {
		attr = ""
	}
	if n := usernameAttrCacheSize.Add(1); n <= 1000 {
		usernameAttrCache.Store(s.SearchFilter, attr)
	}
	return attr
}

// usernameAttrCache remembers the username attribute of the filters seen
// (Person runs once per entry of a sync); bounded, as filters are few.
var (
	usernameAttrCache     sync.Map
	usernameAttrCacheSize atomic.Int64
)

// BaseDN returns the search base of the URL, URL-decoded
// ("ldap://h/ou=IT%20Staff,dc=x" gives "ou=IT Staff,dc=x"); "" when the URL
// does not parse.
func (s Server) BaseDN() string {
	u, err := parseServerURL(s.URL)
	if err != nil {
		return ""
	}
	return u.baseDN
}

// Timeout is the per-operation time limit (TimeoutSeconds, default 30 s).
func (s Server) Timeout() time.Duration {
	if s.TimeoutSeconds <= 0 {
		return DefaultTimeoutSeconds * time.Second
	}
	return time.Duration(s.TimeoutSeconds) * time.Second
}

func (s Server) pageSize() int {
	if s.PageSize <= 0 {
		return DefaultPageSize
	}
	if s.PageSize > MaxPageSize {
		return MaxPageSize
	}
	return s.PageSize
}

// SyncFilter is the search filter with %u replaced by * (every user).
func (s Server) SyncFilter() string {
	return strings.Replace(s.SearchFilter, "%u", "*", 1)
}

// UserFilter is the search filter with %u replaced by the username, escaped
// once as RFC 4515 says: "*", "(", ")", "\", NUL and non-ASCII bytes match
// literally.
func (s Server) UserFilter(username string) string {
	return strings.Replace(s.SearchFilter, "%u", ldap.EscapeFilter(username), 1)
}

// substringFilter is the search filter with %u replaced by *search* (the
// preview's username search box), search escaped.
func (s Server) substringFilter(search string) string {
	if search == "" {
		return s.SyncFilter()
	}
	return strings.Replace(s.SearchFilter, "%u", "*"+ldap.EscapeFilter(search)+"*", 1)
}

// serverURL is a parsed server URL.
type serverURL struct {
	scheme string // "ldap" or "ldaps"
	host   string // without brackets
	port   string
	baseDN string
}

func (u serverURL) addr() string { return net.JoinHostPort(u.host, u.port) }

// parseServerURL parses ldap://host[:port]/BASE or ldaps://host[:port]/BASE.
// The error says what to fix.
func parseServerURL(raw string) (serverURL, error) {
	var out serverURL
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return out, fmt.Errorf("is required, e.g. ldaps://ldap.example.com:636/dc=example,dc=com")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return out, fmt.Errorf("does not parse (%v): use ldap://host:389/BASE-DN or ldaps://host:636/BASE-DN, with the base DN URL-escaped", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ldap", "ldaps":
		out.scheme = strings.ToLower(u.Scheme)
	default:
		return out, fmt.Errorf("must start with ldap:// or ldaps://, not %q", u.Scheme+"://")
	}
	if u.User != nil {
		return out, fmt.Errorf("must not contain a user or password: put the service account in bindDN and bindPassword")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return out, fmt.Errorf("must not contain ?attributes?scope?filter or #: put the filter in searchFilter")
	}
	out.host = u.Hostname()
	if out.host == "" {
		return out, fmt.Errorf("has no host: use ldap://host:389/BASE-DN")
	}
	out.port = u.Port()
	if out.port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return out, fmt.Errorf("has an empty port: remove the ':' or give a port")
		}
		out.port = DefaultLDAPPort
		if out.scheme == "ldaps" {
			out.port = DefaultLDAPSPort
		}
	} else if n, err := strconv.Atoi(out.port); err != nil || n < 1 || n > 65535 {
		return out, fmt.Errorf("port %q is not a number from 1 to 65535", out.port)
	}
	out.baseDN = strings.TrimPrefix(u.Path, "/")
	if strings.TrimSpace(out.baseDN) == "" {
		return out, fmt.Errorf("has no search base: add it after the host, e.g. %s://%s/dc=example,dc=com", out.scheme, u.Host)
	}
	if _, err := ldap.ParseDN(out.baseDN); err != nil {
		return out, fmt.Errorf("search base %q is not a DN (%v): e.g. dc=example,dc=com, with spaces and special characters URL-escaped", out.baseDN, err)
	}
	return out, nil
}

// usernameMarker stands for %u while the filter is checked; it is a plain
// value no real filter contains.
const usernameMarker = "authorityUsernamePlaceholder7d1f3a"

// usernameAttribute checks the search filter and returns the attribute of
// its one (attr=%u) equality assertion. The error says what to fix.
func usernameAttribute(filter string) (string, error) {
	if strings.TrimSpace(filter) == "" {
		return "", fmt.Errorf("is required, e.g. (&(objectClass=user)(sAMAccountName=%%u))")
	}
	switch n := strings.Count(filter, "%u"); n {
	case 0:
		return "", fmt.Errorf("must contain %%u where the username goes, e.g. (&(objectClass=user)(sAMAccountName=%%u))")
	case 1:
	default:
		return "", fmt.Errorf("contains %%u %d times: use it in exactly one equality assertion such as (uid=%%u)", n)
	}
	if strings.Contains(filter, usernameMarker) {
		return "", fmt.Errorf("contains a reserved word")
	}
	pkt, err := ldap.CompileFilter(strings.Replace(filter, "%u", usernameMarker, 1))
	if err != nil {
		return "", fmt.Errorf("is not a valid LDAP filter (%v)", err)
	}
	// Also the sync form (%u → *) must parse.
	if _, err := ldap.CompileFilter(strings.Replace(filter, "%u", "*", 1)); err != nil {
		return "", fmt.Errorf("is not a valid LDAP filter with %%u replaced by * (%v)", err)
	}
	var attr string
	var found, misplaced bool
	var walk func(p *ber.Packet)
	walk = func(p *ber.Packet) {
		if p.ClassType == ber.ClassContext {
			switch p.Tag {
			case ldap.FilterAnd, ldap.FilterOr, ldap.FilterNot:
				for _, c := range p.Children {
					walk(c)
				}
				return
			case ldap.FilterEqualityMatch:
				if len(p.Children) == 2 {
					val := p.Children[1].Data.String()
					if val == usernameMarker {
						attr = p.Children[0].Data.String()
						found = true
						return
					}
					if strings.Contains(val, usernameMarker) {
						misplaced = true
					}
				}
				return
			}
		}
		for _, c := range p.Children {
			walk(c)
		}
		if p.Data != nil && strings.Contains(p.Data.String(), usernameMarker) && len(p.Children) == 0 {
			misplaced = true
		}
	}
	walk(pkt)
	if misplaced || !found {
		return "", fmt.Errorf("must use %%u as the whole value of one equality assertion such as (sAMAccountName=%%u); substrings like (cn=%%u*) or (cn=x%%u) are not allowed")
	}
	if err := checkAttributeName(attr); err != nil {
		return "", fmt.Errorf("username attribute %q: %v", attr, err)
	}
	return attr, nil
}

// checkAttributeName checks an LDAP attribute description (RFC 4512: a
// descriptor such as mail or an OID such as 2.5.4.3, with ;options).
func checkAttributeName(name string) error {
	if name == "" {
		return fmt.Errorf("is empty")
	}
	base, opts, _ := strings.Cut(name, ";")
	if err := checkDescr(base); err != nil {
		return err
	}
	if opts != "" || strings.HasSuffix(name, ";") {
		for _, o := range strings.Split(opts, ";") {
			if o == "" || !isKeychars(o) {
				return fmt.Errorf("option %q is not letters, digits and '-'", o)
			}
		}
	}
	return nil
}

func checkDescr(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if s[0] >= '0' && s[0] <= '9' {
		// numeric OID
		for _, part := range strings.Split(s, ".") {
			if part == "" || (len(part) > 1 && part[0] == '0') {
				return fmt.Errorf("%q is not an attribute name or a numeric OID", s)
			}
			for _, c := range part {
				if c < '0' || c > '9' {
					return fmt.Errorf("%q is not an attribute name or a numeric OID", s)
				}
			}
		}
		return nil
	}
	if !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') || !isKeychars(s) {
		return fmt.Errorf("%q is not an attribute name (a letter, then letters, digits or '-')", s)
	}
	return nil
}

func isKeychars(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
