package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
)

// auditRoutes: the audit log (admin only).
//
//	GET /audit?page=&pageSize=&actor=&action= → {"total","page","pageSize","entries":[entry...]}, newest first
func (s *Server) auditRoutes(r chi.Router) {
	r.Get("/audit", s.handleAudit)
}

// handleAudit answers a page of the audit log. actor is a username
// (ignoring case); action an action name or its start up to a dot ("user").
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if s.Audit == nil {
		s.writeError(w, http.StatusServiceUnavailable, "the audit log is not available on this server", nil)
		return
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action")}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &f.Page}, {"pageSize", &f.PageSize}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				s.fail(w, r, apperr.Invalid(p.name, "must be a whole number from 1, not %q", v))
				return
			}
			*p.dst = n
		}
	}
	for name, v := range map[string]string{"actor": f.Actor, "action": f.Action} {
		if len(v) > maxFilterLength {
			s.fail(w, r, apperr.Invalid(name, "must be at most %d characters", maxFilterLength))
			return
		}
	}
	page, err := s.Audit.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, page)
}

// maxFilterLength bounds the audit log's filters (a username is at most 256).
const maxFilterLength = 256
