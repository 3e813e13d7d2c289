package dirsync

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/authority-server/authority/internal/serverlog"
)

// The logger names of the DIRSYNC log lines (the prefix's logger column).
const (
	OrgCmdLogger  = ".directory.impl.sync.DirectorySyncOrgCmd"
	HistoryLogger = "HistoryLogger"
)

// runLog writes one run's DIRSYNC:: lines (docs/rules.md section 6) to the server log.
type runLog struct {
	main, org, hist *slog.Logger
	subject         string // "Subject[1/admin, orgId:1]"
	simulated       bool
}

func newRunLog(base *slog.Logger, runID int64, subject string, simulated bool) *runLog {
	l := base.With(serverlog.ThreadKey, "dirsync-"+strconv.FormatInt(runID, 10))
	return &runLog{main: l, org: l.With(serverlog.LoggerKey, OrgCmdLogger), hist: l.With(serverlog.LoggerKey, HistoryLogger),
		subject: subject, simulated: simulated}
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (l *runLog) submitting(ids []int64) {
	l.main.Info("DIRSYNC:: Submitting for orgs: , " + idList(ids))
}

func (l *runLog) running(id int64, name string) {
	l.org.Info(fmt.Sprintf("DIRSYNC:: Running for org:%d/%s", id, name))
}

func (l *runLog) completed(o OrgCounts) {
	l.org.Info(fmt.Sprintf("DIRSYNC:: Completed for org:%d/%s users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d",
		o.OrgID, o.OrgName, o.Users, o.Deactivated, o.Activated, o.Moved, o.RolesChanged))
}

func (l *runLog) summary(ids []int64, c Counts) {
	l.main.Info(fmt.Sprintf("DIRSYNC:: Summary for orgIds:, %s, users:%d, deactivated:%d, activated:%d, moved:%d, roleChanges:%d, simulated:%t",
		idList(ids), c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, l.simulated))
}

// finished is the line after the summary with what the documented summary line
// leaves out.
func (l *runLog) finished(runID int64, st Status, c Counts, warnings int) {
	l.main.Info(fmt.Sprintf("DIRSYNC:: Finished run:%d status:%s, blocked:%d, errors:%d, warnings:%d, simulated:%t",
		runID, st, c.Blocked, c.Errors, warnings, l.simulated))
}

// history is the HISTORY:: line of one user change.
func (l *runLog) history(change string, u *scopeUser, orgName string) {
	l.hist.Info(fmt.Sprintf("HISTORY:: %s DIRSYNC:: %s user:%d/%s in org:%d/%s simulated:%t",
		l.subject, change, u.ID, u.Username, u.OrgID, orgName, l.simulated))
}

func (l *runLog) scriptError(u *scopeUser, orgName, msg string) {
	l.org.Warn(fmt.Sprintf("DIRSYNC:: Script error for user:%d/%s in org:%d/%s: %s (user left unchanged) simulated:%t",
		u.ID, u.Username, u.OrgID, orgName, oneLine(msg), l.simulated))
}

func (l *runLog) warning(u *scopeUser, orgName, msg string) {
	l.org.Warn(fmt.Sprintf("DIRSYNC:: Warning for user:%d/%s in org:%d/%s: %s simulated:%t",
		u.ID, u.Username, u.OrgID, orgName, oneLine(msg), l.simulated))
}

func (l *runLog) failed(runID int64, ids []int64, msg string) {
	l.main.Error(fmt.Sprintf("DIRSYNC:: Failed run:%d for orgIds:, %s: %s; nobody was deactivated, simulated:%t",
		runID, idList(ids), oneLine(msg), l.simulated))
}

// cancelled is the line of a run that stopped because it was asked to.
func (l *runLog) cancelled(runID int64, ids []int64, msg string) {
	l.main.Warn(fmt.Sprintf("DIRSYNC:: Cancelled run:%d for orgIds:, %s: %s, simulated:%t",
		runID, idList(ids), oneLine(msg), l.simulated))
}

func (l *runLog) valve(identified, inScope int, v Valve) {
	l.main.Warn(fmt.Sprintf("DIRSYNC:: Safety valve: %s identified:%d, users:%d, valvePercent:%d, valveMinUsers:%d, simulated:%t",
		ValveMessage, identified, inScope, v.Percent, v.MinUsers, l.simulated))
}

func (l *runLog) valveOverridden(identified, inScope int) {
	l.main.Warn(fmt.Sprintf("DIRSYNC:: Safety valve overridden by request: deactivating identified:%d, users:%d, simulated:%t",
		identified, inScope, l.simulated))
}

// timings says where the run's time went.
func (l *runLog) timings(e *engine) {
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	l.main.Info(fmt.Sprintf("DIRSYNC:: Timings run:%d total:%s, countUsers:%s, search:%s (pages:%d, waited:%s, processing:%s, scripts:%s, writes:%s), deactivate:%s, simulated:%t",
		e.runID, r(e.tRun), r(e.tLoad), r(e.tSearch), e.pages, r(e.searchWaited), r(e.inPages), r(e.inScripts), r(e.inApply), r(e.tDeactivate), l.simulated))
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
