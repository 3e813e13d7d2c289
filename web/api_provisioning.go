package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/provisioning/scimapi"
)

// provisioningRoutes: the provisioning providers of SCIM (admin only).
func (s *Server) provisioningRoutes(r chi.Router) {
	if s.Prov == nil {
		return
	}
	r.Get("/provisioning/providers", s.handleListProviders)
	r.Post("/provisioning/providers", s.handleCreateProvider)
	r.Get("/provisioning/providers/{id}", s.handleGetProvider)
	r.Patch("/provisioning/providers/{id}", s.handlePatchProvider)
	r.Delete("/provisioning/providers/{id}", s.handleDeleteProvider)
	r.Post("/provisioning/providers/{id}/credentials", s.handleProviderCredentials)
	r.Post("/provisioning/providers/{id}/apply", s.handleApplyProvider)
	r.Get("/provisioning/providers/{id}/log", s.handleProviderLog)
}

// providerView is a provider as the API shows it: with the base URL a
// provider is configured with, never with credentials (except once, on
// creation and regeneration).
type providerView struct {
	provisioning.Provider
	BaseURL string `json:"baseUrl"`
	*provisioning.Credentials
}

// scimBaseURL is the SCIM base URL as the client reached this server.
func (s *Server) scimBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || s.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host + scimapi.Prefix
}

func (s *Server) view(r *http.Request, p provisioning.Provider, c *provisioning.Credentials) providerView {
	return providerView{Provider: p, BaseURL: s.scimBaseURL(r), Credentials: c}
}

func (s *Server) handleListProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Prov.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]providerView, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.view(r, p, nil))
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateProvider(w http.ResponseWriter, r *http.Request) {
	var in provisioning.Input
	if !s.decodeJSON(w, r, &in) {
		return
	}
	p, creds, err := s.Prov.Create(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, http.StatusCreated, s.view(r, p, &creds))
}

func (s *Server) handleGetProvider(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	p, err := s.Prov.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, s.view(r, p, nil))
}

func (s *Server) handlePatchProvider(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in provisioning.Input
	if !s.decodeJSON(w, r, &in) {
		return
	}
	p, err := s.Prov.Update(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, s.view(r, p, nil))
}

func (s *Server) handleDeleteProvider(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	if err := s.Prov.Delete(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleProviderCredentials(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	creds, err := s.Prov.Regenerate(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.Prov.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, http.StatusOK, s.view(r, p, &creds))
}

func (s *Server) handleApplyProvider(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	n, err := s.Prov.Apply(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"users": n})
}

func (s *Server) handleProviderLog(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			s.writeError(w, http.StatusBadRequest, "page must be a number from 1", map[string]any{"field": "page"})
			return
		}
		page = n
	}
	out, err := s.Prov.SyncLog(r.Context(), id, page)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}
