package dirsync

import (
	"context"
	"fmt"
	"time"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/kv"
)

// scheduleKey keeps when the schedule started counting, for a server that
// has never synchronized.
const scheduleKey = "dirsync.schedule"

type scheduleDoc struct {
	Anchor time.Time `json:"anchor"`
}

// pollInterval is how often the scheduler looks at the settings and the
// history again (an interval changed through the API takes effect within it).
const pollInterval = time.Minute

// State is the schedule and the run going on, as GET /dirsync/status shows it.
type State struct {
	Running   bool       `json:"running"`
	RunningID *int64     `json:"runningId"`
	LastRunAt *time.Time `json:"lastRunAt"` // the start of the last run that was not simulated
	NextRunAt *time.Time `json:"nextRunAt"` // nil when the interval is "never"
	Interval  string     `json:"interval"`  // "12h" or "never"
	LastRun   *Run       `json:"lastRun"`   // the newest run of any kind, without its changes
}

// Status returns the schedule and the run going on.
func (s *Service) Status(ctx context.Context) (State, error) {
	settings, err := s.settings(ctx)
	if err != nil {
		return State{}, err
	}
	interval, enabled := settings.Interval()
	st := State{Interval: settings.SyncInterval}
	if !enabled {
		st.Interval = "never"
	}
	if id := s.Running(); id != 0 {
		st.Running, st.RunningID = true, &id
	} else {
		var other int64
		if err := s.db.GetContext(ctx, &other, `SELECT coalesce(max(id), 0) FROM dirsync_runs WHERE status = 'running'`); err != nil {
			return State{}, fmt.Errorf("dirsync: status: %w", err)
		}
		if other != 0 {
			st.Running, st.RunningID = true, &other
		}
	}
	last, ok, err := s.lastRealStart(ctx)
	if err != nil {
		return State{}, err
	}
	if ok {
		st.LastRunAt = &last
	}
	if enabled {
		next, err := s.nextRun(ctx, interval, false)
		if err != nil {
			return State{}, err
		}
		st.NextRunAt = next
	}
	runs, err := s.Runs(ctx, ListOptions{Limit: 1, ChangesLimit: 1})
	if err != nil {
		return State{}, err
	}
	if len(runs) > 0 {
		r := runs[0]
		r.Changes = []Change{}
		st.LastRun = &r
	}
	return st, nil
}

// nextRun computes when the schedule runs next: the last run that was not
// simulated (or the anchor, when later or when there was no run) plus the
// interval. With create and no run yet, a missing anchor is set to now (the
// scheduler starting); without create, no run and no anchor give nil.
func (s *Service) nextRun(ctx context.Context, interval time.Duration, create bool) (*time.Time, error) {
	last, ok, err := s.lastRealStart(ctx)
	if err != nil {
		return nil, err
	}
	var doc scheduleDoc
	has, err := kv.Get(ctx, s.db, scheduleKey, &doc)
	if err != nil {
		return nil, fmt.Errorf("dirsync: read the schedule: %w", err)
	}
	if !has && !ok && create {
		doc.Anchor = s.now().UTC()
		if err := kv.Put(ctx, s.db, scheduleKey, doc); err != nil {
			return nil, fmt.Errorf("dirsync: save the schedule: %w", err)
		}
		has = true
	}
	base := last
	if has && (!ok || doc.Anchor.After(last)) {
		base, ok = doc.Anchor, true
	}
	if !ok {
		return nil, nil
	}
	next := base.Add(interval)
	return &next, nil
}

// StartScheduler runs scheduled syncs in the background until ctx ends or
// StopScheduler is called. Calling it again while it runs does nothing.
func (s *Service) StartScheduler(ctx context.Context) {
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if s.schedStop != nil {
		return
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.base, func() { cancel(context.Cause(s.base)) })
	done := make(chan struct{})
	s.schedStop, s.schedDone = func() { stop(); cancel(ErrShutdown) }, done
	go func() {
		defer close(done)
		s.schedule(ctx)
	}()
}

// StopScheduler stops the scheduler and waits for it (and a scheduled run
// going on, which is cancelled and recorded as cancelled).
func (s *Service) StopScheduler() {
	s.schedMu.Lock()
	stop, done := s.schedStop, s.schedDone
	s.schedStop, s.schedDone = nil, nil
	s.schedMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (s *Service) schedule(ctx context.Context) {
	log := s.log.With("thread", "dirsync-scheduler")
	for ctx.Err() == nil {
		wait := pollInterval
		if due, err := s.tick(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("DIRSYNC:: Scheduler error: " + err.Error())
		} else if due > 0 && due < wait {
			wait = due
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// tick runs a scheduled sync when one is due, and returns how long until
// the next is (0 when unknown or disabled).
func (s *Service) tick(ctx context.Context) (time.Duration, error) {
	settings, err := s.settings(ctx)
	if err != nil {
		return 0, err
	}
	interval, enabled := settings.Interval()
	if !enabled {
		return 0, nil
	}
	next, err := s.nextRun(ctx, interval, true)
	if err != nil || next == nil {
		return 0, err
	}
	now := s.now()
	incremental := false
	if now.Before(*next) {
		// No full run due: an incremental one may be (docs/rules.md 6.1).
		inc, on := settings.IncrementalEvery()
		if !on {
			return next.Sub(now), nil
		}
		last, ok, err := s.lastAnyStart(ctx)
		if err != nil {
			return 0, err
		}
		if !ok {
			return next.Sub(now), nil // the first run is a full one
		}
		due := last.Add(inc)
		if now.Before(due) {
			return min(due.Sub(now), next.Sub(now)), nil
		}
		incremental = true
	}
	tree, err := s.orgs.Load(ctx)
	if err != nil {
		return 0, err
	}
	inScope := false
	for _, o := range tree.All() {
		if o.UsesLDAP() {
			inScope = true
			break
		}
	}
	if !inScope {
		// Nothing to synchronize: count the interval again from now, so that
		// the first sync comes one interval after LDAP is set up.
		return interval, kv.Put(ctx, s.db, scheduleKey, scheduleDoc{Anchor: now.UTC()})
	}
	if _, err := s.Run(ctx, Request{Scheduled: true, Incremental: incremental}); err != nil && !apperr.Is(err, apperr.KindConflict) {
		return 0, err
	}
	return 0, nil
}
