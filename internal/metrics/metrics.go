// Package metrics holds the server's Prometheus metrics (GET /metrics):
// package-level collectors that any package increments, registered on
// Registry, and collectors that read the database at scrape time, which the
// app registers on a registry of its own (NewUsersCollector).
//
// The names, all under "authority_":
//
//	signins_total{endpoint,result}          sign-in attempts (endpoint: login, token, console;
//	                                        result: success, refused, forbidden, throttled, unavailable, badRequest, error)
//	throttled_attempts_total                attempts refused by throttling without checking the password
//	dirsync_runs_total{status}              sync runs ended, by status (ok, failed, valve, cancelled)
//	dirsync_run_duration_seconds{status}    how long they ran
//	users{status}                           users by status (active, blocked, deactivated), read at scrape time
//	script_errors_total{source}             LDAP script errors (source: dirsync, signin)
//	scim_requests_total{code}               SCIM requests by HTTP status
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "authority"

// The label values the collectors start with (at zero), so that a scrape
// shows every series before the first event.
var (
	SignInEndpoints = []string{"login", "token", "console"}
	SignInResults   = []string{"success", "refused", "forbidden", "throttled", "unavailable", "badRequest", "error"}
	SyncStatuses    = []string{"ok", "failed", "valve", "cancelled"}
	ScriptSources   = []string{"dirsync", "signin"}
)

var (
	// SignIns counts sign-in attempts by endpoint and result.
	SignIns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "signins_total",
		Help: "Sign-in attempts by endpoint (login: the desktop app, token: API tokens, console) and result."},
		[]string{"endpoint", "result"})
	// ThrottledAttempts counts attempts that throttling refused (429)
	// without checking the password or asking the directory. The
	// throttling code increments it.
	ThrottledAttempts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "throttled_attempts_total",
		Help: "Sign-in attempts refused by throttling without checking the password."})
	// SyncRuns counts the directory sync runs that ended, by status.
	SyncRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "dirsync_runs_total",
		Help: "Directory sync runs ended, by status."}, []string{"status"})
	// SyncDuration is how long the directory sync runs ran, by status.
	SyncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "dirsync_run_duration_seconds",
		Help:    "How long directory sync runs ran, by status.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200}}, []string{"status"})
	// ScriptErrors counts LDAP script errors by where the script ran.
	ScriptErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "script_errors_total",
		Help: "LDAP script errors (a script that failed for an entry), by source: dirsync or signin."}, []string{"source"})
	// SCIMRequests counts SCIM requests by HTTP status code (the SCIM
	// endpoint increments it).
	SCIMRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "scim_requests_total",
		Help: "SCIM requests by HTTP status code."}, []string{"code"})
)

// Registry holds the package-level collectors and the Go runtime's and the
// process's.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		SignIns, ThrottledAttempts, SyncRuns, SyncDuration, ScriptErrors, SCIMRequests)
	for _, e := range SignInEndpoints {
		for _, r := range SignInResults {
			SignIns.WithLabelValues(e, r)
		}
	}
	for _, s := range SyncStatuses {
		SyncRuns.WithLabelValues(s)
		SyncDuration.WithLabelValues(s)
	}
	for _, s := range ScriptSources {
		ScriptErrors.WithLabelValues(s)
	}
	SCIMRequests.WithLabelValues("200") // registered before the SCIM endpoint exists: zero
}

// SyncEnded records a sync run that ended with status after d.
func SyncEnded(status string, d time.Duration) {
	SyncRuns.WithLabelValues(status).Inc()
	SyncDuration.WithLabelValues(status).Observe(d.Seconds())
}

// Handler answers the Prometheus text format for Registry and the extra
// gatherers (an app's own registry). A collector that fails is reported in
// the answer and the rest is still served.
func Handler(extra ...prometheus.Gatherer) http.Handler {
	gs := append(prometheus.Gatherers{Registry}, extra...)
	return promhttp.HandlerFor(gs, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// UserStatuses are the statuses the users gauge always has.
var UserStatuses = []string{"active", "blocked", "deactivated"}

// ScrapeTimeout bounds the database reads of one scrape.
const ScrapeTimeout = 2 * time.Second

type usersCollector struct {
	count func(ctx context.Context) (map[string]int, error)
	desc  *prometheus.Desc
}

// NewUsersCollector is the gauge authority_users{status}: count is called at
// every scrape (bounded by ScrapeTimeout) and returns the number of users by
// status.
func NewUsersCollector(count func(ctx context.Context) (map[string]int, error)) prometheus.Collector {
	return &usersCollector{count: count, desc: prometheus.NewDesc(namespace+"_users", "Users by status.", []string{"status"}, nil)}
}

func (c *usersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *usersCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	seen := map[string]bool{}
	for _, s := range UserStatuses {
		seen[s] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[s]), s)
	}
	for s, v := range n {
		if !seen[s] {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v), s)
		}
	}
}
