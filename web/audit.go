package web

import (
	"net/http"

	"github.com/authority-server/authority/internal/audit"
)

// The audit log (docs/rules.md section 10) is recorded by the services, in
// the transaction of each change, so that the API and the console, which
// call the same services, record the same entries from one place. The web
// layer only says who acts: auditActor, after requireAdmin (API) and
// requireConsoleAdmin (console), puts the administrator and the client
// address in the request's context. The entries are read by GET /audit
// (api_audit.go) and Settings > Security > Audit log (console_audit.go).

// auditActor makes the signed-in administrator of the request (see
// withAdmin) the actor of the changes the request makes.
func (s *Server) auditActor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := admin(r); u.ID != 0 && s.Audit != nil {
			a := audit.Actor{UserID: u.ID, Username: u.Username, Address: s.clientAddr(r)}
			r = r.WithContext(s.Audit.As(r.Context(), a))
		}
		next.ServeHTTP(w, r)
	})
}
