package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
)

// Dial retry policy for a server that refuses the connection (it may be
// restarting): DialAttempts tries in all, waiting DialRetryDelay, then twice
// that, between them. Nothing else is retried (in particular not a failed
// bind, which could lock the service account out).
const (
	DialAttempts   = 3
	DialRetryDelay = 200 * time.Millisecond
)

// ldapTimeoutMargin is how much later than the operation's deadline
// go-ldap's own request timer fires.
const ldapTimeoutMargin = 5 * time.Second

// maxReferralHops bounds how far followed referrals are chased.
const maxReferralHops = 3

// everyAttribute is what a read of one whole entry asks for: all user
// attributes plus the operational ones the product uses (memberOf and
// entryUUID are operational on OpenLDAP, nsUniqueId on 389 DS) and the
// server's stable id attributes.
func everyAttribute(srv Server) []string {
	return append([]string{"*", "memberOf"}, srv.StableIDAttributes()...)
}

// Conn is a connection to one LDAP server, bound as the service account
// (or anonymously). It is not safe for concurrent use. A Conn whose
// operation failed, timed out or was cancelled should be closed.
type Conn struct {
	srv     Server
	u       serverURL
	l       *ldap.Conn
	timeout time.Duration
	hops    int // referral depth of this connection (0: the configured server)
	// home is the configured server: the only one its service credentials
	// (and a person's password) are sent to. Conns made to follow
	// referrals carry it on.
	home  Server
	homeU serverURL
	// noPaging leaves the paging control out, as a server that ignores it
	// would (tests use it to reach the server's unpaged size limit).
	noPaging bool
}

// Dial connects to srv (TCP, then TLS for ldaps:// or StartTLS), retrying a
// refused connection briefly, and binds as the service account (or
// anonymously when srv.BindAnonymously). Failures are *apperr.Error of kind
// KindUnavailable that say what failed; they never contain the password.
func Dial(ctx context.Context, srv Server) (*Conn, error) {
	c, err := connect(ctx, srv)
	if err != nil {
		return nil, err
	}
	if err := c.serviceBind(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c == nil || c.l == nil {
		return nil
	}
	return c.l.Close()
}

// Server returns the server the connection was made to.
func (c *Conn) Server() Server { return c.srv }

// connect opens the TCP connection and sets up TLS, without binding.
func connect(ctx context.Context, srv Server) (*Conn, error) {
	u, err := parseServerURL(srv.URL)
	if err != nil {
		return nil, apperr.Unavailable(nil, "ldapauth: dial %s: url %v", srv.URL, err)
	}
	if srv.StartTLS && u.scheme == "ldaps" {
		return nil, apperr.Unavailable(nil, "ldapauth: dial %s: startTLS is only for ldap:// URLs (ldaps:// is already encrypted)", srv.URL)
	}
	cfg, err := tlsConfig(srv, u)
	if err != nil {
		return nil, apperr.Unavailable(nil, "ldapauth: dial %s: %v", srv.URL, err)
	}
	c := &Conn{srv: srv, u: u, timeout: srv.Timeout(), home: srv, homeU: u}
	delay := DialRetryDelay
	for attempt := 1; ; attempt++ {
		err = c.dialOnce(ctx, cfg)
		if err == nil {
			return c, nil
		}
		if attempt >= DialAttempts || !errors.Is(err, syscall.ECONNREFUSED) || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, apperr.Unavailable(ctx.Err(), "ldapauth: dial %s", srv.URL)
		case <-t.C:
		}
		delay *= 2
	}
	return nil, apperr.Unavailable(err, "ldapauth: dial %s", srv.URL)
}

// dialOnce makes one connection attempt: TCP, TLS handshake or StartTLS.
func (c *Conn) dialOnce(ctx context.Context, cfg *tls.Config) error {
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", c.u.addr())
	if err != nil {
		return err
	}
	isTLS := false
	if c.u.scheme == "ldaps" {
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return fmt.Errorf("TLS handshake: %w", err)
		}
		nc, isTLS = tc, true
	}
	l := ldap.NewConn(nc, isTLS)
	l.Start()
	// go-ldap's own per-request timer is a backstop only: the context
	// deadline of op (c.timeout) fires first and closes the connection. The
	// margin also means go-ldap can never give up delivering a packet (which
	// it does silently after its timeout) while an operation is still
	// considered running.
	l.SetTimeout(c.timeout + ldapTimeoutMargin)
	c.l = l
	if c.srv.StartTLS {
		err := c.op(dctx, func() error { return l.StartTLS(cfg) })
		if err != nil {
			l.Close()
			c.l = nil
			return fmt.Errorf("StartTLS failed, so the connection was closed (it never falls back to clear text): %w", err)
		}
	}
	return nil
}

// tlsConfig is the TLS trust for srv: only its CA certificate when one is
// given, the system roots otherwise; no verification at all with
// AllowUnsafeCerts.
func tlsConfig(srv Server, u serverURL) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: u.host, MinVersion: tls.VersionTLS12}
	if strings.TrimSpace(srv.CACertificate) != "" {
		pool, err := certPool(srv.CACertificate)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if srv.AllowUnsafeCerts {
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// certPool parses PEM certificates into a pool; the error says what is wrong.
func certPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(pemText)
	n := 0
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("caCertificate: certificate %d does not parse: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("caCertificate: no PEM certificate found: paste the CA certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
	}
	return pool, nil
}

// op runs one LDAP operation with the per-operation time limit: when ctx
// ends or the limit passes, the connection is closed, which ends the
// operation with an error.
func (c *Conn) op(ctx context.Context, fn func() error) error {
	if c.l == nil {
		return errors.New("ldapauth: the connection is closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(octx, func() { c.l.Close() })
	err := fn()
	if !stop() {
		// The deadline or a cancellation closed the connection: whatever fn
		// returned, the operation did not finish in time.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("no answer within %s (timeoutSeconds): %w", c.timeout, context.DeadlineExceeded)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// serviceBind binds as the service account, or anonymously. An empty
// password is never sent (that would be an unauthenticated bind, which many
// servers accept as anonymous).
func (c *Conn) serviceBind(ctx context.Context) error {
	if c.srv.BindAnonymously {
		if err := c.op(ctx, func() error { return c.l.UnauthenticatedBind("") }); err != nil {
			return apperr.Unavailable(err, "ldapauth: anonymous bind to %s", c.srv.URL)
		}
		return nil
	}
	if c.srv.BindPassword == "" {
		return apperr.Unavailable(nil, "ldapauth: service bind to %s: no bind password is stored: set bindPassword, or turn on bindAnonymously", c.srv.URL)
	}
	err := c.op(ctx, func() error { return c.l.Bind(c.srv.BindDN, c.srv.BindPassword) })
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return apperr.Unavailable(err, "ldapauth: service bind as %s to %s: the directory refused the bind DN or password", c.srv.BindDN, c.srv.URL)
		}
		return apperr.Unavailable(err, "ldapauth: service bind as %s to %s", c.srv.BindDN, c.srv.URL)
	}
	return nil
}

// SearchAll runs the sync search (the filter with %u → *) from the base DN
// as a paged search (RFC 2696, the server's page size) and calls fn once per
// page, as the pages arrive; no more than one page is held in memory.
// Continuation references are ignored unless the server follows referrals.
//
// A search that does not complete (a result other than success: size or
// time limit, busy, unavailable, a referral result; a dropped connection; ctx
// cancelled or its deadline passed; no answer within timeoutSeconds) is an
// *apperr.Error of kind KindUnavailable saying on which page it happened,
// e.g. "ldapauth: search page 3 of ldap://...: ...". An error returned by fn
// stops the search and is returned wrapped (errors.Is works).
func (c *Conn) SearchAll(ctx context.Context, fn func(page []*Entry) error) error {
	return c.searchPaged(ctx, c.u.baseDN, c.srv.SyncFilter(), fn)
}

// FindUsers searches for the entries of one username (the filter with %u →
// the username, escaped exactly once; "*" or "(" in a username match
// literally). Sign-in wants exactly one.
//
// Only entries whose username attribute holds the username
// (case-insensitively, surrounding spaces ignored) are returned: a directory
// that evaluates the filter loosely (glauth drops the escaping and matches
// "alice*" as a wildcard) never makes one username find someone else.
func (c *Conn) FindUsers(ctx context.Context, username string) ([]*Entry, error) {
	var out []*Entry
	err := c.searchPaged(ctx, c.u.baseDN, c.srv.UserFilter(username), func(page []*Entry) error {
		for _, e := range page {
			if holdsUsername(c.srv, e, username) {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count counts the entries of the sync filter with a paged search, keeping
// none of them.
func (c *Conn) Count(ctx context.Context) (int, error) {
	n := 0
	err := c.SearchAll(ctx, func(page []*Entry) error { n += len(page); return nil })
	return n, err
}

// searchPaged runs a paged subtree search from base and streams the pages.
func (c *Conn) searchPaged(ctx context.Context, base, filter string, fn func([]*Entry) error) error {
	return c.searchPagedAttrs(ctx, base, filter, searchAttributesOf(c.srv), fn)
}

// searchPagedAttrs is searchPaged asking for attrs.
func (c *Conn) searchPagedAttrs(ctx context.Context, base, filter string, attrs []string, fn func([]*Entry) error) error {
	size := c.srv.pageSize()
	paging := ldap.NewControlPaging(uint32(size))
	controls := []ldap.Control{paging}
	if c.noPaging {
		controls = nil
	}
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(c.timeout/time.Second), false, filter, attrs, controls)
	var refs []string
	for pageNo := 1; ; pageNo++ {
		var res *ldap.SearchResult
		err := c.op(ctx, func() (err error) {
			res, err = c.l.Search(req)
			return err
		})
		if err == nil && res == nil {
			err = errors.New("no result")
		}
		if err != nil {
			return apperr.Unavailable(err, "ldapauth: search page %d of %s", pageNo, c.srv.URL)
		}
		page := make([]*Entry, 0, len(res.Entries))
		for _, le := range res.Entries {
			e := decodeEntry(le, c.srv.SensitiveAttributes)
			if c.hops > 0 {
				e.origin = c.srv.URL
				e.foreign = !sameEndpoint(c.u, c.homeU)
			}
			page = append(page, e)
		}
		refs = append(refs, res.Referrals...)
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return fmt.Errorf("ldapauth: search page %d of %s: %w", pageNo, c.srv.URL, err)
			}
		}
		var cookie []byte
		if ctl := ldap.FindControl(res.Controls, ldap.ControlTypePaging); ctl != nil {
			pc, ok := ctl.(*ldap.ControlPaging)
			if !ok {
				return apperr.Unavailable(nil, "ldapauth: search page %d of %s: the server answered a malformed paging control", pageNo, c.srv.URL)
			}
			cookie = pc.Cookie
		} else if pageNo > 1 {
			// The server paged, then stopped: the rest is missing.
			return apperr.Unavailable(nil, "ldapauth: search page %d of %s: the server stopped answering the paging control, so the result may be incomplete", pageNo, c.srv.URL)
		}
		// No control on the first page: the server does not page and sent
		// everything (with success) at once.
		if len(cookie) == 0 {
			break
		}
		paging.SetCookie(cookie)
	}
	if c.srv.FollowReferrals && len(refs) > 0 {
		return c.followReferrals(ctx, refs, filter, attrs, fn)
	}
	return nil
}

// followReferrals searches each continuation reference (the same filter and
// TLS settings) and streams its pages to fn. A reference to the configured
// server itself (same scheme, host and port) is searched with its service
// bind; one to any other server with an anonymous bind only: the service
// account's password is never sent to a server it was not entered for.
func (c *Conn) followReferrals(ctx context.Context, refs []string, filter string, attrs []string, fn func([]*Entry) error) error {
	if c.hops >= maxReferralHops {
		return apperr.Unavailable(nil, "ldapauth: search of %s: referrals nested deeper than %d servers", c.srv.URL, maxReferralHops)
	}
	seen := map[string]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		ru, err := parseReferral(ref)
		if err != nil {
			return apperr.Unavailable(err, "ldapauth: search of %s: cannot follow referral %q", c.srv.URL, ref)
		}
		if ru.baseDN == "" {
			ru.baseDN = c.u.baseDN
		}
		next := c.home
		next.URL = (&url.URL{Scheme: ru.scheme, Host: ru.addr(), Path: "/" + ru.baseDN}).String()
		next.StartTLS = c.home.StartTLS && ru.scheme == "ldap"
		if !sameEndpoint(ru, c.homeU) {
			next.BindAnonymously, next.BindDN, next.BindPassword = true, "", ""
		}
		nc, err := connect(ctx, next)
		if err == nil {
			nc.home, nc.homeU, nc.hops = c.home, c.homeU, c.hops+1
			if err = nc.serviceBind(ctx); err == nil {
				err = nc.searchPagedAttrs(ctx, ru.baseDN, filter, attrs, fn)
			}
			nc.Close()
		}
		if err != nil {
			return fmt.Errorf("ldapauth: follow referral %s from %s: %w", ref, c.srv.URL, err)
		}
	}
	return nil
}

// parseReferral parses an LDAP URL of a referral or continuation reference:
// ldap:// or ldaps://, a host, an optional port (the scheme's default when
// absent) and an optional base DN ("" when absent). Attributes, scope and
// filter (after "?") are ignored, as RFC 4511 lets a client do.
func parseReferral(ref string) (serverURL, error) {
	var out serverURL
	u, err := url.Parse(ref)
	if err != nil {
		return out, err
	}
	out.scheme = strings.ToLower(u.Scheme)
	if out.scheme != "ldap" && out.scheme != "ldaps" {
		return out, fmt.Errorf("not an ldap:// or ldaps:// URL")
	}
	out.host = u.Hostname()
	if out.host == "" {
		return out, fmt.Errorf("no host")
	}
	out.port = u.Port()
	if out.port == "" {
		out.port = DefaultLDAPPort
		if out.scheme == "ldaps" {
			out.port = DefaultLDAPSPort
		}
	}
	out.baseDN = strings.TrimPrefix(u.Path, "/")
	return out, nil
}

// sameEndpoint reports whether a and b are the same server: the same scheme,
// host (case-insensitively) and port. Two names of one machine are two
// servers here: credentials go only to the name they were entered for.
func sameEndpoint(a, b serverURL) bool {
	return a.scheme == b.scheme && strings.EqualFold(a.host, b.host) && a.port == b.port
}

// bindAs binds this (fresh, unbound) connection as dn with password. The
// caller has refused an empty password already.
func (c *Conn) bindAs(ctx context.Context, dn, password string) error {
	return c.op(ctx, func() error { return c.l.Bind(dn, password) })
}
