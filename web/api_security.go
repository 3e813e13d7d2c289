package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// securityRoutes are the sign-in security settings (SPEC section 10).
func (s *Server) securityRoutes(r chi.Router) {
	r.Get("/settings/security", s.handleGetSecurity)
	r.Put("/settings/security", s.handlePutSecurity)
}

func (s *Server) handleGetSecurity(w http.ResponseWriter, r *http.Request) {
	st, err := s.SignIn.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}

// handlePutSecurity saves the settings; fields left out keep their values.
func (s *Server) handlePutSecurity(w http.ResponseWriter, r *http.Request) {
	st, err := s.SignIn.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.decodeJSON(w, r, &st) {
		return
	}
	out, err := s.SignIn.SaveSettings(r.Context(), st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}
