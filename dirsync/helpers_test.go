package dirsync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// env is a whole authority server (real SQLite file, every service) with
// helpers for sync tests.
type env struct {
	*authoritytest.Env
	t   *testing.T
	ctx context.Context
}

func start(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return &env{Env: authoritytest.Start(t), t: t, ctx: ctx}
}

func ptr[T any](v T) *T { return &v }

// The filters and scripts the tests use.
const (
	slapdFilter  = "(&(objectClass=user)(sAMAccountName=%u))"
	glauthFilter = "(&(objectClass=posixAccount)(uid=%u))"
	uacActive    = "function(entry) { return !(entry.userAccountControl & 2); }"
)

func slapdInput(s *testenv.Slapd) ldapauth.ServerInput {
	return ldapauth.ServerInput{Name: ptr("ad"), URL: ptr(s.URL), BindDN: ptr(s.BindDN), BindPassword: ptr(s.BindPassword),
		SearchFilter: ptr(slapdFilter), PageSize: ptr(500), TimeoutSeconds: ptr(30), ActiveScript: ptr(uacActive)}
}

func glauthInput(g *testenv.Glauth) ldapauth.ServerInput {
	return ldapauth.ServerInput{Name: ptr("glauth"), URL: ptr(g.URL), BindDN: ptr(g.BindDN), BindPassword: ptr(g.BindPassword),
		SearchFilter: ptr(glauthFilter), TimeoutSeconds: ptr(10), ActiveScript: ptr(uacActive)}
}

// server stores an LDAP server.
func (e *env) server(in ldapauth.ServerInput) ldapauth.Server {
	e.t.Helper()
	srv, err := e.App.LDAP.Create(e.ctx, in)
	if err != nil {
		e.t.Fatalf("create LDAP server: %v", err)
	}
	return srv
}

// updateServer changes a stored LDAP server.
func (e *env) updateServer(id int64, in ldapauth.ServerInput) {
	e.t.Helper()
	if _, err := e.App.LDAP.Update(e.ctx, id, in); err != nil {
		e.t.Fatalf("update LDAP server %d: %v", id, err)
	}
}

// ldapOrg creates an org under the root that authenticates with servers.
func (e *env) ldapOrg(name string, servers ...int64) orgs.Org {
	e.t.Helper()
	o, err := e.App.Orgs.Create(e.ctx, orgs.Input{Name: ptr(name), AuthMethod: ptr(orgs.AuthLDAP), LDAPServerIDs: &servers})
	if err != nil {
		e.t.Fatalf("create org %s: %v", name, err)
	}
	return o
}

// localOrg creates an org under the root with local authentication.
func (e *env) localOrg(name string) orgs.Org {
	e.t.Helper()
	o, err := e.App.Orgs.Create(e.ctx, orgs.Input{Name: ptr(name), AuthMethod: ptr(orgs.AuthLocal)})
	if err != nil {
		e.t.Fatalf("create org %s: %v", name, err)
	}
	return o
}

// users creates directory users (no password) in org, in one transaction,
// and returns their ids by username.
func (e *env) users(orgID int64, names ...string) map[string]int64 {
	e.t.Helper()
	ids := make(map[string]int64, len(names))
	err := e.App.Users.InTx(e.ctx, func(tx *sqlx.Tx) error {
		for _, n := range names {
			id, err := e.App.Users.CreateTx(e.ctx, tx, users.NewUser{Username: n, OrgID: orgID, Email: "old-" + n + "@old.example"})
			if err != nil {
				return err
			}
			ids[n] = id
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("create users: %v", err)
	}
	return ids
}

// device registers a device (with one archive) for user id.
func (e *env) device(id int64, guid string) {
	e.t.Helper()
	if _, err := e.App.Users.RegisterDevice(e.ctx, id, guid, guid); err != nil {
		e.t.Fatalf("register device %s: %v", guid, err)
	}
}

func (e *env) user(id int64) users.User {
	e.t.Helper()
	u, err := e.App.Users.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("get user %d: %v", id, err)
	}
	return u
}

func (e *env) archives(id int64) []users.Archive {
	e.t.Helper()
	ds, err := e.App.Users.Devices(e.ctx, id)
	if err != nil {
		e.t.Fatalf("devices of %d: %v", id, err)
	}
	var out []users.Archive
	for _, d := range ds {
		out = append(out, d.Archives...)
	}
	return out
}

// sync runs one sync to its end.
func (e *env) sync(req dirsync.Request) dirsync.Run {
	e.t.Helper()
	run, err := e.App.Sync.Run(e.ctx, req)
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	full, err := e.App.Sync.Get(e.ctx, run.ID, dirsync.ListOptions{})
	if err != nil {
		e.t.Fatalf("get run %d: %v", run.ID, err)
	}
	return full
}

// logText returns the server log so far.
func (e *env) logText() string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Dir, "logs", "authority.log"))
	if err != nil {
		e.t.Fatalf("read the log: %v", err)
	}
	return string(b)
}

// dump renders the tables a sync may change, byte for byte comparable.
func (e *env) dump(tables ...string) string {
	e.t.Helper()
	var b strings.Builder
	for _, tb := range tables {
		rows, err := e.App.DB.QueryxContext(e.ctx, `SELECT * FROM `+tb+` ORDER BY rowid`)
		if err != nil {
			e.t.Fatalf("dump %s: %v", tb, err)
		}
		fmt.Fprintf(&b, "== %s\n", tb)
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				e.t.Fatalf("dump %s: %v", tb, err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			fmt.Fprintf(&b, "%q\n", vals)
		}
		rows.Close()
	}
	return b.String()
}

var lifecycleTables = []string{"users", "user_roles", "devices", "archives", "roles", "orgs", "legal_hold_custodians"}

func isConflict(err error) bool { return apperr.Is(err, apperr.KindConflict) }

func apperrAs(err error) (*apperr.Error, bool) { return apperr.As(err) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

func changesOf(run dirsync.Run, username string) []dirsync.Change {
	var out []dirsync.Change
	for _, c := range run.Changes {
		if strings.EqualFold(c.Username, username) {
			out = append(out, c)
		}
	}
	return out
}

func hasChange(run dirsync.Run, username, change string) bool {
	for _, c := range changesOf(run, username) {
		if c.Change == change {
			return true
		}
	}
	return false
}

// The log line patterns of SPEC section 6, from DIRSYNC:: on, after the
// server's ordinary prefix.
var (
	prefix       = `^\[\d\d\.\d\d\.\d\d \d\d:\d\d:\d\d\.\d\d\d (INFO|WARN|ERROR) +dirsync-(\d+)`
	reSubmitting = regexp.MustCompile(prefix + `\] DIRSYNC:: Submitting for orgs: , \[([\d,]*)\]$`)
	reRunning    = regexp.MustCompile(prefix + ` +\.directory\.impl\.sync\.DirectorySyncOrgCmd\] DIRSYNC:: Running for org:(\d+)/(.+)$`)
	reCompleted  = regexp.MustCompile(prefix + ` +\.directory\.impl\.sync\.DirectorySyncOrgCmd\] DIRSYNC:: Completed for org:(\d+)/(.+) users:(\d+), deactivated:(\d+), activated:(\d+), moved:(\d+), rolesChanged:(\d+)$`)
	reSummary    = regexp.MustCompile(prefix + `\] DIRSYNC:: Summary for orgIds:, \[([\d,]*)\], users:(\d+), deactivated:(\d+), activated:(\d+), moved:(\d+), roleChanges:(\d+), simulated:(true|false)$`)
	reHistory    = regexp.MustCompile(prefix + ` +HistoryLogger\] HISTORY:: Subject\[(\d+)/([^,\]]+), orgId:(\d+)\] DIRSYNC:: (.+) user:(\d+)/(.+) in org:(\d+)/(.+) simulated:(true|false)$`)
	reEmail      = regexp.MustCompile(prefix + `\] DIRSYNC:: summary email sent to:\[([^\]]*)\], users:(\d+), deactivated:(\d+), simulated:(true|false)`)
)

// runLines returns the log lines of run id.
func runLines(log string, id int64) []string {
	var out []string
	tag := fmt.Sprintf(" dirsync-%d", id)
	for _, l := range strings.Split(log, "\n") {
		if i := strings.Index(l, tag); i >= 0 {
			rest := l[i+len(tag):]
			if strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "]") {
				out = append(out, l)
			}
		}
	}
	return out
}

func matching(lines []string, re *regexp.Regexp) [][]string {
	var out [][]string
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m)
		}
	}
	return out
}
