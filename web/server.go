// Package web serves the JSON API (/api/v1) and the administrator's console
// pages from one http.Handler.
package web

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/health"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/signin"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Server holds the services the handlers use.
type Server struct {
	Orgs   *orgs.Service
	Users  *users.Service
	Holds  *legalhold.Service
	SignIn *signin.Service
	LDAP   *ldapauth.Service
	Sync   *dirsync.Service
	Log    *slog.Logger
	Now    func() time.Time
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (authority serve --trusted-proxies); nil: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// SecureCookies marks console cookies Secure (set when served over TLS).
	SecureCookies bool
	// Audit is the audit log: the services record administrators' changes in
	// it (auditActor says who acts); GET /audit and the Audit log page read it.
	Audit *audit.Log
	// Health answers /readyz (ready with no checks when nil).
	Health *health.Checker
	// Metrics answers /metrics (metrics.Handler() when nil).
	Metrics http.Handler
	// Prov keeps the provisioning providers (nil: no provisioning API).
	Prov *provisioning.Service
	// SCIM serves /scim/v2 (nil: not served).
	SCIM http.Handler
}

// Handler returns the HTTP handler for the API and the console.
func (s *Server) Handler() http.Handler {
	s.defaults()
	return s.routes()
}

func (s *Server) defaults() {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}
