// Package audit is the audit log (docs/rules.md section 10): every change an
// administrator makes is recorded with its time, its actor (user id,
// username, client address), its action (a stable dotted name such as
// "user.block"), its target ("user:5/jsmith") and each changed field before
// and after, secrets only as "(changed)".
//
// Who acts travels in the context: the web layer's administrator middleware
// (API and console alike) calls Log.As, and the domain services, which both
// the API and the console call, record their changes with RecordTx inside
// the transaction that makes them. A change made without an actor in its
// context (a directory sync, a sign-in, the first start, tests driving the
// services) is not an administrator's and is not recorded. So a change is
// recorded exactly when it commits: a refused or failed change leaves no
// entry, and the entry cannot be lost while the change stands.
//
// Each entry is stored (table audit_log, migration 0005) and, once its
// transaction has committed, written to the server log as an AUDIT:: line.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/sqltx"
)

// Actor is who makes a change: a signed-in administrator and the client
// address the request came from. UserID 0 is not a user (the command line).
type Actor struct {
	UserID   int64
	Username string
	Address  string
}

// Entry is one recorded change, as GET /api/v1/audit shows it.
type Entry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	ActorID int64     `json:"actorId"`
	Actor   string    `json:"actor"`
	Address string    `json:"address"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Changes []Change  `json:"changes"`
}

// Log stores entries in the database and writes their AUDIT:: lines.
type Log struct {
	db  *sqlx.DB
	log *slog.Logger
	now func() time.Time
}

// New returns the audit log over db (which holds the audit_log table),
// writing its lines to log and taking time from now (time.Now when nil).
func New(db *sqlx.DB, log *slog.Logger, now func() time.Time) *Log {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, log: log, now: now}
}

type ctxKey struct{}

// scope is what the context carries: who acts, and the log their changes go to.
type scope struct {
	log   *Log
	actor Actor
}

// As returns ctx saying that actor makes the changes done with it; they are
// recorded in l. On a nil Log it returns ctx unchanged (nothing is recorded).
func (l *Log) As(ctx context.Context, a Actor) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &scope{log: l, actor: a})
}

// ActorOf returns the actor ctx carries, if any.
func ActorOf(ctx context.Context) (Actor, bool) {
	sc, ok := ctx.Value(ctxKey{}).(*scope)
	if !ok {
		return Actor{}, false
	}
	return sc.actor, true
}

// Active reports whether changes made with ctx are recorded: a service may
// skip reading the state before a change when they are not.
func Active(ctx context.Context) bool {
	_, ok := ctx.Value(ctxKey{}).(*scope)
	return ok
}

// RecordTx records, inside tx, that the actor of ctx did action to target
// with changes; the AUDIT:: line is written once tx has committed (tx must
// come from sqltx.Run for that). Without an actor in ctx it does nothing.
// Values longer than MaxValueBytes are cut, and at most MaxChanges changes
// are kept.
func RecordTx(ctx context.Context, tx *sqlx.Tx, action, target string, changes []Change) error {
	sc, ok := ctx.Value(ctxKey{}).(*scope)
	if !ok {
		return nil
	}
	e := Entry{At: sc.log.now().UTC(), ActorID: sc.actor.UserID, Actor: sc.actor.Username, Address: sc.actor.Address,
		Action: action, Target: target, Changes: bound(changes)}
	raw, err := json.Marshal(e.Changes)
	if err != nil {
		return fmt.Errorf("audit: record %s of %s: encode the changes: %w", action, target, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO audit_log(at, actor_id, actor, actor_key, address, action, target, changes)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.Format(stampLayout), e.ActorID, e.Actor, FoldKey(e.Actor), e.Address, e.Action, e.Target, string(raw))
	if err != nil {
		return fmt.Errorf("audit: record %s of %s: %w", action, target, err)
	}
	e.ID, _ = res.LastInsertId()
	sqltx.AfterCommit(tx, func() { sc.log.log.Info(Line(e)) })
	return nil
}

// Record records a change in a transaction of its own, for a change that is
// not made in one transaction of the caller's: call it right after the
// change succeeded. Without an actor in ctx it does nothing.
func Record(ctx context.Context, action, target string, changes []Change) error {
	sc, ok := ctx.Value(ctxKey{}).(*scope)
	if !ok {
		return nil
	}
	return sqltx.Run(ctx, sc.log.db, func(tx *sqlx.Tx) error { return RecordTx(ctx, tx, action, target, changes) })
}

// Target names what a change is about: kind:id/name ("user:5/jsmith",
// "org:3/Staff"), kind:id without a name, kind:name without an id
// ("settings:ldap").
func Target(kind string, id int64, name string) string {
	switch {
	case id == 0:
		return kind + ":" + name
	case name == "":
		return kind + ":" + strconv.FormatInt(id, 10)
	}
	return kind + ":" + strconv.FormatInt(id, 10) + "/" + name
}

// stampLayout is how at is stored: UTC with milliseconds, fixed width.
const stampLayout = "2006-01-02T15:04:05.000Z07:00"

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Filter narrows List: Actor is a username (ignoring case), Action an
// action or the start of one up to a dot ("user" matches "user.block" and
// "user.device.replace"). Page counts from 1.
type Filter struct {
	Actor    string
	Action   string
	Page     int
	PageSize int
}

// Page is one page of entries, newest first, and how many match in all.
type Page struct {
	Total    int     `json:"total"`
	Page     int     `json:"page"`
	PageSize int     `json:"pageSize"`
	Entries  []Entry `json:"entries"`
}

type row struct {
	ID      int64  `db:"id"`
	At      string `db:"at"`
	ActorID int64  `db:"actor_id"`
	Actor   string `db:"actor"`
	Address string `db:"address"`
	Action  string `db:"action"`
	Target  string `db:"target"`
	Changes string `db:"changes"`
}

// List returns the entries matching f, newest first. A page or page size
// out of range is an apperr Invalid naming "page" or "pageSize".
func (l *Log) List(ctx context.Context, f Filter) (Page, error) {
	if f.Page == 0 {
		f.Page = 1
	}
	if f.PageSize == 0 {
		f.PageSize = DefaultPageSize
	}
	if f.Page < 1 || f.Page > 1<<30 {
		return Page{}, apperr.Invalid("page", "must be a whole number from 1")
	}
	if f.PageSize < 1 || f.PageSize > MaxPageSize {
		return Page{}, apperr.Invalid("pageSize", "must be a whole number from 1 to %d", MaxPageSize)
	}
	var where []string
	var args []any
	if a := strings.TrimSpace(f.Actor); a != "" {
		where, args = append(where, "actor_key = ?"), append(args, FoldKey(a))
	}
	if a := strings.Trim(strings.TrimSpace(f.Action), "."); a != "" {
		like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(a) + ".%"
		where, args = append(where, `(action = ? OR action LIKE ? ESCAPE '\')`), append(args, a, like)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	p := Page{Page: f.Page, PageSize: f.PageSize, Entries: []Entry{}}
	if err := l.db.GetContext(ctx, &p.Total, `SELECT count(*) FROM audit_log`+cond, args...); err != nil {
		return Page{}, fmt.Errorf("audit: count entries: %w", err)
	}
	var rows []row
	q := `SELECT id, at, actor_id, actor, address, action, target, changes FROM audit_log` + cond +
		fmt.Sprintf(` ORDER BY id DESC LIMIT %d OFFSET %d`, f.PageSize, (f.Page-1)*f.PageSize)
	if err := l.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return Page{}, fmt.Errorf("audit: list entries: %w", err)
	}
	for _, r := range rows {
		e := Entry{ID: r.ID, ActorID: r.ActorID, Actor: r.Actor, Address: r.Address, Action: r.Action, Target: r.Target, Changes: []Change{}}
		if t, err := time.Parse(time.RFC3339Nano, r.At); err == nil {
			e.At = t
		}
		if err := json.Unmarshal([]byte(r.Changes), &e.Changes); err != nil {
			return Page{}, fmt.Errorf("audit: entry %d: stored changes: %w", r.ID, err)
		}
		p.Entries = append(p.Entries, e)
	}
	return p, nil
}

// FoldKey is the key a username is compared by, ignoring case: each
// character replaced by the smallest of its simple case folding orbit (so
// "K", "k" and the Kelvin sign compare equal).
func FoldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
