package dirsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/sqltx"
)

// Trigger says what started a run.
type Trigger string

// The triggers of a run.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerSimulate Trigger = "simulate"
)

// Status is the state of a run.
type Status string

// The states of a run.
const (
	StatusRunning Status = "running"
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusValve   Status = "valve"
	// StatusCancelled: the run stopped because it was asked to (Cancel, the
	// server shutting down, syncTimeout, or the caller's context).
	StatusCancelled Status = "cancelled"
)

// ValveMessage is the message of a run whose deactivations the safety valve
// stopped (docs/rules.md section 6).
const ValveMessage = "Directory sync deactivation not executed. Too many users were identified for deactivation. Check LDAP configuration."

// InterruptedMessage is the message of a run that a crash or kill left
// unfinished (a run asked to stop is cancelled instead).
const InterruptedMessage = "interrupted: the server stopped during the run; every user is either fully changed or untouched, and the next run completes the work"

// MaxChangeLines bounds the change lines kept per run, so that a run over a
// large directory cannot bloat the database; Run.ChangesTotal counts them all.
const MaxChangeLines = 10000

// Kinds of change lines.
const (
	ChangeDeactivated    = "deactivated"
	ChangeBlocked        = "blocked" // on legal hold: blocked instead of deactivated
	ChangeReactivated    = "reactivated"
	ChangeMoved          = "moved"
	ChangeRolesChanged   = "rolesChanged"
	ChangeProfileUpdated = "profileUpdated"
	ChangeRenamed        = "renamed" // found by its stable id under a new username
	ChangeWarning        = "warning"
	ChangeError          = "error"
	// ChangeNotDeactivated marks a user identified for deactivation that the
	// safety valve kept as it was.
	ChangeNotDeactivated = "notDeactivated"
)

// Counts are the numbers of a run or of one org in it.
type Counts struct {
	Users        int `json:"users" db:"users"`
	Deactivated  int `json:"deactivated" db:"deactivated"`
	Activated    int `json:"activated" db:"activated"`
	Moved        int `json:"moved" db:"moved"`
	RolesChanged int `json:"rolesChanged" db:"roles_changed"`
	Blocked      int `json:"blocked" db:"blocked"`
	Errors       int `json:"errors" db:"errors"`
}

func (c *Counts) add(o Counts) {
	c.Users += o.Users
	c.Deactivated += o.Deactivated
	c.Activated += o.Activated
	c.Moved += o.Moved
	c.RolesChanged += o.RolesChanged
	c.Blocked += o.Blocked
	c.Errors += o.Errors
}

// OrgCounts are the counts of one org in a run.
type OrgCounts struct {
	OrgID   int64  `json:"orgId" db:"org_id"`
	OrgName string `json:"orgName" db:"org_name"`
	Counts
}

// Change is one line of a run's history: a change to one user, a warning
// or a script error.
type Change struct {
	UserID   int64  `json:"userId" db:"user_id"`
	Username string `json:"username" db:"username"`
	OrgID    int64  `json:"orgId" db:"org_id"` // the user's org when the run started
	Change   string `json:"change" db:"change"`
	From     string `json:"from" db:"from_value"`
	To       string `json:"to" db:"to_value"`
	Message  string `json:"message,omitempty" db:"message"`
}

// Run is one sync run as the API and the history show it.
type Run struct {
	ID            int64       `json:"id"`
	Trigger       Trigger     `json:"trigger"`
	Simulated     bool        `json:"simulated"`
	OverrideValve bool        `json:"overrideValve"`
	StartedBy     string      `json:"startedBy"` // "ID/USERNAME" or "system"
	Status        Status      `json:"status"`
	StartedAt     time.Time   `json:"startedAt"`
	FinishedAt    *time.Time  `json:"finishedAt"`
	Counts        Counts      `json:"counts"`
	Warnings      int         `json:"warnings"`
	Identified    int         `json:"identifiedForDeactivation"`
	Orgs          []OrgCounts `json:"orgs"`
	Changes       []Change    `json:"changes"`
	ChangesTotal  int         `json:"changesTotal"` // change lines produced; at most MaxChangeLines are kept
	Message       string      `json:"message"`
	// Mode is ModeFull or ModeIncremental; Tracking says, per server id, the
	// change tracking the run used (a full run: the state it kept).
	Mode     string               `json:"mode"`
	Tracking map[string]*Tracking `json:"tracking"`
	// Missed counts the users not found that wait for the missed-run
	// threshold, by how many runs in a row have missed them.
	Missed map[string]int `json:"missed"`
	// EntriesExamined is how many directory entries the run looked at, by server id.
	EntriesExamined map[string]int `json:"entriesExamined"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

type runRow struct {
	ID            int64          `db:"id"`
	Trigger       string         `db:"trigger"`
	Simulated     bool           `db:"simulated"`
	OverrideValve bool           `db:"override_valve"`
	StartedBy     string         `db:"started_by"`
	StartedAt     string         `db:"started_at"`
	FinishedAt    sql.NullString `db:"finished_at"`
	Status        string         `db:"status"`
	Counts
	Warnings     int    `db:"warnings"`
	Identified   int    `db:"identified"`
	ChangesTotal int    `db:"changes_total"`
	Message      string `db:"message"`
	Mode         string `db:"mode"`
	Tracking     string `db:"tracking"`
	Missed       string `db:"missed"`
}

const runColumns = `id, trigger, simulated, override_valve, started_by, started_at, finished_at, status,
	users, deactivated, activated, moved, roles_changed, blocked, errors, warnings, identified, changes_total, message, mode, tracking, missed`

func (r runRow) run() Run {
	out := Run{ID: r.ID, Trigger: Trigger(r.Trigger), Simulated: r.Simulated, OverrideValve: r.OverrideValve,
		StartedBy: r.StartedBy, Status: Status(r.Status), StartedAt: parseStamp(r.StartedAt), Counts: r.Counts,
		Warnings: r.Warnings, Identified: r.Identified, ChangesTotal: r.ChangesTotal, Message: r.Message,
		Orgs: []OrgCounts{}, Changes: []Change{}, Mode: r.Mode, Tracking: map[string]*Tracking{}}
	_ = json.Unmarshal([]byte(r.Tracking), &out.Tracking)
	out.Missed = map[string]int{}
	_ = json.Unmarshal([]byte(r.Missed), &out.Missed)
	out.EntriesExamined = map[string]int{}
	for id, t := range out.Tracking {
		out.EntriesExamined[id] = t.Examined
	}
	if r.FinishedAt.Valid {
		t := parseStamp(r.FinishedAt.String)
		out.FinishedAt = &t
	}
	return out
}

// ListOptions pages the run list and the change lines of a run.
type ListOptions struct {
	Limit  int // runs (default 50)
	Offset int
	// ChangesLimit bounds the change lines returned per run (default: 100
	// in a list, every kept line for one run).
	ChangesLimit  int
	ChangesOffset int
}

// Runs returns the history, newest first.
func (s *Service) Runs(ctx context.Context, o ListOptions) ([]Run, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.ChangesLimit <= 0 {
		o.ChangesLimit = 100
	}
	var rows []runRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+runColumns+` FROM dirsync_runs ORDER BY id DESC LIMIT ? OFFSET ?`, o.Limit, o.Offset); err != nil {
		return nil, fmt.Errorf("dirsync: list runs: %w", err)
	}
	out := make([]Run, 0, len(rows))
	for _, r := range rows {
		run := r.run()
		if err := s.fillRun(ctx, &run, o.ChangesLimit, o.ChangesOffset); err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// CountRuns returns how many runs the history holds.
func (s *Service) CountRuns(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM dirsync_runs`); err != nil {
		return 0, fmt.Errorf("dirsync: count runs: %w", err)
	}
	return n, nil
}

// Get returns run id with its per-org counts and its change lines (every
// kept line unless o.ChangesLimit is set).
func (s *Service) Get(ctx context.Context, id int64, o ListOptions) (Run, error) {
	var r runRow
	err := s.db.GetContext(ctx, &r, `SELECT `+runColumns+` FROM dirsync_runs WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, apperr.NotFound("sync run %d does not exist", id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("dirsync: get run %d: %w", id, err)
	}
	run := r.run()
	if o.ChangesLimit <= 0 {
		o.ChangesLimit = MaxChangeLines
	}
	return run, s.fillRun(ctx, &run, o.ChangesLimit, o.ChangesOffset)
}

func (s *Service) fillRun(ctx context.Context, run *Run, limit, offset int) error {
	if err := s.db.SelectContext(ctx, &run.Orgs, `SELECT org_id, org_name, users, deactivated, activated, moved, roles_changed, blocked, errors
		FROM dirsync_run_orgs WHERE run_id = ? ORDER BY org_id`, run.ID); err != nil {
		return fmt.Errorf("dirsync: counts of run %d: %w", run.ID, err)
	}
	if err := s.db.SelectContext(ctx, &run.Changes, `SELECT user_id, username, org_id, change, from_value, to_value, message
		FROM dirsync_changes WHERE run_id = ? ORDER BY id LIMIT ? OFFSET ?`, run.ID, limit, offset); err != nil {
		return fmt.Errorf("dirsync: changes of run %d: %w", run.ID, err)
	}
	if run.Orgs == nil {
		run.Orgs = []OrgCounts{}
	}
	if run.Changes == nil {
		run.Changes = []Change{}
	}
	return nil
}

// lastRealStart returns the start of the newest full run that was not
// simulated (the full schedule counts from it).
func (s *Service) lastRealStart(ctx context.Context) (time.Time, bool, error) {
	return s.lastStart(ctx, `simulated = 0 AND mode = 'full'`)
}

// lastAnyStart returns the start of the newest run, full or incremental,
// that was not simulated (the incremental schedule counts from it).
func (s *Service) lastAnyStart(ctx context.Context) (time.Time, bool, error) {
	return s.lastStart(ctx, `simulated = 0`)
}

func (s *Service) lastStart(ctx context.Context, where string) (time.Time, bool, error) {
	var raw string
	err := s.db.GetContext(ctx, &raw, `SELECT started_at FROM dirsync_runs WHERE `+where+` ORDER BY id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("dirsync: last run: %w", err)
	}
	return parseStamp(raw), true, nil
}

// insertRun records a new running run and returns its id.
func (s *Service) insertRun(ctx context.Context, req Request, startedBy string, start time.Time) (id int64, err error) {
	err = sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		mode := ModeFull
		if req.Incremental {
			mode = ModeIncremental // until the run decides it must be full
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO dirsync_runs(trigger, simulated, override_valve, started_by, started_at, status, mode) VALUES(?, ?, ?, ?, ?, 'running', ?)`,
			string(req.trigger()), req.Simulate, req.OverrideValve, startedBy, stamp(start), mode)
		if err != nil {
			return fmt.Errorf("dirsync: record run: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("dirsync: record run: %w", err)
		}
		return recordStart(ctx, tx, id, req)
	})
	return id, err
}

// recordStart records an administrator's start of run id in the audit log:
// audit.SyncRunConfirm when it overrides the safety valve (the administrator
// confirms the deactivations the valve held back), audit.SyncRunStart
// otherwise. Scheduled runs and the command line's are nobody's change.
func recordStart(ctx context.Context, tx *sqlx.Tx, id int64, req Request) error {
	action := audit.SyncRunStart
	if req.OverrideValve {
		action = audit.SyncRunConfirm
	}
	return audit.RecordTx(ctx, tx, action, audit.Target("dirsync-run", id, ""), []audit.Change{
		audit.Field("trigger", nil, req.trigger()), audit.Field("simulate", nil, req.Simulate),
		audit.Field("overrideValve", nil, req.OverrideValve)})
}

// markInterrupted fails every run left "running". Only called while holding
// the run lock, so no run can be going on.
func (s *Service) markInterrupted(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE dirsync_runs SET status = 'failed', finished_at = ?, message = ? WHERE status = 'running'`,
		stamp(s.now()), InterruptedMessage)
	if err != nil {
		return 0, fmt.Errorf("dirsync: mark interrupted runs: %w", err)
	}
	return res.RowsAffected()
}

// recorder writes a run's history as it goes: change lines (bounded), the
// running counts, and the final state.
type recorder struct {
	runID int64
	kept  int
	total int
}

// add inserts lines through e (the batch transaction, so that a change and
// its history line commit together), keeping at most MaxChangeLines.
func (rec *recorder) add(ctx context.Context, e sqlx.ExecerContext, lines []Change) error {
	for _, c := range lines {
		rec.total++
		if rec.kept >= MaxChangeLines {
			continue
		}
		if _, err := e.ExecContext(ctx, `INSERT INTO dirsync_changes(run_id, user_id, username, org_id, change, from_value, to_value, message) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.runID, c.UserID, c.Username, c.OrgID, c.Change, c.From, c.To, c.Message); err != nil {
			return fmt.Errorf("dirsync: record change of %s: %w", c.Username, err)
		}
		rec.kept++
	}
	return nil
}

// progress stores the running counts of run (visible while it runs).
func (rec *recorder) progress(ctx context.Context, e sqlx.ExecerContext, c Counts, warnings int) error {
	_, err := e.ExecContext(ctx, `UPDATE dirsync_runs SET users = ?, deactivated = ?, activated = ?, moved = ?, roles_changed = ?, blocked = ?, errors = ?, warnings = ?, changes_total = ? WHERE id = ?`,
		c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, c.Blocked, c.Errors, warnings, rec.total, rec.runID)
	if err != nil {
		return fmt.Errorf("dirsync: record progress of run %d: %w", rec.runID, err)
	}
	return nil
}

// finish stores the final state of the run with its per-org counts.
func (s *Service) finish(ctx context.Context, rec *recorder, st Status, c Counts, warnings, identified int, orgsCounts []OrgCounts, msg string, end time.Time) error {
	err := sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE dirsync_runs SET status = ?, finished_at = ?, message = ?, identified = ? WHERE id = ?`,
			string(st), stamp(end), msg, identified, rec.runID); err != nil {
			return err
		}
		if err := rec.progress(ctx, tx, c, warnings); err != nil {
			return err
		}
		for _, o := range orgsCounts {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO dirsync_run_orgs(run_id, org_id, org_name, users, deactivated, activated, moved, roles_changed, blocked, errors)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rec.runID, o.OrgID, o.OrgName, o.Users, o.Deactivated, o.Activated, o.Moved, o.RolesChanged, o.Blocked, o.Errors); err != nil {
				return fmt.Errorf("org counts: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dirsync: finish run %d: %w", rec.runID, err)
	}
	return nil
}
