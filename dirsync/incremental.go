package dirsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/ldapauth"
)

// Run modes (docs/rules.md section 6.1).
const (
	ModeFull        = "full"        // everything the filter finds
	ModeIncremental = "incremental" // only what changed since each server's last committed run
)

// QuietRunRetention is how long an incremental run that changed nobody is
// kept in the history.
const QuietRunRetention = 7 * 24 * time.Hour

// Tracking is what a run did with one server's change tracking, as its
// record shows it.
type Tracking struct {
	Mode        string `json:"mode"`                  // syncrepl, dirsync, usn, timestamp or none
	SeesDeletes bool   `json:"seesDeletes,omitempty"` // incremental: the mode saw deletions and moves out of scope
	Changed     int    `json:"changed,omitempty"`     // incremental: entries that changed
	Deleted     int    `json:"deleted,omitempty"`     // incremental: entries gone from the scope
	Note        string `json:"note,omitempty"`        // what the mode cannot see, or why no state was kept
	Examined    int    `json:"examined"`              // directory entries the run looked at on this server
	saved       *ldapauth.TrackingState
}

// incrementalState is what an incremental run keeps per engine.
type incrementalState struct {
	mode     string
	reason   string                           // why a run asked for incremental is full
	saved    map[int64]ldapauth.TrackingState // the states the run starts from
	tracking map[int64]*Tracking              // per server
	deleted  map[int64]map[string]bool        // server → stable ids gone (lower case)
	next     map[int64]ldapauth.TrackingState // to save once the run commits
}

// chooseMode decides whether the run is incremental: asked for, and every
// server that tracks changes has a state saved by a committed run that
// still fits its URL, base, filter and tracking. Otherwise the run is full
// and says why.
func (e *engine) chooseMode(ctx context.Context) error {
	e.inc = incrementalState{mode: ModeFull, saved: map[int64]ldapauth.TrackingState{}, tracking: map[int64]*Tracking{},
		deleted: map[int64]map[string]bool{}, next: map[int64]ldapauth.TrackingState{}}
	if !e.req.Incremental {
		return nil
	}
	saved, err := loadTracking(ctx, e.s.db)
	if err != nil {
		return err
	}
	var missing []string
	for _, srv := range e.servers {
		if srv.ChangeTracking == ldapauth.TrackingNone {
			continue
		}
		st, ok := saved[srv.ID]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("server %d (%s) has no tracking state yet", srv.ID, srv.Name))
		case st.Scope != srv.TrackingScope(st.Mode):
			missing = append(missing, fmt.Sprintf("server %d (%s): its URL, base or filter changed since the last run", srv.ID, srv.Name))
		case srv.ChangeTracking != ldapauth.TrackingAuto && srv.ChangeTracking != st.Mode:
			missing = append(missing, fmt.Sprintf("server %d (%s): its change tracking changed to %s", srv.ID, srv.Name, srv.ChangeTracking))
		default:
			e.inc.saved[srv.ID] = st
		}
	}
	if len(missing) > 0 {
		e.inc.reason = "incremental run asked for, full run done: " + strings.Join(missing, "; ")
		return nil
	}
	e.inc.mode = ModeIncremental
	return nil
}

// reader returns how the run reads srv: the whole search (a full run, which
// also takes the tracking baseline the next incremental run starts from),
// or the changes since the saved state. nil: the server is skipped.
func (e *engine) reader(ctx context.Context, conn *ldapauth.Conn, srv ldapauth.Server) (func(context.Context, func([]*ldapauth.Entry) error) error, error) {
	if e.inc.mode == ModeIncremental {
		if srv.ChangeTracking == ldapauth.TrackingNone {
			e.inc.tracking[srv.ID] = &Tracking{Mode: ldapauth.TrackingNone, Note: "change tracking is off for this server: incremental runs skip it"}
			return nil, nil
		}
		st := e.inc.saved[srv.ID]
		e.inc.tracking[srv.ID] = &Tracking{Mode: st.Mode}
		return func(ctx context.Context, fn func([]*ldapauth.Entry) error) error {
			ch, err := conn.ReadChanges(ctx, st, fn)
			if errors.Is(err, ldapauth.ErrTrackingStateRefused) {
				if derr := deleteTracking(context.WithoutCancel(ctx), e.s.db, srv.ID); derr != nil {
					return errors.Join(err, derr)
				}
				return fmt.Errorf("%w (the next incremental run will be a full one)", err)
			}
			if err != nil {
				return err
			}
			gone := map[string]bool{}
			for _, id := range ch.Deleted {
				gone[strings.ToLower(id)] = true
			}
			e.inc.deleted[srv.ID] = gone
			e.inc.next[srv.ID] = ch.Next
			t := e.inc.tracking[srv.ID]
			t.Mode, t.SeesDeletes, t.Changed, t.Deleted, t.Note = ch.Mode, ch.SeesDeletes, ch.Changed, len(ch.Deleted), ch.Note
			return nil
		}, nil
	}
	e.inc.tracking[srv.ID] = &Tracking{Mode: srv.ChangeTracking}
	if srv.ChangeTracking == ldapauth.TrackingNone || e.req.Simulate {
		return func(ctx context.Context, fn func([]*ldapauth.Entry) error) error { return conn.SearchAll(ctx, fn) }, nil
	}
	// The baseline stands for the directory before the search, so that
	// what changes during it is seen by the next incremental run; whether
	// it was kept is said once the search is done.
	st, err := ldapauth.FullRunBaseline(ctx, conn, srv.ChangeTracking)
	return func(ctx context.Context, fn func([]*ldapauth.Entry) error) error {
		serr := conn.SearchAll(ctx, fn)
		switch {
		case err != nil && ctx.Err() != nil:
			return errors.Join(serr, err)
		case err != nil:
			e.inc.tracking[srv.ID].Note = "no tracking state kept: " + err.Error()
			e.s.log.Warn(fmt.Sprintf("DIRSYNC:: Change tracking of server %d (%s) unavailable: %v", srv.ID, srv.Name, err), "thread", fmt.Sprintf("dirsync-%d", e.runID))
		default:
			e.inc.next[srv.ID] = st
			e.inc.tracking[srv.ID].Mode = st.Mode
		}
		return serr
	}, nil
}

// goneFromDirectory reports whether an incremental run saw u's entry leave
// the scope (deleted, moved out of the base, no longer matching the filter).
func (e *engine) goneFromDirectory(u *scopeUser) bool {
	return u.LDAPUID != "" && e.inc.deleted[u.LDAPServerID][strings.ToLower(u.LDAPUID)]
}

// notFoundCounts reports whether a user the run did not find is one it
// should deactivate: always in a full run; in an incremental run only when
// the tracking saw its entry go.
func (e *engine) notFoundCounts(u *scopeUser) bool {
	return e.inc.mode != ModeIncremental || e.goneFromDirectory(u)
}

// saveTracking keeps the states of a committed run (not simulated, not held
// back by the safety valve) for the next incremental run.
func (e *engine) saveTracking(ctx context.Context) error {
	if e.req.Simulate || len(e.inc.next) == 0 {
		return nil
	}
	now := stamp(e.s.now())
	return sqltx.Run(ctx, e.s.db, func(tx *sqlx.Tx) error {
		for id, st := range e.inc.next {
			b, err := json.Marshal(st)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO dirsync_tracking(server_id, state, run_id, updated_at) VALUES(?, ?, ?, ?)
				ON CONFLICT(server_id) DO UPDATE SET state = excluded.state, run_id = excluded.run_id, updated_at = excluded.updated_at`,
				id, string(b), e.runID, now); err != nil {
				return fmt.Errorf("dirsync: save the tracking state of server %d: %w", id, err)
			}
		}
		return nil
	})
}

// recordMode writes the run's mode and tracking on its record.
func (e *engine) recordMode(ctx context.Context) error {
	b, err := json.Marshal(e.trackingByServer())
	if err != nil {
		return err
	}
	missed := map[string]int{}
	for n, c := range e.waiting {
		missed[fmt.Sprint(n)] = c
	}
	mb, err := json.Marshal(missed)
	if err != nil {
		return err
	}
	if _, err := e.s.db.ExecContext(ctx, `UPDATE dirsync_runs SET mode = ?, tracking = ?, missed = ? WHERE id = ?`, e.inc.mode, string(b), string(mb), e.runID); err != nil {
		return fmt.Errorf("dirsync: record the mode of run %d: %w", e.runID, err)
	}
	return nil
}

func (e *engine) trackingByServer() map[string]*Tracking {
	out := map[string]*Tracking{}
	for id, t := range e.inc.tracking {
		out[fmt.Sprint(id)] = t
	}
	return out
}

// modeLine is the run's DIRSYNC:: Mode line text.
func (e *engine) modeLine() string {
	ids := make([]int64, 0, len(e.inc.tracking))
	for id := range e.inc.tracking {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("server:%d=%s", id, e.inc.tracking[id].Mode))
	}
	return fmt.Sprintf("DIRSYNC:: Mode run:%d %s %s", e.runID, e.inc.mode, strings.Join(parts, " "))
}

// quiet reports whether the run is an incremental one that changed nobody
// and did not fail: it sends no email and is kept QuietRunRetention only.
func (e *engine) quiet(st Status) bool {
	c := e.total
	return e.inc.mode == ModeIncremental && st == StatusOK && c.Deactivated+c.Activated+c.Moved+c.RolesChanged+c.Blocked+c.Errors == 0 && e.warnings == 0
}

// pruneQuietRuns forgets the quiet incremental runs older than
// QuietRunRetention.
func (s *Service) pruneQuietRuns(ctx context.Context) error {
	cut := stamp(s.now().Add(-QuietRunRetention))
	_, err := s.db.ExecContext(ctx, `DELETE FROM dirsync_runs WHERE mode = 'incremental' AND status = 'ok' AND started_at < ?
		AND deactivated + activated + moved + roles_changed + blocked + errors + warnings = 0`, cut)
	if err != nil {
		return fmt.Errorf("dirsync: forget old quiet runs: %w", err)
	}
	return nil
}

func loadTracking(ctx context.Context, q sqlx.QueryerContext) (map[int64]ldapauth.TrackingState, error) {
	var rows []struct {
		ID    int64  `db:"server_id"`
		State string `db:"state"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT server_id, state FROM dirsync_tracking`); err != nil {
		return nil, fmt.Errorf("dirsync: read the tracking states: %w", err)
	}
	out := map[int64]ldapauth.TrackingState{}
	for _, r := range rows {
		var st ldapauth.TrackingState
		if json.Unmarshal([]byte(r.State), &st) == nil {
			out[r.ID] = st
		}
	}
	return out, nil
}

func deleteTracking(ctx context.Context, db *sqlx.DB, id int64) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM dirsync_tracking WHERE server_id = ?`, id); err != nil {
		return fmt.Errorf("dirsync: forget the tracking state of server %d: %w", id, err)
	}
	return nil
}
