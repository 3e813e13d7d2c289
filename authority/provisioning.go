package authority

import (
	"net/http"
	"strconv"

	"github.com/authority-server/authority/internal/clientaddr"
	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/internal/serverlog"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/provisioning/scimapi"
)

// scimThrottlePrefix keeps SCIM basic usernames apart from people's
// usernames in the sign-in throttle.
const scimThrottlePrefix = "scim:"

// wireProvisioning builds the SCIM provisioning service and its /scim/v2
// handler (docs/rules.md section 9): failed credentials are throttled like
// sign-ins (per basic username and per address, docs/rules.md section 10)
// and every answer is counted in the metrics by status code.
func (a *App) wireProvisioning() error {
	a.Prov = provisioning.New(a.DB, a.Orgs, a.Users, a.Log.With(serverlog.ThreadKey, "scim", serverlog.LoggerKey, "provisioning"), a.Config.Now)
	h, err := scimapi.New(a.Prov, a.Log.With(serverlog.ThreadKey, "scim", serverlog.LoggerKey, "scim"))
	if err != nil {
		return err
	}
	authLog := a.Log.With(serverlog.ThreadKey, "scim", serverlog.LoggerKey, "signin")
	from := func(r *http.Request) string { return clientaddr.Of(r, a.Config.TrustedProxies) }
	key := func(user string) string {
		if user == "" {
			return ""
		}
		return scimThrottlePrefix + user
	}
	h.Refuse = func(r *http.Request, user string) error {
		err := a.SignIn.Throttle.Check(key(user), from(r))
		if err != nil {
			metrics.ThrottledAttempts.Inc()
			authLog.Info("AUTH:: refused user:" + key(user) + " from:" + from(r) + " reason:throttled")
		}
		return err
	}
	h.Failed = func(r *http.Request, user string) {
		a.SignIn.Throttle.Fail(key(user), from(r))
		authLog.Info("AUTH:: refused user:" + key(user) + " from:" + from(r) + " reason:badPassword")
	}
	a.Web.Prov = a.Prov
	a.Web.SCIM = countSCIM(h)
	return nil
}

// countSCIM counts every SCIM answer by status code.
func countSCIM(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		metrics.SCIMRequests.WithLabelValues(strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}
