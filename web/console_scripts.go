package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
)

// Console: the script editor's checks (compile, try on an entry).

// scriptCheck is the answer of the script editor's checks.
type scriptCheck struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

var scriptKinds = map[string]string{
	script.FieldActive:   ldapauth.KindActive,
	script.FieldOrgName:  ldapauth.KindOrgName,
	script.FieldRoleName: ldapauth.KindRoleName,
}

// consoleCompileScript compiles a script being edited and says whether it
// compiles, or where and why not ("line L, column C: message").
func (s *Server) consoleCompileScript(w http.ResponseWriter, r *http.Request) {
	field, source := r.PostFormValue("field"), r.PostFormValue("source")
	if _, ok := scriptKinds[field]; !ok {
		s.writeError(w, http.StatusBadRequest, "field: must be activeScript, orgNameScript or roleNameScript", map[string]any{"field": "field"})
		return
	}
	if strings.TrimSpace(source) == "" {
		msg := "No script: no org from the directory (the registration key's organization is used)."
		ok := true
		switch field {
		case script.FieldActive:
			ok, msg = false, "Required. The default is "+ldapauth.DefaultActiveScript
		case script.FieldRoleName:
			msg = "No script: new users get their organization's default roles."
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{OK: ok, Message: msg})
		return
	}
	if _, err := script.Compile(field, source); err != nil {
		e, ok := apperr.As(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: fieldMessage(e), Line: e.Line, Column: e.Column})
		return
	}
	s.writeJSON(w, http.StatusOK, scriptCheck{OK: true, Message: "Compiles."})
}

// consoleTryScript runs the script being edited on one entry of a saved
// server ("try on this entry").
func (s *Server) consoleTryScript(w http.ResponseWriter, r *http.Request) {
	if s.LDAP == nil {
		s.writeError(w, http.StatusServiceUnavailable, "LDAP is not available on this server", nil)
		return
	}
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	field := r.PostFormValue("field")
	kind, ok := scriptKinds[field]
	if !ok {
		s.writeError(w, http.StatusBadRequest, "field: must be activeScript, orgNameScript or roleNameScript", map[string]any{"field": "field"})
		return
	}
	srv, err := s.LDAP.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	source, username := r.PostFormValue("source"), strings.TrimSpace(r.PostFormValue("username"))
	if username == "" {
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "Enter a username from the preview to try the script on its entry."})
		return
	}
	if strings.TrimSpace(source) == "" {
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "There is no script to try."})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	res, err := ldapauth.TryScript(ctx, srv, kind, source, "", username)
	if err != nil {
		if _, ok := apperr.As(err); !ok {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: errorText(err)})
		return
	}
	if res.Error != "" {
		msg := res.Error
		if res.Line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d", res.Line)) {
			msg = fmt.Sprintf("line %d, column %d: %s", res.Line, res.Column, msg)
		}
		s.writeJSON(w, http.StatusOK, scriptCheck{Message: "On " + res.DN + ": " + msg, Line: res.Line, Column: res.Column})
		return
	}
	s.writeJSON(w, http.StatusOK, scriptCheck{OK: true, Message: "On " + res.DN + " it returns " + describeResult(res.Result) + "."})
}

// describeResult writes a script's result as JavaScript would show it.
func describeResult(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case string:
		if x == "" {
			return `"" (no org)`
		}
		return strconv.Quote(x)
	case []string:
		if len(x) == 0 {
			return "[] (no roles)"
		}
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case nil:
		return "nothing"
	}
	return fmt.Sprint(v)
}
