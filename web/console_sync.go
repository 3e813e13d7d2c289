package web

import "github.com/go-chi/chi/v5"

// consoleSyncRoutes: Sync history and Settings > Notifications.
func (s *Server) consoleSyncRoutes(r chi.Router) {}
