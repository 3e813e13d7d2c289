package testenv

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Credentials and limits of the slapd directory.
const (
	SlapdRootDN          = "cn=admin," + BaseDN // rootdn: no limits, no ACLs
	SlapdRootPassword    = "admin-secret"
	SlapdServiceDN       = "cn=svc," + BaseDN // read access to everything but userPassword
	SlapdServicePassword = "svc-secret"
	SlapdSizeLimit       = 500 // default unpaged size limit (paged searches are unlimited)
)

// Paths of the Debian slapd binaries.
var (
	SlapdPath   = "/usr/sbin/slapd"
	SlapaddPath = "/usr/sbin/slapadd"
)

// ErrSlapdNotInstalled is returned (wrapped) by StartSlapdServer when slapd or
// slapadd is missing.
var ErrSlapdNotInstalled = errors.New("slapd is not installed (apt-get install -y --no-install-recommends slapd ldap-utils)")

// SlapdOption changes the configuration of a slapd server.
type SlapdOption func(*slapdOptions)

type slapdOptions struct {
	sizeLimit         int
	timeLimit         int
	tls               bool
	readablePasswords bool
	anonymousRead     bool
	noSyncprov        bool
	unlimitedService  bool
}

// WithSizeLimit sets the size limit of unpaged searches (default 500);
// paged searches stay unlimited.
func WithSizeLimit(n int) SlapdOption { return func(o *slapdOptions) { o.sizeLimit = n } }

// WithTimeLimit sets slapd's search time limit in seconds (default 3600).
func WithTimeLimit(seconds int) SlapdOption { return func(o *slapdOptions) { o.timeLimit = seconds } }

// WithTLS gives slapd a certificate signed by a fresh test CA
// (Slapd.CACert): StartTLS works on Slapd.URL, and Slapd.LDAPSURL listens
// for LDAPS. Without it, StartTLS is refused.
func WithTLS() SlapdOption { return func(o *slapdOptions) { o.tls = true } }

// WithReadablePasswords lets the service account read userPassword, so that
// a test can check the product withholds sensitive attributes itself.
func WithReadablePasswords() SlapdOption { return func(o *slapdOptions) { o.readablePasswords = true } }

// WithAnonymousRead lets anonymous clients read the directory (except
// userPassword), for "bind anonymously" tests. Without it anonymous searches
// find nothing.
func WithAnonymousRead() SlapdOption { return func(o *slapdOptions) { o.anonymousRead = true } }

// WithoutSyncprov leaves out the syncprov overlay (RFC 4533 content
// synchronization), which is on by default: the server then refuses the sync
// request control (12, unavailableCriticalExtension) and does not list
// 1.3.6.1.4.1.4203.1.9.1.1 in its supportedControl.
func WithoutSyncprov() SlapdOption { return func(o *slapdOptions) { o.noSyncprov = true } }

// WithUnlimitedServiceAccount lifts the size limit for the service account
// (limits dn.exact=SlapdServiceDN size=unlimited). A syncrepl search cannot
// be paged (slapd refuses the sync control together with the paged-results
// control), so a service account that reads changes with syncrepl needs it
// once more entries than the size limit (default 500) can come back.
func WithUnlimitedServiceAccount() SlapdOption {
	return func(o *slapdOptions) { o.unlimitedService = true }
}

// Slapd is a running Debian slapd with an AD-like schema. See the package
// documentation and [Person] for the layout.
type Slapd struct {
	URL          string // ldap://127.0.0.1:PORT/dc=example,dc=com
	Addr         string // 127.0.0.1:PORT
	LDAPSURL     string // ldaps://127.0.0.1:PORT2/dc=example,dc=com (WithTLS only)
	LDAPSAddr    string // 127.0.0.1:PORT2 (WithTLS only)
	CACert       string // PEM of the CA that signed the server certificate (WithTLS only)
	BaseDN       string // dc=example,dc=com
	BindDN       string // the service account, cn=svc,dc=example,dc=com
	BindPassword string // "svc-secret"
	RootDN       string // cn=admin,dc=example,dc=com: may modify anything
	RootPassword string // "admin-secret"
	Dir          string // slapd.conf, schema, certificates and the database

	conf   string
	listen string
	debug  bool

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *tailBuffer
	frozen  bool
	people  map[string]Person // lower(UID) → person as it is now
	members map[string][]string
}

// StartSlapd writes a slapd.conf and the schema into a t.TempDir(), bulk-loads
// people with `slapadd -q`, runs `slapd -d 0` on random loopback ports, waits
// until it answers, and stops it on t.Cleanup. When slapd is not installed the
// test is skipped, or fails if the environment variable CI is set.
func StartSlapd(t testing.TB, people []Person, opts ...SlapdOption) *Slapd {
	t.Helper()
	if err := slapdInstalled(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("testenv: %v", err)
		}
		t.Skipf("testenv: %v", err)
	}
	s, stop, err := StartSlapdServer(t.TempDir(), people, opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return s
}

func slapdInstalled() error {
	for _, p := range []string{SlapdPath, SlapaddPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSlapdNotInstalled, p, err)
		}
	}
	return nil
}

// StartSlapdServer is StartSlapd without testing.TB: dir (which must exist
// and should be empty) receives the configuration and the database. Call stop
// to kill the server; dir is left for the caller to remove.
func StartSlapdServer(dir string, people []Person, opts ...SlapdOption) (*Slapd, func(), error) {
	if err := slapdInstalled(); err != nil {
		return nil, nil, fmt.Errorf("testenv: %w", err)
	}
	o := slapdOptions{sizeLimit: SlapdSizeLimit, timeLimit: 3600}
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: slapd dir: %w", err)
	}
	s := &Slapd{
		BaseDN:       BaseDN,
		BindDN:       SlapdServiceDN,
		BindPassword: SlapdServicePassword,
		RootDN:       SlapdRootDN,
		RootPassword: SlapdRootPassword,
		Dir:          dir,
		conf:         filepath.Join(dir, "slapd.conf"),
		debug:        os.Getenv("TESTENV_DEBUG") != "",
		people:       make(map[string]Person, len(people)),
	}
	d, err := layout(BaseDN, people)
	if err != nil {
		return nil, nil, err
	}
	s.members = d.members
	for _, p := range people {
		cp := p.Clone()
		cp.MemberOf = dedupeFold(cp.MemberOf)
		s.people[strings.ToLower(p.UID)] = cp
	}

	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, nil, fmt.Errorf("testenv: slapd dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ad.schema"), []byte(adSchema), 0o644); err != nil {
		return nil, nil, fmt.Errorf("testenv: slapd schema: %w", err)
	}
	if o.tls {
		cb, err := newCertBundle("slapd")
		if err != nil {
			return nil, nil, err
		}
		for name, data := range map[string][]byte{"ca.pem": cb.caPEM, "cert.pem": cb.certPEM, "key.pem": cb.keyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				return nil, nil, fmt.Errorf("testenv: slapd TLS files: %w", err)
			}
		}
		s.CACert = string(cb.caPEM)
	}
	if err := os.WriteFile(s.conf, []byte(slapdConf(dir, o)), 0o644); err != nil {
		return nil, nil, fmt.Errorf("testenv: slapd.conf: %w", err)
	}
	if err := s.slapadd(people); err != nil {
		return nil, nil, err
	}

	// A free port may be taken between the probe and slapd's bind: retry.
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(map[bool]int{false: 1, true: 2}[o.tls])
		if err != nil {
			return nil, nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		s.URL = "ldap://" + s.Addr + "/" + BaseDN
		s.listen = "ldap://" + s.Addr + "/"
		if o.tls {
			s.LDAPSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
			s.LDAPSURL = "ldaps://" + s.LDAPSAddr + "/" + BaseDN
			s.listen += " ldaps://" + s.LDAPSAddr + "/"
		}
		err = s.Start()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "bind(") {
			return nil, nil, err
		}
	}
	return s, s.Stop, nil
}

// slapdConf renders slapd.conf for a server living in dir.
func slapdConf(dir string, o slapdOptions) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("# generated by testenv")
	p("include /etc/ldap/schema/core.schema")
	p("include /etc/ldap/schema/cosine.schema")
	p("include /etc/ldap/schema/inetorgperson.schema")
	p("include %s", filepath.Join(dir, "ad.schema"))
	p("pidfile %s", filepath.Join(dir, "slapd.pid"))
	p("argsfile %s", filepath.Join(dir, "slapd.args"))
	p("modulepath /usr/lib/ldap")
	p("moduleload back_mdb")
	if !o.noSyncprov {
		p("moduleload syncprov")
	}
	if o.tls {
		p("TLSCACertificateFile %s", filepath.Join(dir, "ca.pem"))
		p("TLSCertificateFile %s", filepath.Join(dir, "cert.pem"))
		p("TLSCertificateKeyFile %s", filepath.Join(dir, "key.pem"))
	}
	p("sizelimit size.soft=%d size.hard=%d size.prtotal=unlimited", o.sizeLimit, o.sizeLimit)
	p("timelimit %d", o.timeLimit)
	p("")
	p("database mdb")
	p("maxsize 4294967296")
	p(`suffix "%s"`, BaseDN)
	p(`rootdn "%s"`, SlapdRootDN)
	p("rootpw %s", SlapdRootPassword)
	p("directory %s", filepath.Join(dir, "db"))
	p("dbnosync")
	p("index objectClass eq")
	p("index uid,sAMAccountName,mail,cn,userPrincipalName eq")
	p("index memberOf,employeeType,userAccountControl,entryUUID,entryCSN eq")
	if o.unlimitedService {
		p(`limits dn.exact="%s" size=unlimited`, SlapdServiceDN)
	}
	if !o.noSyncprov {
		// RFC 4533 content synchronization: the contextCSN is written every
		// 100 operations or 10 minutes; the session log keeps the last
		// 10,000 changes (deletions included), so that a refresh with a cookie
		// replays them instead of a present phase.
		p("overlay syncprov")
		p("syncprov-checkpoint 100 10")
		p("syncprov-sessionlog 10000")
	}
	p("")
	pwRead := ""
	if o.readablePasswords {
		pwRead = fmt.Sprintf(` by dn.exact="%s" read`, SlapdServiceDN)
	}
	p("access to attrs=userPassword%s by self write by anonymous auth by * none", pwRead)
	anon := ""
	if o.anonymousRead {
		anon = " by anonymous read"
	}
	p(`access to * by dn.exact="%s" read by self read by users read%s by * none`, SlapdServiceDN, anon)
	return b.String()
}

// slapadd bulk-loads people, streaming the LDIF into slapadd's stdin.
func (s *Slapd) slapadd(people []Person) error {
	cmd := exec.Command(SlapaddPath, "-q", "-f", s.conf)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("testenv: slapadd: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: slapadd: %w", err)
	}
	werr := WriteLDIF(in, BaseDN, people)
	cerr := in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("testenv: slapadd: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return fmt.Errorf("testenv: slapadd: %w", cerr)
	}
	return nil
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testenv: free port: %w", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Start starts slapd (again) on the same ports and data, after Stop. It
// waits until the server answers a bind as the service account.
func (s *Slapd) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("testenv: slapd is already running")
	}
	debug := "0"
	if s.debug {
		debug = "stats"
	}
	cmd := exec.Command(SlapdPath, "-f", s.conf, "-h", s.listen, "-d", debug)
	cmd.SysProcAttr = slapdSysProcAttr()
	s.stderr = &tailBuffer{max: 64 << 10}
	var out io.Writer = s.stderr
	if s.debug {
		out = io.MultiWriter(s.stderr, os.Stderr)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: slapd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.frozen = cmd, exited, false

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("testenv: slapd exited at start (%v): %s", cmd.ProcessState, strings.TrimSpace(s.stderr.String()))
		default:
		}
		if err := s.ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("testenv: slapd did not answer within 30s: %v: %s", err, strings.TrimSpace(s.stderr.String()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping binds as the service account.
func (s *Slapd) ping() error {
	c, err := ldap.DialURL("ldap://"+s.Addr, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(5 * time.Second)
	return c.Bind(SlapdServiceDN, SlapdServicePassword)
}

// Stop kills slapd (SIGTERM, then SIGKILL after 5 s): afterwards connections
// are refused, until Start. It is idempotent.
func (s *Slapd) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

func (s *Slapd) kill() {
	if s.cmd == nil {
		return
	}
	if s.frozen {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart stops and starts slapd, keeping its ports and data.
func (s *Slapd) Restart() error {
	s.Stop()
	return s.Start()
}

// Freeze suspends slapd (SIGSTOP): connections are still accepted by the
// kernel but nothing is answered, to test timeouts. It returns once every
// slapd thread is stopped (up to 5 s; on Linux, as /proc shows it). Thaw
// resumes it; Stop also works on a frozen server.
func (s *Slapd) Freeze() error { return s.signal(syscall.SIGSTOP, true) }

// Thaw resumes a server suspended by Freeze. It returns once no slapd thread
// is stopped any more (up to 5 s; on Linux, as /proc shows it).
func (s *Slapd) Thaw() error { return s.signal(syscall.SIGCONT, false) }

// signal sends sig to slapd and waits until the process is stopped (frozen)
// or running (!frozen).
func (s *Slapd) signal(sig syscall.Signal, frozen bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("testenv: slapd is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testenv: slapd: %v: %w", sig, err)
	}
	s.frozen = frozen
	if err := waitStopState(s.cmd.Process.Pid, frozen, s.exited); err != nil {
		return fmt.Errorf("testenv: slapd: %v: %w", sig, err)
	}
	return nil
}

// Stderr returns what slapd wrote on stderr since its last start (the last
// 64 KiB).
func (s *Slapd) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stderr == nil {
		return ""
	}
	return s.stderr.String()
}

// TLSConfig returns a client TLS configuration that trusts the server's
// test CA (WithTLS), with ServerName 127.0.0.1.
func (s *Slapd) TLSConfig() *tls.Config { return clientTLSConfig(s.CACert) }

// Admin dials the server and binds as the rootdn. The caller closes the
// connection.
func (s *Slapd) Admin() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		return nil, fmt.Errorf("testenv: slapd admin: %w", err)
	}
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(SlapdRootDN, SlapdRootPassword); err != nil {
		c.Close()
		return nil, fmt.Errorf("testenv: slapd admin bind: %w", err)
	}
	return c, nil
}

func (s *Slapd) withAdmin(fn func(c *ldap.Conn) error) error {
	c, err := s.Admin()
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// Person returns the person with this UID as it is now (after the
// modifications made through Slapd's methods), and whether it exists.
func (s *Slapd) Person(uid string) (Person, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.people[strings.ToLower(uid)]
	return p.Clone(), ok
}

// DN returns the DN of the person with this UID, or "" if there is none.
func (s *Slapd) DN(uid string) string {
	p, ok := s.Person(uid)
	if !ok {
		return ""
	}
	return p.DN(BaseDN)
}

// Replace sets attribute attr of the person with this UID to values (no
// values: removes the attribute), e.g. Replace("jdoe1", "userAccountControl",
// "514"). Use SetGroups for memberOf and MovePerson for the OU; Person does
// not track attributes changed this way.
func (s *Slapd) Replace(uid, attr string, values ...string) error {
	dn := s.DN(uid)
	if dn == "" {
		return fmt.Errorf("testenv: slapd: no person %q", uid)
	}
	return s.withAdmin(func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace(attr, values)
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("testenv: slapd: replace %s of %s: %w", attr, dn, err)
		}
		return nil
	})
}

// AddPerson adds a person (and the groups it is the first member of).
func (s *Slapd) AddPerson(p Person) error {
	if p.UID == "" {
		return fmt.Errorf("testenv: slapd: person without UID")
	}
	if _, ok := s.Person(p.UID); ok {
		return fmt.Errorf("testenv: slapd: person %q exists", p.UID)
	}
	p = p.Clone()
	p.MemberOf = dedupeFold(p.MemberOf)
	return s.withAdmin(func(c *ldap.Conn) error {
		if err := s.ensureOU(c, p.ou()); err != nil {
			return err
		}
		dn := p.DN(BaseDN)
		req := ldap.NewAddRequest(dn, nil)
		for _, a := range personAttrs(BaseDN, p) {
			req.Attribute(a.name, a.values)
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("testenv: slapd: add %s: %w", dn, err)
		}
		s.mu.Lock()
		s.people[strings.ToLower(p.UID)] = p.Clone()
		s.mu.Unlock()
		for _, g := range p.MemberOf {
			if err := s.addMember(c, g, dn); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeletePerson deletes the person with this UID and removes it from its
// groups (a group left empty is deleted: groupOfNames needs a member).
func (s *Slapd) DeletePerson(uid string) error {
	p, ok := s.Person(uid)
	if !ok {
		return fmt.Errorf("testenv: slapd: no person %q", uid)
	}
	dn := p.DN(BaseDN)
	return s.withAdmin(func(c *ldap.Conn) error {
		if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			return fmt.Errorf("testenv: slapd: delete %s: %w", dn, err)
		}
		s.mu.Lock()
		delete(s.people, strings.ToLower(uid))
		s.mu.Unlock()
		for _, g := range p.MemberOf {
			if err := s.removeMember(c, g, dn); err != nil {
				return err
			}
		}
		return nil
	})
}

// MovePerson moves the person with this UID to another OU (created if
// needed), updating the member values of its groups. The objectGUID and
// entryUUID stay the same.
func (s *Slapd) MovePerson(uid, ou string) error {
	p, ok := s.Person(uid)
	if !ok {
		return fmt.Errorf("testenv: slapd: no person %q", uid)
	}
	oldDN := p.DN(BaseDN)
	p.OU = ou
	newDN := p.DN(BaseDN)
	return s.withAdmin(func(c *ldap.Conn) error {
		if err := s.ensureOU(c, p.ou()); err != nil {
			return err
		}
		req := ldap.NewModifyDNRequest(oldDN, "cn="+ldap.EscapeDN(p.cn()), true, "ou="+ldap.EscapeDN(p.ou())+","+BaseDN)
		if err := c.ModifyDN(req); err != nil {
			return fmt.Errorf("testenv: slapd: move %s to %s: %w", oldDN, newDN, err)
		}
		s.mu.Lock()
		s.people[strings.ToLower(uid)] = p
		s.mu.Unlock()
		for _, g := range p.MemberOf {
			if err := s.removeMember(c, g, oldDN); err != nil {
				return err
			}
			if err := s.addMember(c, g, newDN); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetGroups sets the groups (CNs) of the person with this UID: its memberOf
// values and the groups' member values (groups are created and deleted as
// needed).
func (s *Slapd) SetGroups(uid string, groups ...string) error {
	p, ok := s.Person(uid)
	if !ok {
		return fmt.Errorf("testenv: slapd: no person %q", uid)
	}
	dn := p.DN(BaseDN)
	groups = dedupeFold(groups)
	return s.withAdmin(func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(dn, nil)
		var values []string
		for _, g := range groups {
			values = append(values, GroupDN(BaseDN, g))
		}
		m.Replace("memberOf", values)
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("testenv: slapd: set memberOf of %s: %w", dn, err)
		}
		for _, g := range p.MemberOf {
			if !slices.ContainsFunc(groups, func(x string) bool { return strings.EqualFold(x, g) }) {
				if err := s.removeMember(c, g, dn); err != nil {
					return err
				}
			}
		}
		for _, g := range groups {
			if !slices.ContainsFunc(p.MemberOf, func(x string) bool { return strings.EqualFold(x, g) }) {
				if err := s.addMember(c, g, dn); err != nil {
					return err
				}
			}
		}
		p.MemberOf = slices.Clone(groups)
		s.mu.Lock()
		s.people[strings.ToLower(uid)] = p
		s.mu.Unlock()
		return nil
	})
}

func (s *Slapd) ensureOU(c *ldap.Conn, ou string) error {
	req := ldap.NewAddRequest("ou="+ldap.EscapeDN(ou)+","+BaseDN, nil)
	req.Attribute("objectClass", []string{"top", "organizationalUnit"})
	req.Attribute("ou", []string{ou})
	if err := c.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return fmt.Errorf("testenv: slapd: add ou=%s: %w", ou, err)
	}
	return nil
}

func (s *Slapd) addMember(c *ldap.Conn, group, memberDN string) error {
	s.mu.Lock()
	lg := strings.ToLower(group)
	members := s.members[lg]
	s.members[lg] = append(members, memberDN)
	s.mu.Unlock()
	gdn := GroupDN(BaseDN, group)
	if len(members) == 0 {
		req := ldap.NewAddRequest(gdn, nil)
		for _, a := range groupAttrs(group, []string{memberDN}) {
			req.Attribute(a.name, a.values)
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("testenv: slapd: add group %s: %w", gdn, err)
		}
		return nil
	}
	m := ldap.NewModifyRequest(gdn, nil)
	m.Add("member", []string{memberDN})
	if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
		return fmt.Errorf("testenv: slapd: add member to %s: %w", gdn, err)
	}
	return nil
}

func (s *Slapd) removeMember(c *ldap.Conn, group, memberDN string) error {
	s.mu.Lock()
	lg := strings.ToLower(group)
	s.members[lg] = slices.DeleteFunc(s.members[lg], func(dn string) bool { return strings.EqualFold(dn, memberDN) })
	left := len(s.members[lg])
	s.mu.Unlock()
	gdn := GroupDN(BaseDN, group)
	if left == 0 {
		if err := c.Del(ldap.NewDelRequest(gdn, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("testenv: slapd: delete empty group %s: %w", gdn, err)
		}
		return nil
	}
	m := ldap.NewModifyRequest(gdn, nil)
	m.Delete("member", []string{memberDN})
	if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
		return fmt.Errorf("testenv: slapd: remove member from %s: %w", gdn, err)
	}
	return nil
}

// dedupeFold drops later case-insensitive duplicates.
func dedupeFold(list []string) []string {
	var out []string
	for _, v := range list {
		if !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, v) }) {
			out = append(out, v)
		}
	}
	return out
}

// Clone returns a deep copy of p, so that changing the copy's slices and
// maps leaves p as it was.
func (p Person) Clone() Person {
	p.Mail = slices.Clone(p.Mail)
	p.MemberOf = slices.Clone(p.MemberOf)
	if p.Extra != nil {
		extra := make(map[string][]string, len(p.Extra))
		for k, v := range p.Extra {
			extra[k] = slices.Clone(v)
		}
		p.Extra = extra
	}
	return p
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
