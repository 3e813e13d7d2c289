package authority

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authority-server/authority/internal/health"
	"github.com/authority-server/authority/internal/metrics"
)

// Shutdown bounds: Serve returns within ShutdownTimeout of its context
// ending (SIGTERM); requests still running after ShutdownGrace are cut.
const (
	ShutdownTimeout = 10 * time.Second
	ShutdownGrace   = 5 * time.Second
)

// opsState is what Serve keeps for operations: the TLS certificate and the
// metrics listener's address.
type opsState struct {
	cert        *tls.Certificate
	mu          sync.Mutex
	metricsAddr string
}

// wireOps adds what operations need to the web server: the readiness check
// (/readyz) and the app's own metrics (users by status, read at scrape time)
// beside the package-level ones (/metrics); Secure cookies and HSTS under TLS.
func (a *App) wireOps() {
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(metrics.NewUsersCollector(a.Users.CountByStatus))
	a.Web.Metrics = metrics.Handler(a.Metrics)
	a.Web.Health = &health.Checker{DB: a.DB, Servers: a.LDAP.List}
	a.Web.SecureCookies = a.ops.cert != nil
}

// loadTLS reads the certificate and key of --tls-cert and --tls-key, so
// that a wrong file stops the start with a clear error.
func (a *App) loadTLS() error {
	c := a.Config
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
		return nil
	case c.TLSCert == "" || c.TLSKey == "":
		return errors.New("authority: HTTPS needs both --tls-cert FILE and --tls-key FILE")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return fmt.Errorf("authority: load the TLS certificate %s and key %s: %w", c.TLSCert, c.TLSKey, err)
	}
	a.ops.cert = &cert
	return nil
}

// Scheme is "https" when the server answers HTTPS, "http" otherwise.
func (a *App) Scheme() string {
	if a.ops.cert != nil {
		return "https"
	}
	return "http"
}

// MetricsAddr is the bound address of the metrics listener while Serve runs
// ("" without --metrics-listen).
func (a *App) MetricsAddr() string {
	a.ops.mu.Lock()
	defer a.ops.mu.Unlock()
	return a.ops.metricsAddr
}

// listen opens the main listener, with TLS when a certificate is loaded.
func (a *App) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return nil, fmt.Errorf("authority: listen on %s: %w (choose another address with --listen)", a.Config.Listen, err)
	}
	if a.ops.cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*a.ops.cert}, MinVersion: tls.VersionTLS12})
	}
	return ln, nil
}

// serveOps starts the metrics listener of --metrics-listen (nil without
// one): plain HTTP, /metrics without a token, /healthz and /readyz.
func (a *App) serveOps() (*http.Server, error) {
	if a.Config.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("authority: listen on %s for metrics: %w (choose another address with --metrics-listen)", a.Config.MetricsListen, err)
	}
	a.ops.mu.Lock()
	a.ops.metricsAddr = ln.Addr().String()
	a.ops.mu.Unlock()
	srv := &http.Server{Handler: a.Web.OpsHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return srv, nil
}

// shutdown stops the listeners: requests in progress get ShutdownGrace to
// end, then their connections are closed.
func (a *App) shutdown(servers ...*http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				a.Log.Warn(fmt.Sprintf("requests still running after %s were cut at shutdown", ShutdownGrace))
				err = srv.Close()
			}
			errs = append(errs, err)
		}
	}
	a.ops.mu.Lock()
	a.ops.metricsAddr = ""
	a.ops.mu.Unlock()
	return errors.Join(errs...)
}
