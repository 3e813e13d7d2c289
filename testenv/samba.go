package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SambaOptions configures a Samba AD domain controller.
type SambaOptions struct {
	// People adds this many generated people (user00001, ... in
	// OU=Generated,OU=People; see [SambaGeneratedSam]) to the known ones of
	// [SambaPeople]. Each distinct count is provisioned once per machine and
	// cached (about 3.5 ms a person the first time).
	People int
}

// SambaAD is a running Samba Active Directory domain controller (Debian's
// samba, 4.17 on Debian 12) with only its LDAP service, on a loopback address
// of its own (127.0.0.x, ports 389, 636, 3268 and 3269).
//
// The domain is ACME.TEST (NetBIOS ACME), base DN DC=acme,DC=test:
//
//	OU=People
//	  OU=Staff         alice, bob, erin (locked), frank (must change), grace (account expired),
//	                   heidi (password expired), "Ivanov, Ivan" (ivan), zoe
//	  OU=Contractors   carol
//	  OU=Disabled      dave (disabled)
//	  OU=Generated     user00001 ... (SambaOptions.People; no password, every tenth disabled)
//	OU=Groups          Engineers ⊂ R&D ⊂ All Staff; Sales ⊂ All Staff; Managers; Contractors
//	OU=Service Accounts  svc-authority (the service account, with "Replicating Directory Changes" on the domain: DirSync)
//	CN=Users           Administrator, Guest, krbtgt and AD's built-in groups
//
// A subtree search of the domain root also returns continuation references
// (ldap://acme.test/CN=Configuration,...), which a client must ignore. Simple
// binds work over plain LDAP (ldap server require strong auth = no) as a DN,
// a UPN (alice@acme.test) or ACME\alice; a password change (unicodePwd) needs
// LDAPS. Samba does not cap a page at 1,000 entries as Windows does.
type SambaAD struct {
	Host      string // 127.0.0.x
	Addr      string // 127.0.0.x:389
	URL       string // ldap://127.0.0.x:389/DC=acme,DC=test
	PeopleURL string // ldap://127.0.0.x:389/OU=People,DC=acme,DC=test (no Administrator, Guest, krbtgt, DC)
	LDAPSAddr string // 127.0.0.x:636
	LDAPSURL  string // ldaps://127.0.0.x:636/DC=acme,DC=test
	CACert    string // PEM of the CA that signed the server certificate (valid for Host)
	BaseDN    string // DC=acme,DC=test
	PeopleDN  string // OU=People,DC=acme,DC=test

	BindDN        string // the service account's DN (SambaServiceDN); BindUPN binds too
	BindUPN       string // svc-authority@acme.test
	BindPassword  string
	AdminDN       string // CN=Administrator,CN=Users,DC=acme,DC=test: may modify anything, DirSync
	AdminUPN      string // Administrator@acme.test
	AdminPassword string

	Generated int    // SambaOptions.People
	Dir       string // smb.conf (etc/), the databases (private/), TLS files, log

	conf    string
	debug   bool
	release func() // releases the address lock

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{}
	output *tailBuffer
	people map[string]SambaPerson // lower(sam) → known person as it is now
}

// StartSambaAD copies the cached, provisioned and populated template (making
// it first if needed: about 6 s once per machine, plus the generated people)
// into a t.TempDir(), runs `samba -i -M single` on a free loopback address,
// waits until LDAP answers (about 1-2 s), and stops it on t.Cleanup. When
// samba is missing or the test does not run as root, the test is skipped, or
// fails if the environment variable CI is set.
func StartSambaAD(t testing.TB, opts SambaOptions) *SambaAD {
	t.Helper()
	if err := sambaInstalled(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("testenv: %v", err)
		}
		t.Skipf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, stop, err := StartSambaADServer(ctx, t.TempDir(), opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return s
}

// StartSambaADServer is StartSambaAD without testing.TB: dir (which must
// exist and should be empty) receives the instance. Call stop to stop samba
// (and release its address); dir is left for the caller to remove.
func StartSambaADServer(ctx context.Context, dir string, opts SambaOptions) (*SambaAD, func(), error) {
	if err := sambaInstalled(); err != nil {
		return nil, nil, fmt.Errorf("testenv: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: samba: dir: %w", err)
	}
	tmpl, err := sambaTemplate(ctx, opts.People)
	if err != nil {
		return nil, nil, err
	}
	inst := filepath.Join(dir, "samba")
	if err := copyDir(ctx, tmpl, inst); err != nil {
		return nil, nil, fmt.Errorf("testenv: samba: instance: %w", err)
	}
	host, release, err := sambaAddress()
	if err != nil {
		return nil, nil, err
	}
	s := &SambaAD{
		Host: host, Addr: net.JoinHostPort(host, "389"), LDAPSAddr: net.JoinHostPort(host, "636"),
		BaseDN: SambaBaseDN, PeopleDN: SambaPeopleDN,
		BindDN: SambaServiceDN, BindUPN: SambaServiceUPN, BindPassword: SambaServicePassword,
		AdminDN: SambaAdminDN, AdminUPN: SambaAdminUPN, AdminPassword: SambaAdminPassword,
		Generated: opts.People, Dir: inst,
		conf:    filepath.Join(inst, "etc", "smb.conf"),
		debug:   os.Getenv("TESTENV_DEBUG") != "",
		release: release,
		people:  map[string]SambaPerson{},
	}
	s.URL = "ldap://" + s.Addr + "/" + SambaBaseDN
	s.PeopleURL = "ldap://" + s.Addr + "/" + SambaPeopleDN
	s.LDAPSURL = "ldaps://" + s.LDAPSAddr + "/" + SambaBaseDN
	for _, p := range SambaPeople() {
		s.people[strings.ToLower(p.Sam)] = p
	}
	fail := func(err error) (*SambaAD, func(), error) {
		release()
		return nil, nil, err
	}
	cb, err := newCertBundleFor("samba", []net.IP{net.ParseIP(host)}, []string{"dc1." + SambaDNSDomain, SambaDNSDomain, "localhost"})
	if err != nil {
		return fail(err)
	}
	tlsDir := filepath.Join(inst, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return fail(fmt.Errorf("testenv: samba: TLS files: %w", err))
	}
	for name, data := range map[string][]byte{"ca.pem": cb.caPEM, "cert.pem": cb.certPEM, "key.pem": cb.keyPEM} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), data, 0o600); err != nil {
			return fail(fmt.Errorf("testenv: samba: TLS files: %w", err))
		}
	}
	s.CACert = string(cb.caPEM)
	for _, d := range []string{"run", "cache", "ncalrpc", "winbindd", "ntp_signd", "bind-dns"} {
		if err := os.MkdirAll(filepath.Join(inst, d), 0o755); err != nil {
			return fail(fmt.Errorf("testenv: samba: instance: %w", err))
		}
	}
	if err := os.WriteFile(s.conf, []byte(sambaConf(inst, host)), 0o644); err != nil {
		return fail(fmt.Errorf("testenv: samba: smb.conf: %w", err))
	}
	if err := s.Start(); err != nil {
		return fail(err)
	}
	return s, func() { s.Stop(); release() }, nil
}

// sambaConf renders the instance's smb.conf: only the LDAP service, simple
// binds over plain LDAP, its own address, every path inside dir, our TLS
// certificate.
func sambaConf(dir, host string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, "\t"+format+"\n", a...) }
	b.WriteString("# generated by testenv\n[global]\n")
	p("netbios name = DC1")
	p("realm = %s", SambaRealm)
	p("workgroup = %s", SambaDomain)
	p("server role = active directory domain controller")
	p("server services = ldap")
	p("ldap server require strong auth = no")
	p("interfaces = %s/8", host)
	p("bind interfaces only = yes")
	p("idmap_ldb:use rfc2307 = yes")
	for k, v := range map[string]string{"private dir": "private", "state directory": "state", "cache directory": "cache",
		"pid directory": "run", "binddns dir": "bind-dns", "ncalrpc dir": "ncalrpc",
		"winbindd socket directory": "winbindd", "ntp signd socket directory": "ntp_signd"} {
		p("%s = %s", k, filepath.Join(dir, v))
	}
	p("lock directory = %s", dir)
	p("log file = %s", filepath.Join(dir, "log.samba"))
	p("tls enabled = yes")
	p("tls keyfile = %s", filepath.Join(dir, "tls", "key.pem"))
	p("tls certfile = %s", filepath.Join(dir, "tls", "cert.pem"))
	p("tls cafile = %s", filepath.Join(dir, "tls", "ca.pem"))
	return b.String()
}

// sambaAddress picks a loopback address 127.0.0.2-254 for one instance: it
// holds a lock file (/tmp/authority-samba-addrs/127.0.0.x.lock) for the
// instance's life, so that parallel test processes never pick the same one,
// and checks that ports 389, 636, 3268 and 3269 are free there.
func sambaAddress() (host string, release func(), err error) {
	dir := filepath.Join(os.TempDir(), "authority-samba-addrs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("testenv: samba: address locks: %w", err)
	}
	start := rand.IntN(253)
	for i := range 253 {
		host := fmt.Sprintf("127.0.0.%d", 2+(start+i)%253)
		unlock, ok, err := tryLockFile(filepath.Join(dir, host+".lock"))
		if err != nil {
			return "", nil, fmt.Errorf("testenv: samba: address lock: %w", err)
		}
		if !ok {
			continue
		}
		if portsFree(host, 389, 636, 3268, 3269) {
			return host, unlock, nil
		}
		unlock()
	}
	return "", nil, fmt.Errorf("testenv: samba: no free loopback address 127.0.0.2-254 (ports 389/636 taken everywhere)")
}

func portsFree(host string, ports ...int) bool {
	for _, port := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// Start starts samba (again) on the same address and data, after Stop. It
// waits until LDAP answers a bind as the administrator and LDAPS a TLS
// handshake.
func (s *SambaAD) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("testenv: samba is already running")
	}
	args := []string{"-i", "-M", "single", "-s", s.conf}
	if s.debug {
		args = append(args, "--debuglevel=3")
	}
	cmd := exec.Command(SambaPath, args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = sambaSysProcAttr()
	s.output = &tailBuffer{max: 64 << 10}
	var out io.Writer = s.output
	if s.debug {
		out = io.MultiWriter(s.output, os.Stderr)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// samba -i ends when its stdin closes: a pipe held by this process.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("testenv: samba: start: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: samba: start: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.stdin, s.exited = cmd, stdin, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("testenv: samba: exited at start (%v): %s", cmd.ProcessState, lastLines(s.output.String(), 30))
		default:
		}
		err := s.ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("testenv: samba: did not answer within 60s: %v: %s", err, lastLines(s.output.String(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping binds as the administrator over LDAP and shakes hands over LDAPS.
func (s *SambaAD) ping() error {
	d := &net.Dialer{Timeout: time.Second}
	c, err := ldap.DialURL("ldap://"+s.Addr, ldap.DialWithDialer(d))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(5 * time.Second)
	if err := c.Bind(SambaAdminDN, SambaAdminPassword); err != nil {
		return err
	}
	tc, err := tls.DialWithDialer(d, "tcp", s.LDAPSAddr, s.TLSConfig())
	if err != nil {
		return err
	}
	return tc.Close()
}

// Stop stops samba: SIGTERM to its process group, SIGKILL after 5 s. It is
// idempotent; the address stays reserved for Start until the stop function
// of StartSambaADServer (or the test's cleanup) runs.
func (s *SambaAD) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

func (s *SambaAD) kill() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = signalGroup(pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = signalGroup(pid, syscall.SIGKILL)
		<-s.exited
	}
	_ = signalGroup(pid, syscall.SIGKILL) // a child left in the group
	s.stdin.Close()
	s.cmd = nil
}

// Restart stops and starts samba, keeping its address and data.
func (s *SambaAD) Restart() error {
	s.Stop()
	return s.Start()
}

// Output returns what samba wrote since its last start (the last 64 KiB).
func (s *SambaAD) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// TLSConfig returns a client TLS configuration that trusts the server's
// test CA, with ServerName Host.
func (s *SambaAD) TLSConfig() *tls.Config { return clientTLSConfigFor(s.CACert, s.Host) }

// URLFor returns the ldap:// URL of the server with this search base, e.g.
// URLFor("OU=Staff,OU=People,DC=acme,DC=test") (spaces and other unsafe
// characters URL-escaped).
func (s *SambaAD) URLFor(base string) string {
	return "ldap://" + s.Addr + "/" + pathEscapeDN(base)
}

func pathEscapeDN(dn string) string {
	var b strings.Builder
	for _, c := range []byte(dn) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("=,-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
