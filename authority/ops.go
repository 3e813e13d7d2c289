package authority

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authority-server/authority/internal/health"
	"github.com/authority-server/authority/internal/metrics"
)

// wireOps adds what operations need to the web server: the readiness check
// (/readyz) and the app's own metrics (users by status, read at scrape time)
// beside the package-level ones (/metrics).
func (a *App) wireOps() {
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(metrics.NewUsersCollector(a.Users.CountByStatus))
	a.Web.Metrics = metrics.Handler(a.Metrics)
	a.Web.Health = &health.Checker{DB: a.DB, Servers: a.LDAP.List}
}
