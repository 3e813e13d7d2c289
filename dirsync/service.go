package dirsync

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/secret"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// Config is what a Service is built from.
type Config struct {
	DB    *sqlx.DB
	Orgs  *orgs.Service
	Users *users.Service
	LDAP  *ldapauth.Service
	Box   *secret.Box // seals the SMTP password
	Log   *slog.Logger
	Now   func() time.Time // time.Now when nil
	// LockFile, when set, makes runs exclusive across processes sharing the
	// data directory (`authority serve` and `authority sync`); a run left
	// "running" is known to be interrupted when the lock is free.
	LockFile string
	// ScriptLimit is the time limit of one script call (script.DefaultLimit when 0).
	ScriptLimit time.Duration
	// MailTimeout bounds one summary email's SMTP conversation (1 minute when 0).
	MailTimeout time.Duration
}

// Service runs and records directory syncs. It is safe for concurrent use;
// at most one run goes on at a time.
type Service struct {
	db          *sqlx.DB
	orgs        *orgs.Service
	users       *users.Service
	ldap        *ldapauth.Service
	box         *secret.Box
	log         *slog.Logger
	now         func() time.Time
	lockFile    string
	scriptLimit time.Duration
	mailTimeout time.Duration
	kept        keptScripts // the last run's compiled scripts and Runners

	base   context.Context // cancelled by Close (cause ErrShutdown): stops runs and the scheduler
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // background runs (until their email is sent)

	mu     sync.Mutex
	cur    *slot // the run going on in this process, if any
	closed bool

	// pageHook, when set (tests only), is called when a page of a search
	// has been received (HookReceived, on the search's goroutine), when the
	// script stage is done with it (HookScripted, on its goroutine) and when
	// it has been processed (HookProcessed).
	pageHook func(stage string, serverID int64, page int)
	// mailRoots, when set (tests only), are the CAs trusted for STARTTLS.
	mailRoots *x509.CertPool

	schedMu   sync.Mutex
	schedStop context.CancelFunc
	schedDone chan struct{}
}

// slot is the right to run: held from the start of a run to its end.
type slot struct {
	runID int64
	lock  *fileLock
	// stop asks the run to stop: execute's context follows stopCtx, and
	// Cancel calls stop with the reason (a *StopRequest) at any time after
	// the slot was taken.
	stopCtx context.Context
	stop    context.CancelCauseFunc
	ended   chan struct{} // closed when the run has been recorded and the slot released
}

// New returns a Service. Call Recover once at start and Close at the end.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MailTimeout <= 0 {
		cfg.MailTimeout = time.Minute
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Service{db: cfg.DB, orgs: cfg.Orgs, users: cfg.Users, ldap: cfg.LDAP, box: cfg.Box, log: cfg.Log,
		now: cfg.Now, lockFile: cfg.LockFile, scriptLimit: cfg.ScriptLimit, mailTimeout: cfg.MailTimeout,
		base: base, cancel: cancel}
}

// Subject is the administrator who asked for a run (nil in a Request: the
// system, for scheduled runs and the command line).
type Subject struct {
	UserID   int64
	Username string
	OrgID    int64
}

// Request asks for one run.
type Request struct {
	Simulate      bool
	OverrideValve bool     // deactivate even when the safety valve would stop it (this run only)
	Scheduled     bool     // started by the schedule
	Subject       *Subject // nil: the system
	// Incremental asks for an incremental run (docs/rules.md section 6.1):
	// only what changed since each server's last committed run. Without a
	// usable tracking state the run is full, and says why.
	Incremental bool
}

func (r Request) trigger() Trigger {
	switch {
	case r.Simulate:
		return TriggerSimulate
	case r.Scheduled:
		return TriggerSchedule
	}
	return TriggerManual
}

func (r Request) startedBy() string {
	if r.Subject == nil {
		return "system"
	}
	return fmt.Sprintf("%d/%s", r.Subject.UserID, r.Subject.Username)
}

// ErrRunning is the apperr Conflict of a request made while a run goes on.
func errRunning(id int64) error {
	if id == 0 {
		return apperr.Conflict("", "a directory sync is already running in another process on this data directory (authority sync or authority serve); wait for it to finish")
	}
	return apperr.Conflict("", "directory sync run %d is still running; wait for it to finish", id)
}

// acquire takes the run slot (in this process, then across processes) and
// fails runs a crash left "running".
func (s *Service) acquire(ctx context.Context) (*slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, apperr.Unavailable(nil, "the server is shutting down")
	}
	if s.cur != nil {
		return nil, errRunning(s.cur.runID)
	}
	sl := &slot{ended: make(chan struct{})}
	sl.stopCtx, sl.stop = context.WithCancelCause(context.Background())
	if s.lockFile != "" {
		lk, ok, err := tryLockFile(s.lockFile)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errRunning(0)
		}
		sl.lock = lk
	}
	if n, err := s.markInterrupted(ctx); err != nil {
		sl.lock.unlock()
		return nil, err
	} else if n > 0 {
		s.log.Warn(fmt.Sprintf("DIRSYNC:: Marked %d interrupted run(s) as failed", n), "thread", "dirsync")
	}
	s.cur = sl
	return sl, nil
}

func (s *Service) release(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.lock.unlock()
	if s.cur == sl {
		s.cur = nil
	}
	sl.stop(nil)
	select {
	case <-sl.ended:
	default:
		close(sl.ended)
	}
}

// Recover marks runs that a crash or kill left "running" as failed
// ("interrupted"). It does nothing while another process runs a sync on the
// same data directory.
func (s *Service) Recover(ctx context.Context) error {
	sl, err := s.acquire(ctx)
	if apperr.Is(err, apperr.KindConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	s.release(sl)
	return nil
}

// begin takes the run lock and records a new running run.
func (s *Service) begin(ctx context.Context, req Request) (sl *slot, id int64, start time.Time, err error) {
	if sl, err = s.acquire(ctx); err != nil {
		return nil, 0, time.Time{}, err
	}
	start = s.now()
	if id, err = s.insertRun(ctx, req, req.startedBy(), start); err != nil {
		s.release(sl)
		return nil, 0, time.Time{}, err
	}
	s.mu.Lock()
	sl.runID = id
	s.mu.Unlock()
	return sl, id, start, nil
}

// Start begins a run in the background and returns it at once (status
// running). While a run goes on it fails with an apperr Conflict.
func (s *Service) Start(ctx context.Context, req Request) (Run, error) {
	sl, id, start, err := s.begin(ctx, req)
	if err != nil {
		return Run{}, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.execute(s.base, sl, req, start)
	}()
	return Run{ID: id, Trigger: req.trigger(), Simulated: req.Simulate, OverrideValve: req.OverrideValve,
		StartedBy: req.startedBy(), Status: StatusRunning, StartedAt: start, Orgs: []OrgCounts{}, Changes: []Change{}}, nil
}

// Run runs one sync to its end (summary email included) and returns it with
// at most 100 of its change lines. While another run goes on it fails with an
// apperr Conflict. A run that fails is returned with status failed and a nil
// error; the error is for runs that could not be recorded at all.
func (s *Service) Run(ctx context.Context, req Request) (Run, error) {
	sl, id, start, err := s.begin(ctx, req)
	if err != nil {
		return Run{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.base, func() { cancel(context.Cause(s.base)) })
	defer stop()
	s.execute(ctx, sl, req, start)
	return s.Get(context.WithoutCancel(ctx), id, ListOptions{ChangesLimit: 100})
}

// Wait blocks until the background runs started with Start have ended and
// sent their email, or ctx ends.
func (s *Service) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the scheduler, cancels a run going on (it is recorded as
// cancelled, the server shutting down) and waits for background runs to
// end. It may be called more than once.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrShutdown)
	s.StopScheduler()
	s.wg.Wait()
	return nil
}

// Running returns the id of the run going on in this process (0 for none).
func (s *Service) Running() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.runID
}

// settings reads the sync's settings. They live in the LDAP settings
// document (ldapauth.Settings: the interval and the safety valve, with their
// defaults, beside the registrants-not-found policy of sign-in).
func (s *Service) settings(ctx context.Context) (ldapauth.Settings, error) {
	st, err := s.ldap.Settings(ctx)
	if err != nil {
		return ldapauth.Settings{}, fmt.Errorf("dirsync: read LDAP settings: %w", err)
	}
	return st, nil
}

// The stages at which the test page hook is called: a search page received,
// its scripts run (or left to the page stage) and its users read, its
// entries matched and its changes planned (not yet written), processed, and a batch of
// deactivations committed (page is then the batch's number).
const (
	HookReceived    = "received"
	HookScripted    = "scripted"
	HookMatched     = "matched"
	HookProcessed   = "processed"
	HookDeactivated = "deactivated"
)

// LockFileName is the name of the run lock file inside the data directory.
const LockFileName = "dirsync.lock"

// StopRequest is why a run was asked to stop: the cause of its context's
// cancellation. A run stopped by one is recorded as cancelled, with Reason
// in its message.
type StopRequest struct{ Reason string }

func (r *StopRequest) Error() string { return r.Reason }

// ErrShutdown stops the runs of a server that is shutting down (Close).
var ErrShutdown = &StopRequest{Reason: "the server is shutting down"}

// CancelWait bounds how long Cancel waits for the run to wind down.
const CancelWait = 10 * time.Second

// Cancel asks run id, going on in this process, to stop, as the
// administrator by asks: the run ends as cancelled (a run cancelled before
// its deactivations never starts them; what it committed stays and is
// listed). Cancel waits for the run to be recorded (at most CancelWait or
// until ctx ends) and returns it. A run that has ended, or runs in another
// process (authority sync), is a Conflict; an unknown run NotFound.
func (s *Service) Cancel(ctx context.Context, id int64, by *Subject) (Run, error) {
	s.mu.Lock()
	sl := s.cur
	if sl != nil && sl.runID != id {
		sl = nil
	}
	s.mu.Unlock()
	if sl == nil {
		run, err := s.Get(ctx, id, ListOptions{ChangesLimit: 100})
		if err != nil {
			return Run{}, err
		}
		if run.Status == StatusRunning {
			return Run{}, apperr.Conflict("", "directory sync run %d runs in another process on this data directory (authority sync): stop that process (Ctrl-C or SIGTERM) to cancel it", id)
		}
		return Run{}, apperr.Conflict("", "directory sync run %d has already ended (%s): there is nothing to cancel", id, run.Status)
	}
	who := "system"
	if by != nil {
		who = fmt.Sprintf("%d/%s", by.UserID, by.Username)
	}
	if err := audit.Record(ctx, audit.SyncRunCancel, audit.Target("dirsync-run", id, ""), []audit.Change{audit.Field("status", string(StatusRunning), string(StatusCancelled))}); err != nil {
		return Run{}, err
	}
	sl.stop(&StopRequest{Reason: "cancelled by " + who})
	wait, cancel := context.WithTimeout(ctx, CancelWait)
	defer cancel()
	select {
	case <-sl.ended:
	case <-wait.Done():
	}
	return s.Get(context.WithoutCancel(ctx), id, ListOptions{ChangesLimit: 100})
}
