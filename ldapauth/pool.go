package ldapauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
)

// Defaults of a Pool.
const (
	DefaultPoolIdle    = 8                // idle connections kept per server and kind
	DefaultIdleTimeout = 60 * time.Second // an idle connection older than this is closed, not reused
)

// Pool keeps connections to LDAP servers open between sign-ins, so that a
// sign-in costs one search and one bind instead of two TCP (and TLS)
// handshakes and a service bind. Per server it keeps two kinds, at most
// MaxIdle idle of each:
//
//   - search connections, bound as the service account, used only to find
//     the person's entry; their binding never changes;
//   - bind connections, used only to bind as people: a bind replaces the
//     previous identity, and nothing but a bind is ever sent on them, so a
//     person's identity can never be used for a search.
//
// A server's connections are keyed by every setting that makes a
// connection (URL, TLS, bind DN and password, timeout...): after a change,
// the old ones are closed and new ones made. A reused connection that
// fails before answering (the server closed it while idle) is replaced by a
// fresh one once. The zero Pool is not usable; a nil *Pool keeps nothing.
type Pool struct {
	MaxIdle     int
	IdleTimeout time.Duration

	mu      sync.Mutex
	servers map[int64]*serverConns
	closed  bool
}

type serverConns struct {
	key            string
	search, binder []idleConn
}

type idleConn struct {
	c     *Conn
	since time.Time
}

// NewPool returns a pool with the default limits.
func NewPool() *Pool {
	return &Pool{MaxIdle: DefaultPoolIdle, IdleTimeout: DefaultIdleTimeout, servers: map[int64]*serverConns{}}
}

// Close closes every idle connection; the pool keeps nothing afterwards.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, s := range p.servers {
		s.closeAll()
		delete(p.servers, id)
	}
}

// Forget closes server id's idle connections (its settings changed or it
// was deleted).
func (p *Pool) Forget(id int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.servers[id]; s != nil {
		s.closeAll()
		delete(p.servers, id)
	}
}

func (s *serverConns) closeAll() {
	for _, ic := range append(s.search, s.binder...) {
		ic.c.Close()
	}
	s.search, s.binder = nil, nil
}

// connKey is every setting that makes a connection what it is.
func connKey(srv Server) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%q|%v|%q|%v|%v|%q|%q|%d|%v", srv.URL, srv.StartTLS, srv.CACertificate, srv.AllowUnsafeCerts,
		srv.BindAnonymously, srv.BindDN, srv.BindPassword, srv.TimeoutSeconds, srv.FollowReferrals)))
	return string(sum[:])
}

// take returns an idle connection of srv of the kind (nil when none).
func (p *Pool) take(srv Server, bind bool) *Conn {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.servers[srv.ID]
	if s == nil {
		return nil
	}
	if s.key != connKey(srv) {
		s.closeAll()
		delete(p.servers, srv.ID)
		return nil
	}
	list := &s.search
	if bind {
		list = &s.binder
	}
	for len(*list) > 0 {
		ic := (*list)[len(*list)-1]
		*list = (*list)[:len(*list)-1]
		if time.Since(ic.since) < p.IdleTimeout && ic.c.l != nil && !ic.c.l.IsClosing() {
			return ic.c
		}
		ic.c.Close()
	}
	return nil
}

// put keeps c for reuse, or closes it when the pool is full, closed, or c
// is broken.
func (p *Pool) put(srv Server, c *Conn, bind bool) {
	if p == nil || c == nil || c.l == nil || c.l.IsClosing() {
		c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return
	}
	key := connKey(srv)
	s := p.servers[srv.ID]
	if s == nil || s.key != key {
		if s != nil {
			s.closeAll()
		}
		s = &serverConns{key: key}
		p.servers[srv.ID] = s
	}
	list := &s.search
	if bind {
		list = &s.binder
	}
	if len(*list) >= p.MaxIdle {
		c.Close()
		return
	}
	*list = append(*list, idleConn{c: c, since: time.Now()})
}

// findUsers finds username's entries on a search connection of the pool,
// retrying once on a fresh connection when a reused one fails.
func (p *Pool) findUsers(ctx context.Context, srv Server, username string) ([]*Entry, error) {
	if c := p.take(srv, false); c != nil {
		entries, err := c.FindUsers(ctx, username)
		if err == nil {
			p.put(srv, c, false)
			return entries, nil
		}
		c.Close()
		if ctx.Err() != nil {
			return nil, err
		}
	}
	c, err := Dial(ctx, srv)
	if err != nil {
		return nil, err
	}
	entries, err := c.FindUsers(ctx, username)
	if err != nil {
		c.Close()
		return nil, err
	}
	p.put(srv, c, false)
	return entries, nil
}

// bind binds as dn with password on a bind connection of the pool. A
// refusal by the directory (an LDAP result) leaves the connection healthy;
// a reused connection that fails otherwise is replaced once.
func (p *Pool) bind(ctx context.Context, srv Server, dn, password string) error {
	if c := p.take(srv, true); c != nil {
		err := c.bindAs(ctx, dn, password)
		if err == nil || isLDAPResult(err) {
			p.put(srv, c, true)
			return err
		}
		c.Close()
		if ctx.Err() != nil {
			return err
		}
	}
	c, err := connect(ctx, srv)
	if err != nil {
		return err
	}
	err = c.bindAs(ctx, dn, password)
	if err == nil || isLDAPResult(err) {
		p.put(srv, c, true)
		return err
	}
	c.Close()
	return err
}

// isLDAPResult reports whether err is the directory's answer (a result
// code), not a broken connection.
func isLDAPResult(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode != 0 && le.ResultCode < ldap.ErrorNetwork
}

// Authenticate is the package's Authenticate on the pool's connections: the
// search on a service-bound connection, the person's bind on a bind
// connection, both kept open for the next sign-in.
func (p *Pool) Authenticate(ctx context.Context, srv Server, username, password string) (*Entry, error) {
	if p == nil {
		return Authenticate(ctx, srv, username, password)
	}
	if password == "" || strings.TrimSpace(username) == "" {
		return nil, ErrCredentialsRefused
	}
	entries, err := p.findUsers(ctx, srv, username)
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 {
		return nil, ErrCredentialsRefused
	}
	e := entries[0]
	if strings.TrimSpace(e.DN) == "" || !holdsUsername(srv, e, username) || e.foreign {
		return nil, ErrCredentialsRefused
	}
	if e.origin != "" {
		// Found through a followed referral to the configured server itself
		// (another subtree): bind on a connection of its own, as Authenticate does.
		target := srv
		target.URL = e.origin
		target.StartTLS = srv.StartTLS && strings.HasPrefix(e.origin, "ldap://")
		uc, err := connect(ctx, target)
		if err != nil {
			return nil, err
		}
		defer uc.Close()
		return bindResult(srv, e, uc.bindAs(ctx, e.DN, password))
	}
	return bindResult(srv, e, p.bind(ctx, srv, e.DN, password))
}

// bindResult turns the person's bind into Authenticate's answer.
func bindResult(srv Server, e *Entry, err error) (*Entry, error) {
	switch {
	case err == nil:
		return e, nil
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultInvalidDNSyntax,
		ldap.LDAPResultNoSuchObject, ldap.LDAPResultConstraintViolation, ldap.ErrorEmptyPassword):
		return nil, ErrCredentialsRefused
	default:
		return nil, apperr.Unavailable(err, "ldapauth: bind as the user to %s", srv.URL)
	}
}
