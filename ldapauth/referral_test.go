package ldapauth

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// addReferral adds ou=Remote under parent (the base DN when "") of s as a
// referral to ref (the ManageDsaIT control makes slapd store it instead of
// referring).
func addReferral(t *testing.T, s *testenv.Slapd, parent, ref string) {
	t.Helper()
	if parent == "" {
		parent = s.BaseDN
	}
	c, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := ldap.NewAddRequest("ou=Remote,"+parent, []ldap.Control{ldap.NewControlManageDsaIT(true)})
	req.Attribute("objectClass", []string{"referral", "extensibleObject"})
	req.Attribute("ou", []string{"Remote"})
	req.Attribute("ref", []string{ref})
	if err := c.Add(req); err != nil {
		t.Fatalf("add referral: %v", err)
	}
}

// bindRecord is one bind request as a directory received it.
type bindRecord struct{ DN, Password string }

// bindRecorder is a TCP proxy in front of an LDAP server that records every
// simple bind request it forwards: what the directory behind it was sent.
type bindRecorder struct {
	Addr  string
	mu    sync.Mutex
	binds []bindRecord
	conns int
}

// startBindRecorder proxies 127.0.0.1:random to target until the test ends.
func startBindRecorder(t *testing.T, target string) *bindRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &bindRecorder{Addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open []net.Conn
	var openMu sync.Mutex
	track := func(c net.Conn) { openMu.Lock(); open = append(open, c); openMu.Unlock() }
	t.Cleanup(func() {
		ln.Close()
		openMu.Lock()
		for _, c := range open {
			c.Close()
		}
		openMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(server)
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(client, server); client.Close() }()
			go func() { defer wg.Done(); r.forward(client, server); server.Close() }()
		}
	}()
	return r
}

// forward copies LDAP messages from client to server, one at a time,
// recording the bind requests among them.
func (r *bindRecorder) forward(client, server net.Conn) {
	var raw bytes.Buffer
	for {
		raw.Reset()
		p, err := ber.ReadPacket(io.TeeReader(client, &raw))
		if err != nil {
			return
		}
		if len(p.Children) >= 2 && p.Children[1].ClassType == ber.ClassApplication && p.Children[1].Tag == ldap.ApplicationBindRequest {
			op := p.Children[1]
			var rec bindRecord
			if len(op.Children) >= 3 {
				rec.DN = op.Children[1].Data.String()
				rec.Password = op.Children[2].Data.String()
			}
			r.mu.Lock()
			r.binds = append(r.binds, rec)
			r.mu.Unlock()
		}
		if _, err := server.Write(raw.Bytes()); err != nil {
			return
		}
	}
}

// Binds returns the bind requests forwarded so far and how many
// connections were made.
func (r *bindRecorder) Binds() ([]bindRecord, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.binds), r.conns
}

// searchNames returns the usernames the sync search of srv finds.
func searchNames(t *testing.T, srv Server) ([]string, error) {
	t.Helper()
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []string
	err = c.SearchAll(ctx, func(page []*Entry) error {
		for _, e := range page {
			out = append(out, srv.Person(e).Usernames...)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// TestReferrals: continuation references are ignored when referrals are not
// followed; followed, a reference to another server (here another port) is
// searched with an anonymous bind only. The directory behind it, seen
// through a recording proxy, receives neither the service account's DN and
// password nor, at sign-in, the person's password: a person found there
// cannot sign in. A referral to a server that is down is an error.
func TestReferrals(t *testing.T) {
	local := testenv.StartSlapd(t, []testenv.Person{{UID: "ann", SN: "Lee", Password: "pw"}, {UID: "ben", SN: "Ng", Password: "pw"}})
	remote := testenv.StartSlapd(t, []testenv.Person{{UID: "cat", SN: "Cho", Password: "cat-pw-42", OU: "Far"}}, testenv.WithAnonymousRead())
	proxy := startBindRecorder(t, remote.Addr)
	addReferral(t, local, "", "ldap://"+proxy.Addr+"/ou=Far,"+remote.BaseDN)
	ctx := testCtx(t)

	srv := slapdServer(local)
	got, err := searchNames(t, srv)
	if err != nil || !slices.Equal(got, []string{"ann", "ben"}) {
		t.Fatalf("referrals off: %v, %v (want ann, ben and no error)", got, err)
	}
	if _, conns := proxy.Binds(); conns != 0 {
		t.Fatalf("referrals off, yet %d connection(s) to the other server", conns)
	}
	srv.FollowReferrals = true
	got, err = searchNames(t, srv)
	if err != nil || !slices.Equal(got, []string{"ann", "ben", "cat"}) {
		t.Fatalf("referrals followed: %v, %v (want ann, ben and cat, found anonymously)", got, err)
	}
	if res := Test(ctx, srv); !res.Bindable || res.Matches != 3 {
		t.Errorf("Test with referrals followed: %+v", res)
	}
	if p, err := Preview(ctx, srv, "", 1, 10); err != nil || p.Total != 3 {
		t.Errorf("Preview with referrals followed: %+v %v", p, err)
	}
	// Signing in: ann lives on the configured server; cat only behind the
	// referral, where the password is never sent.
	if e, err := Authenticate(ctx, srv, "ann", "pw"); err != nil || e.DN != local.DN("ann") {
		t.Fatalf("ann: %v", err)
	}
	if _, err := Authenticate(ctx, srv, "cat", "cat-pw-42"); err != ErrCredentialsRefused {
		t.Errorf("cat, found through a referral to another server: %v, want ErrCredentialsRefused", err)
	}
	binds, conns := proxy.Binds()
	if conns == 0 || len(binds) == 0 {
		t.Fatalf("the other server was not asked: %d connection(s), binds %v", conns, binds)
	}
	for _, b := range binds {
		if b.DN != "" || b.Password != "" {
			t.Errorf("the other server received an authenticated bind as %q (password %s)", b.DN, describeSecret(b.Password, srv.BindPassword, "cat-pw-42"))
		}
	}

	// Referrals off: cat is not found, which is not an error.
	srv.FollowReferrals = false
	if _, err := Authenticate(ctx, srv, "cat", "cat-pw-42"); err != ErrCredentialsRefused {
		t.Fatalf("cat with referrals off: %v", err)
	}
	// A referral to a server that is down is an error when followed.
	remote.Stop()
	srv.FollowReferrals = true
	if _, err := searchNames(t, srv); err == nil || !strings.Contains(err.Error(), "referral") {
		t.Fatalf("referral to a stopped server: %v", err)
	}
}

// describeSecret names which secret a recorded password is, for the failure
// message (without printing it).
func describeSecret(got, service, person string) string {
	switch got {
	case service:
		return "the service account's"
	case person:
		return "the person's"
	}
	return "another"
}

// TestReferralSameServerKeepsServiceBind: a referral to the configured
// server itself (same scheme, host and port; another subtree) is searched
// with the service bind, and a person found there signs in there. The
// directory lets no anonymous client read, so finding dan proves it.
func TestReferralSameServerKeepsServiceBind(t *testing.T) {
	s := testenv.StartSlapd(t, []testenv.Person{{UID: "ann", SN: "Lee", Password: "pw", OU: "Near"}, {UID: "dan", SN: "Do", Password: "dan-pw", OU: "Far"}})
	near := "ou=Near," + s.BaseDN
	addReferral(t, s, near, "ldap://"+s.Addr+"/ou=Far,"+s.BaseDN)
	srv := slapdServer(s)
	srv.URL = "ldap://" + s.Addr + "/" + near
	srv.FollowReferrals = true
	got, err := searchNames(t, srv)
	if err != nil || !slices.Equal(got, []string{"ann", "dan"}) {
		t.Fatalf("a referral to the same server: %v, %v (want ann and dan)", got, err)
	}
	ctx := testCtx(t)
	if e, err := Authenticate(ctx, srv, "dan", "dan-pw"); err != nil || e.DN != s.DN("dan") {
		t.Fatalf("dan via a referral to the same server: %v", err)
	}
	if _, err := Authenticate(ctx, srv, "dan", "wrong"); !errors.Is(err, ErrCredentialsRefused) {
		t.Fatalf("dan with a wrong password: %v", err)
	}
}
