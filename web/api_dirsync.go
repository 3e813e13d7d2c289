package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/apperr"
)

// dirsyncRoutes: /dirsync/..., /settings/notifications (admin only).
//
//	POST /dirsync/runs {"simulate","overrideValve"} → 202 {"id","status":"running"}; 409 while a run goes on
//	GET  /dirsync/runs?limit=&offset=&changesLimit= → [run...], newest first (X-Total-Count: all runs)
//	GET  /dirsync/runs/{id}?changesLimit=&changesOffset= → run with its change lines
//	POST /dirsync/runs/{id}/cancel → the run once it has stopped (status cancelled); 409 when it has ended
//	GET  /dirsync/status → {"running","runningId","lastRunAt","nextRunAt","interval","lastRun"}
//	GET  /settings/notifications, PUT /settings/notifications → {"emails","smtp":{...}}
//	POST /settings/notifications/test → 204 when a test email was sent
func (s *Server) dirsyncRoutes(r chi.Router) {
	r.Post("/dirsync/runs", s.handleStartSync)
	r.Get("/dirsync/runs", s.handleListSyncRuns)
	r.Get("/dirsync/runs/{id}", s.handleGetSyncRun)
	r.Post("/dirsync/runs/{id}/cancel", s.handleCancelSyncRun)
	r.Get("/dirsync/status", s.handleSyncStatus)
	r.Get("/settings/notifications", s.handleGetNotifications)
	r.Put("/settings/notifications", s.handlePutNotifications)
	r.Post("/settings/notifications/test", s.handleTestNotifications)
}

func (s *Server) handleStartSync(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Simulate      bool   `json:"simulate"`
		OverrideValve bool   `json:"overrideValve"`
		Mode          string `json:"mode"` // "full" (default) or "incremental"
	}
	// An empty body is {}: "Synchronize now".
	body, err := io.ReadAll(r.Body)
	if big := (*http.MaxBytesError)(nil); errors.As(err, &big) {
		s.writeError(w, http.StatusRequestEntityTooLarge, "body: "+tooLarge(big), map[string]any{"field": "body"})
		return
	}
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "body: could not read the request body: "+err.Error(), map[string]any{"field": "body"})
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !s.decodeJSON(w, r, &in) {
			return
		}
	}
	if in.Mode != "" && in.Mode != dirsync.ModeFull && in.Mode != dirsync.ModeIncremental {
		s.writeError(w, http.StatusBadRequest, `mode must be "full" or "incremental"`, map[string]any{"field": "mode"})
		return
	}
	a := admin(r)
	run, err := s.Sync.Start(r.Context(), dirsync.Request{Simulate: in.Simulate, OverrideValve: in.OverrideValve,
		Incremental: in.Mode == dirsync.ModeIncremental,
		Subject:     &dirsync.Subject{UserID: a.ID, Username: a.Username, OrgID: a.OrgID}})
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindConflict {
			extra := map[string]any{}
			if id := s.Sync.Running(); id != 0 {
				extra["runningId"] = id
			}
			s.writeError(w, http.StatusConflict, e.Error(), extra)
			return
		}
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/dirsync/runs/"+strconv.FormatInt(run.ID, 10))
	s.writeJSON(w, http.StatusAccepted, map[string]any{"id": run.ID, "status": run.Status, "trigger": run.Trigger,
		"simulated": run.Simulated, "overrideValve": run.OverrideValve, "startedAt": run.StartedAt})
}

// dirsyncQueryInt reads a whole-number query parameter from 0 to max (def when absent).
func (s *Server) dirsyncQueryInt(w http.ResponseWriter, r *http.Request, name string, def, max int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		s.fail(w, r, apperr.Invalid(name, "must be a whole number from 0 to %d", max))
		return 0, false
	}
	return n, true
}

func (s *Server) handleListSyncRuns(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.dirsyncQueryInt(w, r, "limit", 50, 1000)
	if !ok {
		return
	}
	offset, ok := s.dirsyncQueryInt(w, r, "offset", 0, 1<<40)
	if !ok {
		return
	}
	changes, ok := s.dirsyncQueryInt(w, r, "changesLimit", 100, dirsync.MaxChangeLines)
	if !ok {
		return
	}
	if limit == 0 {
		limit = 50
	}
	runs, err := s.Sync.Runs(r.Context(), dirsync.ListOptions{Limit: limit, Offset: offset, ChangesLimit: changes})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n, err := s.Sync.CountRuns(r.Context()); err == nil {
		w.Header().Set("X-Total-Count", strconv.Itoa(n))
	}
	s.writeJSON(w, http.StatusOK, runs)
}

func (s *Server) handleGetSyncRun(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	limit, ok := s.dirsyncQueryInt(w, r, "changesLimit", dirsync.MaxChangeLines, dirsync.MaxChangeLines)
	if !ok {
		return
	}
	offset, ok := s.dirsyncQueryInt(w, r, "changesOffset", 0, dirsync.MaxChangeLines)
	if !ok {
		return
	}
	run, err := s.Sync.Get(r.Context(), id, dirsync.ListOptions{ChangesLimit: limit, ChangesOffset: offset})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, run)
}

// handleCancelSyncRun stops a run going on and answers it as recorded (200,
// status cancelled), or 202 with the run still running when it has not wound
// down within dirsync.CancelWait.
func (s *Server) handleCancelSyncRun(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	a := admin(r)
	run, err := s.Sync.Cancel(r.Context(), id, &dirsync.Subject{UserID: a.ID, Username: a.Username, OrgID: a.OrgID})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if run.Status == dirsync.StatusRunning {
		status = http.StatusAccepted
	}
	s.writeJSON(w, status, run)
}

func (s *Server) handleSyncStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Sync.Status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleGetNotifications(w http.ResponseWriter, r *http.Request) {
	n, err := s.Sync.Notifications(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, n)
}

func (s *Server) handlePutNotifications(w http.ResponseWriter, r *http.Request) {
	var in dirsync.Notifications
	if !s.decodeJSON(w, r, &in) {
		return
	}
	n, err := s.Sync.SaveNotifications(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, n)
}

func (s *Server) handleTestNotifications(w http.ResponseWriter, r *http.Request) {
	if err := s.Sync.SendTestEmail(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
