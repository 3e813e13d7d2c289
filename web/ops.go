package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/metrics"
)

// opsRoutes: health and metrics (docs/api.md, "Operations").
//
//	GET /healthz → 200 {"status":"ok"} while the process serves
//	GET /readyz  → 200, or 503 when the database cannot be written: {"database","directories":{"ID":"ok"|"unreachable"}}
//	GET /metrics → the Prometheus text format; an administrator's bearer token (OpsHandler: anyone)
func (s *Server) opsRoutes(r chi.Router) {
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.With(s.requireAdmin).Get("/metrics", s.handleMetrics)
}

// OpsHandler serves the separate metrics listener (--metrics-listen):
// /metrics without a token, /healthz and /readyz, and nothing else.
func (s *Server) OpsHandler() http.Handler {
	s.defaults()
	r := chi.NewRouter()
	r.Use(s.recoverer, securityHeaders)
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Get("/metrics", s.handleMetrics)
	return r
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.Health == nil {
		s.writeJSON(w, http.StatusOK, map[string]any{"database": "ok", "directories": map[string]string{}})
		return
	}
	rep, ready := s.Health.Check(r.Context())
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		s.Log.Error("readyz: not ready: " + rep.Database)
	}
	s.writeJSON(w, status, rep)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	h := s.Metrics
	if h == nil {
		h = metrics.Handler()
	}
	h.ServeHTTP(w, r)
}

// HSTSMaxAge is how long browsers keep to HTTPS once told (one year).
const HSTSMaxAge = 365 * 24 * time.Hour

// strictTransport tells browsers to use only HTTPS (HSTS) when the server is
// served over TLS (SecureCookies).
func (s *Server) strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.SecureCookies {
			w.Header().Set("Strict-Transport-Security", "max-age="+strconv.Itoa(int(HSTSMaxAge.Seconds())))
		}
		next.ServeHTTP(w, r)
	})
}

// signInEndpoints names the sign-in requests that countSignIns counts.
var signInEndpoints = map[string]string{
	"/api/v1/login":      "login",
	"/api/v1/auth/token": "token",
	"/login":             "console",
}

// countSignIns counts sign-in attempts (metrics.SignIns) by the status of
// their answer.
func (s *Server) countSignIns(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint, ok := signInEndpoints[r.URL.Path]
		if !ok || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		metrics.SignIns.WithLabelValues(endpoint, signInResult(endpoint, sw.status)).Inc()
	})
}

func signInResult(endpoint string, status int) string {
	switch {
	case status == http.StatusSeeOther && endpoint == "console", status == http.StatusOK || status == http.StatusCreated:
		return "success"
	case status == http.StatusUnauthorized:
		return "refused"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusTooManyRequests:
		return "throttled"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		return "badRequest"
	}
	return "error"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
