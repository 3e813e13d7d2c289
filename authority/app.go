package authority

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/secret"
	"github.com/authority-server/authority/internal/serverlog"
	"github.com/authority-server/authority/internal/throttle"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
	"github.com/authority-server/authority/users/signin"
	"github.com/authority-server/authority/web"
)

// Defaults of `authority serve`.
const (
	DefaultDataDir = "authority-data"
	DefaultListen  = "127.0.0.1:4285"
	// AdminPasswordEnv names the variable that sets the first administrator's password.
	AdminPasswordEnv = "AUTHORITY_ADMIN_PASSWORD"
	// ExpiryInterval is how often cold archives past their date are marked expired.
	ExpiryInterval = time.Hour
)

// Config is what the command line gives the server.
type Config struct {
	DataDir       string           // default DefaultDataDir
	Listen        string           // default DefaultListen
	AdminPassword string           // the first administrator's password; generated when empty
	Demo          bool             // also run an in-process test directory with an org Demo
	Now           func() time.Time // the clock; time.Now when nil
	Stdout        io.Writer        // where first-start messages go; os.Stdout when nil
	LogStderr     bool             // copy the server log to stderr as well
	// TLSCert and TLSKey, both or neither, are PEM files: Serve answers
	// HTTPS, console cookies are Secure and answers carry HSTS.
	TLSCert, TLSKey string
	// MetricsListen, when set, is a second address serving /metrics to
	// anyone (and /healthz, /readyz), for a Prometheus on a private network.
	MetricsListen string

	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (--trusted-proxies, parsed by clientaddr.ParseTrusted); nil: none.
	TrustedProxies []netip.Prefix
}

// App is the assembled server.
type App struct {
	Config Config
	DB     *sqlx.DB
	Box    *secret.Box
	Log    *slog.Logger
	Orgs   *orgs.Service
	Users  *users.Service
	Holds  *legalhold.Service
	SignIn *signin.Service
	LDAP   *ldapauth.Service
	Sync   *dirsync.Service
	Prov   *provisioning.Service // SCIM provisioning providers
	Web    *web.Server
	Audit  *audit.Log // administrators' changes (internal/audit)
	// Metrics holds the app's own collectors (read at scrape time), served
	// with the package-level ones of internal/metrics.
	Metrics *prometheus.Registry

	logFile *serverlog.File
	closers []func() error
	ops     opsState // ops.go
}

// Open prepares the data directory, the log, the database and every service.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("authority: create data directory %s: %w", cfg.DataDir, err)
	}
	if err := secureDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	a := &App{Config: cfg}
	if err := a.loadTLS(); err != nil {
		return nil, err
	}
	lf, err := serverlog.OpenFile(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.logFile = lf
	var w io.Writer = lf
	if cfg.LogStderr {
		w = io.MultiWriter(lf, os.Stderr)
	}
	a.Log = slog.New(serverlog.NewHandler(w, slog.LevelInfo))
	if a.Box, err = secret.LoadOrCreate(cfg.DataDir); err != nil {
		a.Close()
		return nil, err
	}
	if a.DB, err = OpenDB(ctx, filepath.Join(cfg.DataDir, DBFile)); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if _, err := a.Orgs.EnsureRoot(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.ensureAdmin(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if cfg.Demo {
		if err := a.startDemo(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// wire builds the services. Each area adds its own lines here.
func (a *App) wire(ctx context.Context) error {
	now := a.Config.Now
	a.Audit = audit.New(a.DB, a.Log.With(serverlog.LoggerKey, "audit"), now)
	a.Orgs = orgs.New(a.DB, now)
	a.Users = users.New(a.DB, a.Orgs, now)
	a.Holds = legalhold.New(a.DB, a.Users, now)
	a.SignIn = &signin.Service{DB: a.DB, Orgs: a.Orgs, Users: a.Users}
	a.LDAP = ldapauth.NewService(a.DB, a.Box, a.Log.With(serverlog.LoggerKey, "ldapauth"))
	a.onClose(a.LDAP.Close)
	a.SignIn.LDAP = signin.NewDirectory(a.LDAP, a.Orgs, a.Users, a.Log.With(serverlog.LoggerKey, "signin"))
	a.SignIn.Throttle = throttle.New(now, throttle.DefaultLimits())
	a.SignIn.Log = a.Log.With(serverlog.ThreadKey, "http", serverlog.LoggerKey, "signin")
	if err := a.SignIn.ApplySettings(ctx); err != nil {
		return err
	}
	a.Sync = dirsync.New(dirsync.Config{DB: a.DB, Orgs: a.Orgs, Users: a.Users, LDAP: a.LDAP, Box: a.Box, Log: a.Log, Now: now, LockFile: filepath.Join(a.Config.DataDir, dirsync.LockFileName)})
	a.onClose(a.Sync.Close)
	if err := a.Sync.Recover(ctx); err != nil {
		return err
	}
	a.Web = &web.Server{Orgs: a.Orgs, Users: a.Users, Holds: a.Holds, SignIn: a.SignIn, LDAP: a.LDAP, Sync: a.Sync,
		Log: a.Log.With(serverlog.ThreadKey, "http"), Now: now}
	a.Web.Audit = a.Audit
	if err := a.wireProvisioning(); err != nil {
		return err
	}
	a.wireOps() // ops.go
	a.Web.TrustedProxies = a.Config.TrustedProxies
	return nil
}

// ensureAdmin creates the administrator on first start: the password comes
// from the config (AUTHORITY_ADMIN_PASSWORD) or is generated and printed once.
func (a *App) ensureAdmin(ctx context.Context) error {
	var n int
	if err := a.DB.GetContext(ctx, &n, `SELECT count(*) FROM user_roles WHERE role = ?`, roles.Sysadmin); err != nil {
		return fmt.Errorf("authority: look for an administrator: %w", err)
	}
	if n > 0 {
		return nil
	}
	root, err := a.Orgs.EnsureRoot(ctx)
	if err != nil {
		return err
	}
	pw, generated := a.Config.AdminPassword, false
	if pw == "" {
		if pw, err = randomPassword(20); err != nil {
			return err
		}
		generated = true
	}
	if _, err := a.Users.ByUsername(ctx, users.BuiltinAdmin); err == nil {
		return fmt.Errorf("authority: a user %q exists but no user has the %s role: grant it with the API or remove the user", users.BuiltinAdmin, roles.Sysadmin)
	} else if !apperr.Is(err, apperr.KindNotFound) {
		return err
	}
	if _, err := a.Users.Create(ctx, users.NewUser{Username: users.BuiltinAdmin, Password: pw, OrgID: root.ID, Roles: []string{roles.Sysadmin}, FirstName: "Server", LastName: "Administrator"}); err != nil {
		return fmt.Errorf("authority: create the administrator: %w", err)
	}
	a.Log.Info("created the administrator", "username", users.BuiltinAdmin)
	if generated {
		fmt.Fprintf(a.Config.Stdout, "First start: created the administrator %q with the password\n\n    %s\n\nIt is shown only this once. Sign in at %s://%s/ or get an API token with POST /api/v1/auth/token.\n\n", users.BuiltinAdmin, pw, a.Scheme(), a.Config.Listen)
	} else {
		fmt.Fprintf(a.Config.Stdout, "First start: created the administrator %q with the password from %s.\n", users.BuiltinAdmin, AdminPasswordEnv)
	}
	return nil
}

func randomPassword(n int) (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("authority: generate password: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}

// Handler is the HTTP handler for the API and console.
func (a *App) Handler() http.Handler { return a.Web.Handler() }

// Serve listens on the configured address (HTTPS with TLSCert and TLSKey;
// also on MetricsListen when set) and runs the background jobs (archive
// expiry, the sync schedule) until ctx ends, then shuts down within
// ShutdownTimeout: a sync going on is cancelled, requests still running
// after ShutdownGrace are cut. ready, if not nil, receives the bound address.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := a.listen()
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ops, err := a.serveOps()
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Users.RunExpiry(ctx, ExpiryInterval, func(n int64, err error) {
			if err != nil {
				a.Log.Error("archive expiry failed", "err", err)
				return
			}
			a.Log.Info("archive expiry", "expired", n)
		})
	}()
	a.startBackground(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Log.Info("listening", "addr", ln.Addr().String(), "scheme", a.Scheme(), "metrics", a.MetricsAddr(), "data", a.Config.DataDir)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		cancel()
		a.shutdown(nil, ops)
		<-done
		return fmt.Errorf("authority: serve: %w", err)
	case <-ctx.Done():
	}
	// Stop the syncs first, so that they wind down while the requests end.
	stopped := make(chan struct{})
	go func() { defer close(stopped); a.stopBackground() }()
	err = a.shutdown(srv, ops)
	<-done
	<-stopped
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("authority: shutdown: %w", err)
	}
	a.Log.Info("stopped")
	return nil
}

// Close releases the database, the log and anything started with the app.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	if a.DB != nil {
		errs = append(errs, a.DB.Close())
		a.DB = nil
	}
	if a.logFile != nil {
		errs = append(errs, a.logFile.Close())
		a.logFile = nil
	}
	return errors.Join(errs...)
}

// onClose registers fn to run at Close.
func (a *App) onClose(fn func() error) { a.closers = append(a.closers, fn) }
