package web

import (
	"errors"
	"net/http"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/signin"
)

// loginUser is the user part of the 200 answer of POST /login.
type loginUser struct {
	ID        int64        `json:"id"`
	Username  string       `json:"username"`
	Email     string       `json:"email"`
	FirstName string       `json:"firstName"`
	LastName  string       `json:"lastName"`
	Status    users.Status `json:"status"`
	OrgID     int64        `json:"orgId"`
	OrgName   string       `json:"orgName"`
	Roles     []string     `json:"roles"`
}

type loginDevice struct {
	GUID   string `json:"guid"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// handleLogin is the desktop app's sign-in and registration (docs/rules.md section 5).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req signin.Request
	if !s.decodeJSON(w, r, &req) {
		return
	}
	res, err := s.SignIn.Login(r.Context(), req, s.clientAddr(r))
	if err != nil {
		var st *signin.StatusError
		var acct *signin.AccountError
		switch {
		case errors.As(err, &acct):
			s.writeError(w, http.StatusForbidden, acct.Message, map[string]any{"reason": acct.Reason})
		case errors.As(err, &st):
			s.writeError(w, http.StatusForbidden, st.Error(), map[string]any{"status": st.Status, "reason": st.Reason})
		case signin.IsInvalidCredentials(err):
			s.writeError(w, http.StatusUnauthorized, signin.ErrInvalidCredentials.Message, nil)
		case errors.Is(err, signin.ErrScriptsFailed):
			s.writeError(w, http.StatusServiceUnavailable, signin.ErrScriptsFailed.Message, nil)
		case apperr.Is(err, apperr.KindUnavailable):
			s.Log.Warn("login: directory unavailable", "err", err)
			s.writeError(w, http.StatusServiceUnavailable, "the directory cannot be reached right now: try again later", nil)
		default:
			s.fail(w, r, err)
		}
		return
	}
	u := res.User
	out := map[string]any{"user": loginUser{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Status: u.Status, OrgID: u.OrgID, OrgName: u.OrgName, Roles: u.Roles}, "device": nil}
	if d := res.Device; d != nil {
		out["device"] = loginDevice{GUID: d.GUID, Name: d.Name, Status: d.Status}
	}
	s.writeJSON(w, http.StatusOK, out)
}
