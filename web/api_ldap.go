package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
)

// ldapRoutes: /ldap/servers..., /settings/ldap (admin only).
//
// Server bodies are ldapauth.ServerInput (every field optional; PATCH
// changes only the fields present; "bindPassword" present is the explicit
// "edit password" action, "" clears it). Answers are ldapauth.Server, which
// never contains the bind password (only "hasBindPassword").
//
// POST /ldap/servers/test and POST /ldap/servers/{id}/test take an optional
// ServerInput body: unsaved edits to test (over the stored server, or over
// the defaults for a new one); nothing is saved. The preview and try-script
// always use the stored server.
func (s *Server) ldapRoutes(r chi.Router) {
	r.Get("/ldap/servers", s.handleListLDAPServers)
	r.Post("/ldap/servers", s.handleCreateLDAPServer)
	r.Post("/ldap/servers/test", s.handleTestLDAPServer)
	r.Get("/ldap/servers/{id}", s.handleGetLDAPServer)
	r.Patch("/ldap/servers/{id}", s.handlePatchLDAPServer)
	r.Delete("/ldap/servers/{id}", s.handleDeleteLDAPServer)
	r.Post("/ldap/servers/{id}/test", s.handleTestLDAPServer)
	r.Get("/ldap/servers/{id}/preview", s.handlePreviewLDAPServer)
	r.Post("/ldap/servers/{id}/try-script", s.handleTryLDAPScript)
	r.Get("/settings/ldap", s.handleGetLDAPSettings)
	r.Put("/settings/ldap", s.handlePutLDAPSettings)
}

func (s *Server) handleListLDAPServers(w http.ResponseWriter, r *http.Request) {
	list, err := s.LDAP.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleCreateLDAPServer(w http.ResponseWriter, r *http.Request) {
	var in ldapauth.ServerInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	srv, err := s.LDAP.Create(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, srv)
}

func (s *Server) handleGetLDAPServer(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, srv)
}

func (s *Server) handlePatchLDAPServer(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in ldapauth.ServerInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	srv, err := s.LDAP.Update(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, srv)
}

func (s *Server) handleDeleteLDAPServer(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	if err := s.LDAP.Delete(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTestLDAPServer answers 200 {"reachable","bindable","matches","error"}
// also when the server is down: the flags say how far it got.
func (s *Server) handleTestLDAPServer(w http.ResponseWriter, r *http.Request) {
	var id int64
	if chi.URLParam(r, "id") != "" {
		var ok bool
		if id, ok = s.pathID(w, r, "id"); !ok {
			return
		}
	}
	var in ldapauth.ServerInput
	if r.ContentLength != 0 {
		if !s.decodeJSON(w, r, &in) {
			return
		}
	} else if id == 0 {
		s.fail(w, r, apperr.Invalid("body", "send the server settings to test, or test a stored server with POST /ldap/servers/{id}/test"))
		return
	}
	srv, err := s.LDAP.Draft(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ldapauth.Test(r.Context(), srv))
}

func (s *Server) handlePreviewLDAPServer(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	q := r.URL.Query()
	page, pageSize := 1, ldapauth.DefaultPreviewPageSize
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &page, 1 << 30}, {"pageSize", &pageSize, ldapauth.MaxPreviewPageSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				s.fail(w, r, apperr.Invalid(p.name, "must be a whole number from 1 to %d", p.max))
				return
			}
			*p.dst = n
		}
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := ldapauth.Preview(r.Context(), srv, q.Get("search"), page, pageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}

// handleTryLDAPScript runs one script on one entry:
// {"script","kind":"active|orgName|roleName","dn" or "username"} →
// {"dn","username","kind","result","error","line","column"}. A script that
// does not compile is a 400 with field "script", line and column; a script
// that fails on the entry is a 200 with "error".
func (s *Server) handleTryLDAPScript(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		Script   string `json:"script"`
		Kind     string `json:"kind"`
		DN       string `json:"dn"`
		Username string `json:"username"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := ldapauth.TryScript(r.Context(), srv, in.Kind, in.Script, in.DN, in.Username)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleGetLDAPSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.LDAP.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}

// handlePutLDAPSettings replaces the LDAP settings; fields left out of the
// body keep their current values.
func (s *Server) handlePutLDAPSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.LDAP.Settings(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.decodeJSON(w, r, &st) {
		return
	}
	st, err = s.LDAP.SaveSettings(r.Context(), st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}
