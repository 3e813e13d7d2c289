package web

import (
	"context"

	"github.com/go-chi/chi/v5"
)

// consoleLDAPRoutes: Settings > Security > LDAP and LDAP Server Setup.
func (s *Server) consoleLDAPRoutes(r chi.Router) {}

// ldapServerOptions lists the LDAP servers for pickers.
func (s *Server) ldapServerOptions(ctx context.Context) ([]serverOption, error) {
	return nil, nil
}
