package web

import "github.com/go-chi/chi/v5"

// dirsyncRoutes: /dirsync/..., /settings/notifications (admin only).
// (Placeholder: the dirsync engineer owns this file.)
func (s *Server) dirsyncRoutes(r chi.Router) {}
