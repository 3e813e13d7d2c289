package demodir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/glauth/glauth/v2/pkg/config"
	"github.com/glauth/glauth/v2/pkg/handler"
	gldap "github.com/glauth/ldap"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace/noop"
)

// BaseDN is the base DN of the directory.
const BaseDN = "dc=example,dc=com"

// The service account of the directory. It has the search capability; it and
// its group are hidden from search results.
const (
	ServiceName     = "svc"                          // its cn
	ServiceGroup    = "svcaccts"                     // its primary group
	ServiceDN       = "cn=svc,ou=svcaccts," + BaseDN // its bind DN
	ServicePassword = "svc-secret"                   // its password
)

// User is one user of the directory.
//
// A search from the base DN returns the entry as
// cn=Name,ou=PrimaryGroup,ou=users,dc=example,dc=com (see [Directory.UserDN]). Password ""
// means "no password hash", which glauth accepts with ANY password (a glauth
// bug the product must guard against).
type User struct {
	Name      string // cn and uid (and sAMAccountName unless Custom sets it)
	Password  string // stored as a SHA-256 hash; "" = no hash (binds with any password)
	GivenName string
	SN        string
	// Mail values; all of them become values of the mail attribute, the
	// first one also userPrincipalName (unless Custom sets it).
	Mail []string
	// PrimaryGroup names the group in the DN (lower-cased; default "people").
	PrimaryGroup string
	// OtherGroups are further groups (lower-cased); memberOf lists them all.
	OtherGroups []string
	// Disabled sets accountStatus=inactive and userAccountControl=514 (512
	// otherwise) — but the user can still bind (glauth bug).
	Disabled bool
	// Custom attributes, e.g. "employeeType", "userAccountControl",
	// "department". They override the generated ones of the same name.
	Custom map[string][]string
}

// Directory is a running in-process glauth server. Start one with [Start].
type Directory struct {
	URL          string // ldap://127.0.0.1:PORT/dc=example,dc=com
	Addr         string // 127.0.0.1:PORT
	BaseDN       string // dc=example,dc=com
	BindDN       string // the service account, cn=svc,ou=svcaccts,dc=example,dc=com
	BindPassword string // "svc-secret"
	Users        []User
	Groups       []string // all group names (lower-cased), service group excluded

	stopOnce sync.Once
	stopFn   func()
}

// UserDN returns the DN that a subtree search from the base DN returns for
// the user called name (cn=name,ou=primarygroup,ou=users,dc=example,dc=com),
// or "" if there is none. glauth also accepts binds as
// cn=name,ou=primarygroup,dc=example,dc=com (without ou=users), which is the
// DN a search based at ou=primarygroup,dc=example,dc=com returns.
func (g *Directory) UserDN(name string) string {
	for _, u := range g.Users {
		if strings.EqualFold(u.Name, name) {
			return fmt.Sprintf("cn=%s,ou=%s,ou=users,%s", u.Name, primaryGroup(u), BaseDN)
		}
	}
	return ""
}

// GroupDN returns the DN glauth uses in memberOf for group name
// (ou=name,ou=groups,dc=example,dc=com).
func (g *Directory) GroupDN(name string) string {
	return fmt.Sprintf("ou=%s,ou=groups,%s", strings.ToLower(name), BaseDN)
}

// Stop stops the server and closes its open connections. It is idempotent.
func (g *Directory) Stop() {
	g.stopOnce.Do(g.stopFn)
}

func primaryGroup(u User) string {
	if u.PrimaryGroup == "" {
		return "people"
	}
	return strings.ToLower(u.PrimaryGroup)
}

// Start starts the directory on a random loopback port with users and
// groups (groups named by users are created automatically; list extra ones,
// e.g. empty groups, in groups). glauth's log goes to debugLog, or nowhere
// when it is nil. Call [Directory.Stop] to shut the server down.
func Start(users []User, groups []string, debugLog io.Writer) (*Directory, error) {
	cfg, groupNames, err := glauthConfig(users, groups)
	if err != nil {
		return nil, err
	}

	logger := zerolog.Nop()
	if debugLog != nil {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: debugLog}).With().Timestamp().Str("component", "glauth").Logger()
	}
	tracer := noop.NewTracerProvider().Tracer("demodir")
	h := handler.NewConfigHandler(
		handler.Backend(cfg.Backends[0]),
		handler.Logger(&logger),
		handler.Config(cfg),
		handler.LDAPHelper(handler.NewLDAPOpsHelper(tracer)),
		handler.Monitor(nopMonitor{}),
		handler.Tracer(tracer),
	)
	hide := hidingSearcher{h: h}

	srv := gldap.NewServer()
	srv.EnforceLDAP = true
	srv.BindFunc("", h)
	srv.SearchFunc("", hide)
	srv.CloseFunc("", h)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demodir: start: listen: %w", err)
	}
	tl := &trackingListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tl)
	}()

	addr := ln.Addr().String()
	g := &Directory{
		URL:          "ldap://" + addr + "/" + BaseDN,
		Addr:         addr,
		BaseDN:       BaseDN,
		BindDN:       ServiceDN,
		BindPassword: ServicePassword,
		Users:        slices.Clone(users),
		Groups:       groupNames,
	}
	g.stopFn = func() {
		srv.Close() // closes the listener
		<-done
		tl.closeAll()
	}
	return g, nil
}

// glauthConfig builds the glauth configuration: the users, their groups and
// the service account.
func glauthConfig(users []User, extraGroups []string) (*config.Config, []string, error) {
	var names []string
	gid := map[string]int{}
	addGroup := func(name string) error {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			return nil
		}
		if name == "users" || name == "groups" {
			return fmt.Errorf("demodir: start: group name %q is reserved by glauth's DN layout", name)
		}
		if _, ok := gid[name]; !ok {
			gid[name] = 6000 + len(gid)
			if name != ServiceGroup {
				names = append(names, name)
			}
		}
		return nil
	}
	if err := addGroup(ServiceGroup); err != nil {
		return nil, nil, err
	}
	for _, g := range extraGroups {
		if err := addGroup(g); err != nil {
			return nil, nil, err
		}
	}
	seen := map[string]bool{ServiceName: true}
	for _, u := range users {
		if u.Name == "" {
			return nil, nil, fmt.Errorf("demodir: start: a user has no name")
		}
		if seen[strings.ToLower(u.Name)] {
			return nil, nil, fmt.Errorf("demodir: start: user %q is defined twice (or clashes with the service account)", u.Name)
		}
		seen[strings.ToLower(u.Name)] = true
		if err := addGroup(primaryGroup(u)); err != nil {
			return nil, nil, err
		}
		for _, g := range u.OtherGroups {
			if err := addGroup(g); err != nil {
				return nil, nil, err
			}
		}
	}

	cfg := &config.Config{
		Backends: []config.Backend{{
			BaseDN:             BaseDN,
			Datastore:          "config",
			NameFormat:         "cn,uid",
			NameFormatAsArray:  []string{"cn", "uid"},
			GroupFormat:        "ou,cn",
			GroupFormatAsArray: []string{"ou", "cn"},
		}},
		// LimitFailedBinds stays off: it has a data race under -race.
		Behaviors: config.Behaviors{LimitFailedBinds: false},
	}
	cfg.Backend = cfg.Backends[0]
	for name, id := range gid {
		cfg.Groups = append(cfg.Groups, config.Group{Name: name, GIDNumber: id, UnixID: id})
	}
	slices.SortFunc(cfg.Groups, func(a, b config.Group) int { return a.GIDNumber - b.GIDNumber })

	cfg.Users = append(cfg.Users, config.User{
		Name:         ServiceName,
		PassSHA256:   sha256Hex(ServicePassword),
		PrimaryGroup: gid[ServiceGroup],
		UIDNumber:    4999,
		UnixID:       4999,
		Capabilities: []config.Capability{{Action: "search", Object: "*"}},
	})
	for i, u := range users {
		cu := config.User{
			Name:         u.Name,
			GivenName:    u.GivenName,
			SN:           u.SN,
			PrimaryGroup: gid[primaryGroup(u)],
			Disabled:     u.Disabled,
			UIDNumber:    5000 + i,
			UnixID:       5000 + i,
			CustomAttrs:  map[string]interface{}{},
		}
		if u.Password != "" {
			cu.PassSHA256 = sha256Hex(u.Password)
		}
		for _, g := range u.OtherGroups {
			if id := gid[strings.ToLower(strings.TrimSpace(g))]; id != 0 && !slices.Contains(cu.OtherGroups, id) {
				cu.OtherGroups = append(cu.OtherGroups, id)
			}
		}
		// Several mail values only work as a custom attribute (and not also
		// in the Mail field, which would make a second "mail" attribute).
		if len(u.Mail) > 0 {
			cu.CustomAttrs["mail"] = toIfaces(u.Mail)
			cu.CustomAttrs["userPrincipalName"] = toIfaces(u.Mail[:1])
		}
		cu.CustomAttrs["sAMAccountName"] = toIfaces([]string{u.Name})
		uac := "512"
		if u.Disabled {
			uac = "514"
		}
		cu.CustomAttrs["userAccountControl"] = toIfaces([]string{uac})
		// Merged with glauth's posixAccount/shadowAccount by hidingSearcher.
		cu.CustomAttrs["objectClass"] = toIfaces([]string{"person", "organizationalPerson", "inetOrgPerson", "user"})
		for k, v := range u.Custom {
			// Replace a generated attribute whatever the case of its name.
			for gk := range cu.CustomAttrs {
				if strings.EqualFold(gk, k) {
					delete(cu.CustomAttrs, gk)
				}
			}
			if len(v) > 0 {
				// Custom attributes must be []interface{}: scalars are dropped.
				cu.CustomAttrs[k] = toIfaces(v)
			}
		}
		cfg.Users = append(cfg.Users, cu)
	}
	return cfg, names, nil
}

func toIfaces(v []string) []interface{} {
	out := make([]interface{}, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hidingSearcher removes the service account and its group from glauth's
// search results, so that a sync search sees only the test users, and merges
// attributes that glauth returns twice (a custom objectClass or mail next to
// glauth's own) into one. It runs before glauth/ldap applies the filter.
type hidingSearcher struct{ h handler.Handler }

func (s hidingSearcher) Search(boundDN string, req gldap.SearchRequest, conn net.Conn) (gldap.ServerSearchResult, error) {
	res, err := s.h.Search(boundDN, req, conn)
	if err != nil {
		return res, err
	}
	svcDN := strings.ToLower(ServiceDN)
	kept := res.Entries[:0]
	for _, e := range res.Entries {
		dn := strings.ToLower(e.DN)
		if dn == svcDN || strings.HasPrefix(dn, "ou="+ServiceGroup+",") || strings.HasPrefix(dn, "cn="+ServiceName+",") {
			continue
		}
		e.Attributes = mergeAttributes(e.Attributes)
		kept = append(kept, e)
	}
	res.Entries = kept
	return res, nil
}

// mergeAttributes merges attributes of the same name (case-insensitive),
// dropping duplicate values.
func mergeAttributes(attrs []*gldap.EntryAttribute) []*gldap.EntryAttribute {
	out := attrs[:0]
	index := map[string]*gldap.EntryAttribute{}
	for _, a := range attrs {
		key := strings.ToLower(a.Name)
		first, ok := index[key]
		if !ok {
			index[key] = a
			out = append(out, a)
			continue
		}
		for _, v := range a.Values {
			if !slices.ContainsFunc(first.Values, func(x string) bool { return strings.EqualFold(x, v) }) {
				first.Values = append(first.Values, v)
			}
		}
	}
	return out
}

// nopMonitor satisfies glauth's (internal) monitoring interface.
type nopMonitor struct{}

func (nopMonitor) SetResponseTimeMetric(map[string]string, float64) error { return nil }
func (nopMonitor) SetLDAPMetric(map[string]string, float64) error         { return nil }

// trackingListener remembers the open connections so that stopping the
// server closes them too (glauth's own Close only closes the listener).
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

// Read reports a connection closed by Stop as io.EOF, which glauth/ldap
// takes as a normal end of connection (it logs any other read error).
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
