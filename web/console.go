package web

import "github.com/go-chi/chi/v5"

// consoleRoutes: the administrator's pages.
// (Placeholder: the console engineer owns this file.)
func (s *Server) consoleRoutes(r chi.Router) {}
