package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/provisioning/scimapi"
)

// routes is the one table of every path the server answers.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders)
	r.Use(s.countSignIns, s.strictTransport) // ops.go
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(limitBody)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path, nil)
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path, nil)
		})
		r.Post("/login", s.handleLogin)
		r.Post("/auth/token", s.handleToken)
		r.Group(func(r chi.Router) {
			r.Use(s.requireAdmin)
			r.Use(s.auditActor) // audit.go: who acts, for the audit log
			r.Delete("/auth/token", s.handleRevokeToken)
			s.coreRoutes(r)         // api_core.go
			s.ldapRoutes(r)         // api_ldap.go
			s.dirsyncRoutes(r)      // api_dirsync.go
			s.auditRoutes(r)        // api_audit.go
			s.provisioningRoutes(r) // api_provisioning.go

			// Sign-in security settings: api_security.go.
			s.securityRoutes(r)
		})
	})
	if s.SCIM != nil {
		r.Handle(scimapi.Prefix+"/*", s.SCIM) // SCIM 2.0: the provider's own credentials
		r.Handle(scimapi.Prefix, s.SCIM)
	}
	s.opsRoutes(r)     // ops.go
	s.consoleRoutes(r) // console*.go
	return r
}
