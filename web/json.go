package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/dbfault"
	"github.com/authority-server/authority/users"
)

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		s.Log.Warn("web: write response", "err", err)
	}
}

// writeError writes {"error": msg, ...extra}.
func (s *Server) writeError(w http.ResponseWriter, status int, msg string, extra map[string]any) {
	body := map[string]any{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	s.writeJSON(w, status, body)
}

// statusOfKind is the HTTP status of each kind of error.
var statusOfKind = map[apperr.Kind]int{
	apperr.KindInvalid:      http.StatusBadRequest,
	apperr.KindUnauthorized: http.StatusUnauthorized,
	apperr.KindForbidden:    http.StatusForbidden,
	apperr.KindNotFound:     http.StatusNotFound,
	apperr.KindConflict:     http.StatusConflict,
	apperr.KindUnavailable:  http.StatusServiceUnavailable,
}

// httpStatus returns the status for an error of kind k (500 for an unknown kind).
func httpStatus(k apperr.Kind) int {
	if st, ok := statusOfKind[k]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// fail turns err into the documented JSON error with the status of its kind.
// A database that cannot be written (read-only, full, I/O error, busy) is 503
// with what to fix, logged as ERROR. Errors that are not classified are
// logged and answered 500 without detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if s.throttled(w, r, err) {
		return
	}
	if e, ok := s.dbFault(r, err); ok {
		s.writeError(w, http.StatusServiceUnavailable, e.Message, nil)
		return
	}
	e, ok := apperr.As(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.Log.Error("web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		s.writeError(w, http.StatusInternalServerError, "internal error: see the server log", nil)
		return
	}
	status := httpStatus(e.Kind)
	extra := map[string]any{}
	if e.Field != "" {
		extra["field"] = e.Field
	}
	if e.Line > 0 {
		extra["line"] = e.Line
		extra["column"] = e.Column
	}
	msg := e.Error()
	if e.Kind == apperr.KindUnavailable {
		s.Log.Warn("web: dependency unavailable", "path", r.URL.Path, "err", err)
	}
	s.writeError(w, status, msg, extra)
}

// dbFault logs a database fault in err's chain as ERROR and returns it as an
// apperr Unavailable error; false when err is no database fault.
func (s *Server) dbFault(r *http.Request, err error) (*apperr.Error, bool) {
	e, ok := dbfault.Unavailable(err)
	if ok {
		s.Log.Error("web: database fault: "+e.Message, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return e, ok
}

// decodeJSON reads the body into v, refusing unknown fields, trailing data
// and malformed JSON with a 400 that names the problem, and a body over
// MaxBodyBytes with a 413. It reports whether v was filled.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		big  *http.MaxBytesError
		e    *apperr.Error
		msg  string
		fld  = "body"
		kind = http.StatusBadRequest
	)
	switch {
	case errors.As(err, &big):
		msg, kind = tooLarge(big), http.StatusRequestEntityTooLarge
	case errors.As(err, &syn):
		msg = fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		fld = typ.Field
		msg = fmt.Sprintf("must be a JSON %s, not %s", typ.Type.Kind(), typ.Value)
	case errors.Is(err, io.EOF):
		msg = "the request body is empty: send a JSON object"
	case errors.As(err, &e):
		s.fail(w, r, e)
		return false
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fld = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg = "unknown field"
	default:
		msg = "malformed JSON: " + err.Error()
	}
	s.writeError(w, kind, fld+": "+msg, map[string]any{"field": fld})
	return false
}

// tooLarge says that a request body went over its limit (answered 413).
func tooLarge(big *http.MaxBytesError) string {
	return fmt.Sprintf("the request body is larger than %d bytes (1 MiB)", big.Limit)
}

// pathID parses the {name} path parameter as a positive id, answering 400 when it is not one.
func (s *Server) pathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	raw := chi.URLParam(r, name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q is not an id", name, raw), map[string]any{"field": name})
		return 0, false
	}
	return id, true
}

type ctxKey int

const adminKey ctxKey = 1

// admin returns the signed-in administrator of the request.
func admin(r *http.Request) users.User {
	u, _ := r.Context().Value(adminKey).(users.User)
	return u
}

func withAdmin(r *http.Request, u users.User) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), adminKey, u))
}
