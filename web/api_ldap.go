package web

import "github.com/go-chi/chi/v5"

// ldapRoutes: /ldap/servers..., /settings/ldap (admin only).
// (Placeholder: the LDAP engineer owns this file.)
func (s *Server) ldapRoutes(r chi.Router) {}
