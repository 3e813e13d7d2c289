package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/apperr"
)

// consoleSyncRoutes: Sync history, the sync buttons and Settings > Notifications.
func (s *Server) consoleSyncRoutes(r chi.Router) {
	r.Get("/sync/runs", s.consoleSyncRuns)
	r.Post("/sync/runs", s.consoleStartSync)
	r.Get("/sync/runs/{id}", s.consoleSyncRun)
	r.Post("/sync/runs/{id}/cancel", s.consoleCancelSync)
	r.Get("/sync/status.json", s.consoleSyncStatus)
	r.Get("/settings/notifications", s.consoleNotifications)
	r.Post("/settings/notifications", s.consoleSaveNotifications)
	r.Post("/settings/notifications/test", s.consoleTestEmail)
}

// syncPanel is the directory sync part of Settings > Security > LDAP.
type syncPanel struct {
	Available bool
	Running   int64 // the id of the run going on, 0 for none
	Progress  string
	Last      *dirsync.Run // the newest run of any kind
	LastSync  string       // how long ago the last run that was not simulated started
	NextSync  string       // when the schedule runs next ("" when it is off)
	Interval  string
}

func (s *Server) syncPanel(ctx context.Context) *syncPanel {
	p := &syncPanel{}
	if s.Sync == nil {
		return p
	}
	st, err := s.Sync.Status(ctx)
	if err != nil {
		s.Log.Error("console: sync status", "err", err)
		return p
	}
	p.Available, p.Last, p.Interval = true, st.LastRun, st.Interval
	now := s.Now()
	p.LastSync = "never"
	if st.LastRunAt != nil {
		p.LastSync = agoTime(now, *st.LastRunAt)
	}
	if st.NextRunAt != nil {
		p.NextSync = agoTime(now, *st.NextRunAt)
		if st.NextRunAt.Before(now) {
			p.NextSync = "due now"
		}
	}
	if st.Running && st.RunningID != nil {
		p.Running = *st.RunningID
		p.Progress = s.progressText(ctx, p.Running)
	}
	return p
}

// progressText says how far the run going on has got.
func (s *Server) progressText(ctx context.Context, id int64) string {
	run, err := s.Sync.Get(ctx, id, dirsync.ListOptions{ChangesLimit: 1})
	if err != nil {
		return fmt.Sprintf("Run %d is running…", id)
	}
	what := "Directory sync"
	if run.Simulated {
		what = "Simulated sync"
	}
	c := run.Counts
	return fmt.Sprintf("%s %d running for %s: %d users checked, %d deactivated, %d activated, %d moved, %d with role changes, %d blocked, %d errors so far.",
		what, id, s.Now().Sub(run.StartedAt).Round(time.Second), c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, c.Blocked, c.Errors)
}

func (s *Server) syncUnavailable(w http.ResponseWriter, r *http.Request) bool {
	if s.Sync != nil {
		return false
	}
	s.renderError(w, r, http.StatusServiceUnavailable, "Directory sync is not available on this server.")
	return true
}

// consoleSyncStatus answers the state of the schedule and the run going on
// for the pages' script.
func (s *Server) consoleSyncStatus(w http.ResponseWriter, r *http.Request) {
	if s.Sync == nil {
		s.writeError(w, http.StatusServiceUnavailable, "directory sync is not available on this server", nil)
		return
	}
	p := s.syncPanel(r.Context())
	out := map[string]any{"running": p.Running != 0, "runningId": p.Running, "progress": p.Progress, "lastSync": p.LastSync}
	if p.Last != nil {
		out["lastRunId"] = p.Last.ID
		out["lastStatus"] = p.Last.Status
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) consoleStartSync(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	back := safeNext(r.PostFormValue("back"))
	if !strings.HasPrefix(back, "/sync/runs") && back != "/settings/ldap" {
		back = "/settings/ldap"
	}
	a := admin(r)
	req := dirsync.Request{Simulate: r.PostFormValue("simulate") != "", OverrideValve: r.PostFormValue("overrideValve") != "",
		Incremental: r.PostFormValue("mode") == dirsync.ModeIncremental,
		Subject:     &dirsync.Subject{UserID: a.ID, Username: a.Username, OrgID: a.OrgID}}
	run, err := s.Sync.Start(r.Context(), req)
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, back, "error", msg)
		return
	}
	what := "Directory sync"
	switch {
	case req.Simulate:
		what = "Simulated sync"
	case req.OverrideValve:
		what = "Directory sync (overriding the safety valve once)"
	}
	s.done(w, r, back, "ok", fmt.Sprintf("%s %d started.", what, run.ID))
}

// consoleCancelSync is the Cancel button of a running sync: it stops the run
// and shows it.
func (s *Server) consoleCancelSync(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	back := "/sync/runs/" + strconv.FormatInt(id, 10)
	a := admin(r)
	run, err := s.Sync.Cancel(r.Context(), id, &dirsync.Subject{UserID: a.ID, Username: a.Username, OrgID: a.OrgID})
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, back, "error", msg)
		return
	}
	if run.Status == dirsync.StatusRunning {
		s.done(w, r, back, "warn", fmt.Sprintf("Run %d was asked to stop and is winding down.", id))
		return
	}
	s.done(w, r, back, "ok", fmt.Sprintf("Run %d was cancelled.", id))
}

// cancelRunArgs are the arguments of the "cancelrun" template.
type cancelRunArgs struct {
	ID        int64
	CSRFField template.HTML
}

func init() {
	templateFuncs["cancelRun"] = func(id int64, csrfField template.HTML) cancelRunArgs {
		return cancelRunArgs{ID: id, CSRFField: csrfField}
	}
}

// syncRunsPageSize is how many runs a page of the history shows.
const syncRunsPageSize = 25

type syncRunsData struct {
	Runs             []dirsync.Run
	Panel            *syncPanel
	Page             int
	PrevURL, NextURL string
}

func (s *Server) consoleSyncRuns(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	d := syncRunsData{Page: 1}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	ctx := r.Context()
	runs, err := s.Sync.Runs(ctx, dirsync.ListOptions{Limit: syncRunsPageSize + 1, Offset: (d.Page - 1) * syncRunsPageSize, ChangesLimit: 1})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if len(runs) > syncRunsPageSize {
		runs = runs[:syncRunsPageSize]
		d.NextURL = "/sync/runs?page=" + strconv.Itoa(d.Page+1)
	}
	if d.Page > 1 {
		d.PrevURL = "/sync/runs?page=" + strconv.Itoa(d.Page-1)
	}
	d.Runs = runs
	d.Panel = s.syncPanel(ctx)
	s.render(w, r, http.StatusOK, "sync_runs", &view{Title: "Sync history", Nav: "sync", Data: d})
}

// changesPageSize is how many change lines a page of a run shows.
const changesPageSize = 200

type syncRunData struct {
	Run              dirsync.Run
	OrgNames         map[int64]string
	Running          bool
	Progress         string
	Page             int
	First, Last      int
	PrevURL, NextURL string
}

func (s *Server) consoleSyncRun(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	d := syncRunData{Page: 1, OrgNames: map[int64]string{}}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	ctx := r.Context()
	run, err := s.Sync.Get(ctx, id, dirsync.ListOptions{ChangesLimit: changesPageSize + 1, ChangesOffset: (d.Page - 1) * changesPageSize})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	base := "/sync/runs/" + strconv.FormatInt(id, 10)
	if len(run.Changes) > changesPageSize {
		run.Changes = run.Changes[:changesPageSize]
		d.NextURL = base + "?page=" + strconv.Itoa(d.Page+1) + "#changes"
	}
	if d.Page > 1 {
		d.PrevURL = base + "?page=" + strconv.Itoa(d.Page-1) + "#changes"
	}
	if len(run.Changes) > 0 {
		d.First = (d.Page-1)*changesPageSize + 1
		d.Last = d.First + len(run.Changes) - 1
	}
	d.Run = run
	if run.Status == dirsync.StatusRunning {
		d.Running = true
		d.Progress = s.progressText(ctx, id)
	}
	if rows, err := s.orgTree(ctx); err == nil {
		for _, o := range rows {
			d.OrgNames[o.ID] = o.Name
		}
	}
	for _, o := range run.Orgs {
		if d.OrgNames[o.OrgID] == "" {
			d.OrgNames[o.OrgID] = o.OrgName
		}
	}
	s.render(w, r, http.StatusOK, "sync_run", &view{Title: fmt.Sprintf("Sync run %d", id), Nav: "sync", Data: d})
}

// changeLabel names a kind of change line for people.
func changeLabel(kind string) string {
	switch kind {
	case dirsync.ChangeDeactivated:
		return "Deactivated"
	case dirsync.ChangeBlocked:
		return "Blocked (legal hold)"
	case dirsync.ChangeReactivated:
		return "Reactivated"
	case dirsync.ChangeMoved:
		return "Moved"
	case dirsync.ChangeRolesChanged:
		return "Roles changed"
	case dirsync.ChangeProfileUpdated:
		return "Profile updated"
	case dirsync.ChangeWarning:
		return "Warning"
	case dirsync.ChangeError:
		return "Script error"
	case dirsync.ChangeNotDeactivated:
		return "Not deactivated (safety valve)"
	}
	return kind
}

// triggerLabel names what started a run.
func triggerLabel(t dirsync.Trigger) string {
	switch t {
	case dirsync.TriggerSchedule:
		return "schedule"
	case dirsync.TriggerManual:
		return "Synchronize now"
	case dirsync.TriggerSimulate:
		return "Simulate Synchronize"
	}
	return string(t)
}

func init() {
	templateFuncs["changeLabel"] = changeLabel
	templateFuncs["triggerLabel"] = triggerLabel
	templateFuncs["intervalLabel"] = intervalLabel
	templateFuncs["whenT"] = func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	templateFuncs["duration"] = func(start time.Time, end *time.Time) string {
		if end == nil {
			return ""
		}
		d := end.Sub(start)
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(time.Second).String()
	}
}

// notificationsForm is Settings > Notifications.
type notificationsForm struct {
	Emails       string // one address a line
	SMTP         dirsync.SMTP
	Port         string
	EditPassword bool
}

var notificationFields = []string{"emails", "smtp.host", "smtp.port", "smtp.username", "smtp.password", "smtp.from", "smtp.startTLS"}

func (s *Server) consoleNotifications(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	n, err := s.Sync.Notifications(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	f := &notificationsForm{Emails: strings.Join(n.Emails, "\n"), SMTP: n.SMTP, EditPassword: r.URL.Query().Get("editPassword") != ""}
	f.SMTP.Password = nil
	if n.SMTP.Port != 0 {
		f.Port = strconv.Itoa(n.SMTP.Port)
	}
	s.render(w, r, http.StatusOK, "notifications", &view{Title: "Notifications", Nav: "notifications", Data: f})
}

func (s *Server) consoleSaveNotifications(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	ctx := r.Context()
	cur, err := s.Sync.Notifications(ctx)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	f := &notificationsForm{Emails: r.PostFormValue("emails"), Port: strings.TrimSpace(r.PostFormValue("smtp.port"))}
	f.SMTP = dirsync.SMTP{Host: r.PostFormValue("smtp.host"), Username: r.PostFormValue("smtp.username"),
		From: r.PostFormValue("smtp.from"), StartTLS: r.PostFormValue("smtp.startTLS") != "", HasPassword: cur.SMTP.HasPassword}
	in := dirsync.Notifications{Emails: []string{}, SMTP: f.SMTP}
	for _, line := range strings.FieldsFunc(f.Emails, func(c rune) bool { return c == '\n' || c == '\r' || c == ',' || c == ';' }) {
		if line = strings.TrimSpace(line); line != "" {
			in.Emails = append(in.Emails, line)
		}
	}
	if f.Port != "" {
		if in.SMTP.Port, err = strconv.Atoi(f.Port); err != nil {
			err = apperr.Invalid("smtp.port", "must be a port number from 1 to 65535")
		}
	}
	if r.PostFormValue("passwordEdit") != "" {
		pw := r.PostFormValue("smtp.password")
		in.SMTP.Password = &pw
		f.EditPassword = true
	}
	var saved dirsync.Notifications
	if err == nil {
		saved, err = s.Sync.SaveNotifications(ctx, in)
	}
	if e, ok := apperr.As(err); ok && e.Field == "smtp.password" {
		f.EditPassword = true // the password must be entered again: open its box
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && strings.HasPrefix(e.Field, "emails[") {
			e2 := *e
			e2.Field = "emails"
			err = &e2
		}
		v := &view{Title: "Notifications", Nav: "notifications", Data: f}
		s.render(w, r, s.formError(r, v, err, notificationFields...), "notifications", v)
		return
	}
	msg := "Notifications saved."
	switch {
	case len(saved.Emails) == 0:
		msg += " No address is set, so sync summaries are not emailed."
	case saved.SMTP.Host == "":
		msg += " Set the SMTP server so that sync summaries can be emailed."
	default:
		msg += fmt.Sprintf(" Sync summaries go to %d address(es) through %s.", len(saved.Emails), saved.SMTP.Host)
	}
	s.done(w, r, "/settings/notifications", "ok", msg)
}

func (s *Server) consoleTestEmail(w http.ResponseWriter, r *http.Request) {
	if s.syncUnavailable(w, r) {
		return
	}
	if err := s.Sync.SendTestEmail(r.Context()); err != nil {
		_, msg := s.explain(r, err)
		if _, ok := apperr.As(err); !ok {
			msg = sentence("the test email was not sent: " + err.Error())
		}
		s.done(w, r, "/settings/notifications", "error", msg)
		return
	}
	s.done(w, r, "/settings/notifications", "ok", "A test email was sent to every address.")
}
