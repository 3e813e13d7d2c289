package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/serverlog"
	"github.com/authority-server/authority/internal/sqltx"
)

type srvSettings struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	BindPassword string   `json:"-"`
	HasPassword  bool     `json:"hasPassword"`
	Roles        []string `json:"roles"`
	SMTP         struct {
		Host     string `json:"host"`
		Password string `json:"password,omitempty"`
	} `json:"smtp"`
	RegistrationKey string `json:"registrationKey"`
	UpdatedAt       string `json:"updatedAt"`
}

func changesText(cs []audit.Change) string {
	var parts []string
	for _, c := range cs {
		if c.Secret {
			parts = append(parts, c.Field+"=(changed)")
			continue
		}
		parts = append(parts, c.Field+"="+string(c.Before)+">"+string(c.After))
	}
	return strings.Join(parts, " ")
}

func TestDiff(t *testing.T) {
	a := srvSettings{Name: "Corp", URL: "ldap://a", BindPassword: "pw-one", Roles: []string{"A"}, RegistrationKey: "K1", UpdatedAt: "1"}
	a.SMTP.Host = "mail"
	b := a
	b.URL, b.BindPassword, b.HasPassword, b.Roles, b.RegistrationKey, b.UpdatedAt = "ldap://b", "pw-two", true, []string{"A", "B"}, "K2", "2"
	b.SMTP.Host, b.SMTP.Password = "mail2", "smtp-secret"
	got := changesText(audit.Diff(a, b, audit.Ignore("updatedAt")))
	want := `url="ldap://a">"ldap://b" hasPassword=false>true roles=["A"]>["A","B"] smtp.host="mail">"mail2" smtp.password=(changed) registrationKey=(changed)`
	if got != want {
		t.Errorf("Diff:\n got %s\nwant %s", got, want)
	}
	if cs := audit.Diff(a, a); len(cs) != 0 {
		t.Errorf("Diff of equal values: %v", cs)
	}
	// Created: the fields that are not empty; deleted: the same the other way.
	got = changesText(audit.Diff(nil, srvSettings{Name: "<new> & co", Roles: []string{}}))
	if want := `name=>"<new> & co"`; got != want {
		t.Errorf("Diff(nil, x) = %s, want %s", got, want)
	}
	got = changesText(audit.Diff(map[string]any{"name": "old", "n": 0}, nil))
	if want := `name="old">`; got != want {
		t.Errorf("Diff(x, nil) = %s, want %s", got, want)
	}
	// Nested objects are flattened to dotted names.
	got = changesText(audit.Diff(map[string]any{"o": map[string]any{"x": 1}}, map[string]any{"o": map[string]any{}}))
	if want := `o.x=1>`; got != want {
		t.Errorf("nested: %s, want %s", got, want)
	}
	// Never the secret itself, whatever its name's case or place.
	for _, f := range []string{"password", "smtp.password", "bindPassword", "currentPassword", "apiToken", "clientSecret", "registrationKey",
		"credentials", "Password", "bind_password", "api-key", "x.tokens"} {
		if !audit.IsSecretField(f) {
			t.Errorf("%s is not taken for a secret", f)
		}
		if c := audit.Field(f, "old-secret", "new-secret"); !c.Secret || strings.Contains(string(c.After), "secret") || c.Before != nil {
			t.Errorf("Field(%s) = %+v", f, c)
		}
	}
	for _, f := range []string{"hasPassword", "smtp.hasPassword", "hasBindPassword", "name", "monkeys", "tokenLifetime", "keyboard", "passwordPolicy"} {
		if audit.IsSecretField(f) {
			t.Errorf("%s is taken for a secret", f)
		}
	}
}

func TestLine(t *testing.T) {
	long := strings.Repeat("x", 300)
	e := audit.Entry{ActorID: 3, Actor: "ev\nil\x1b[31m", Address: "10.0.0.1", Action: "user.block", Target: "user:5/j\rsmith\u2028",
		Changes: []audit.Change{audit.Field("status", "active", "blocked"), audit.Secret("password"), audit.Field("note", nil, "a\nb"),
			audit.Field("script", long, nil)}}
	got := audit.Line(e)
	want := `AUDIT:: user.block by:3/ev\u000ail\u001b[31m from:10.0.0.1 target:user:5/j\u000dsmith\u2028 changes: status: "active" → "blocked"; password: (changed); note: (none) → "a\nb"; script: "` +
		strings.Repeat("x", 119) + `…(182 more) → (none)`
	if got != want {
		t.Errorf("Line:\n got %s\nwant %s", got, want)
	}
	if strings.ContainsAny(got, "\n\r\x1b") {
		t.Errorf("a control character is left in %q", got)
	}
	if got := audit.Line(audit.Entry{Actor: "(command line)", Action: "user.password"}); got != "AUDIT:: user.password by:(command line) changes: none" {
		t.Errorf("Line without changes: %s", got)
	}
	var many []audit.Change
	for range 40 {
		many = append(many, audit.Field("f", 1, 2))
	}
	if got := audit.Line(audit.Entry{Actor: "a", Action: "x", Changes: many}); !strings.HasSuffix(got, "f: 1 → 2; … 10 more") {
		t.Errorf("Line of 40 changes ends %q", got[len(got)-40:])
	}
	if audit.Escape("\xff") != `\xff` || audit.Escape("é") != "é" {
		t.Errorf("Escape: %q %q", audit.Escape("\xff"), audit.Escape("é"))
	}
}

func TestFoldKey(t *testing.T) {
	if audit.FoldKey("Kim") != audit.FoldKey("kIM") || audit.FoldKey("\u212aim") != audit.FoldKey("kim") || audit.FoldKey("Straße") == audit.FoldKey("STRASSE") {
		t.Errorf("FoldKey: %q %q %q", audit.FoldKey("Kim"), audit.FoldKey("\u212aim"), audit.FoldKey("Straße"))
	}
}

// syncBuffer is a log destination safe for the handler and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openLog(t *testing.T) (*audit.Log, *sqlx.DB, *syncBuffer) {
	t.Helper()
	db, err := authority.OpenDB(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	buf := &syncBuffer{}
	now := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	return audit.New(db, slog.New(serverlog.NewHandler(buf, slog.LevelInfo)), func() time.Time { return now }), db, buf
}

func TestRecordTxWithTheChange(t *testing.T) {
	l, db, buf := openLog(t)
	ctx := context.Background()
	// No actor: nothing is recorded.
	if err := sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
		return audit.RecordTx(ctx, tx, audit.UserBlock, "user:1/a", nil)
	}); err != nil {
		t.Fatal(err)
	}
	if audit.Active(ctx) {
		t.Fatal("Active without an actor")
	}
	actx := l.As(ctx, audit.Actor{UserID: 1, Username: "Admin", Address: "192.0.2.7"})
	if a, ok := audit.ActorOf(actx); !ok || a.Username != "Admin" || !audit.Active(actx) {
		t.Fatalf("ActorOf: %+v %t", a, ok)
	}
	// A change that fails after recording: no entry, no line.
	boom := errors.New("boom")
	err := sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
		if err := audit.RecordTx(actx, tx, audit.UserBlock, "user:2/b", []audit.Change{audit.Field("status", "active", "blocked")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// A change that commits: the entry, and the line only after the commit.
	err = sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
		if err := audit.RecordTx(actx, tx, audit.UserBlock, "user:3/c", []audit.Change{audit.Field("status", "active", "blocked")}); err != nil {
			return err
		}
		if strings.Contains(buf.String(), "AUDIT::") {
			t.Error("the AUDIT:: line was written before the commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], `] AUDIT:: user.block by:1/Admin from:192.0.2.7 target:user:3/c changes: status: "active" → "blocked"`) ||
		!strings.Contains(lines[0], " audit]") && !strings.Contains(lines[0], "main] ") {
		t.Fatalf("log: %q", buf.String())
	}
	p, err := l.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || len(p.Entries) != 1 {
		t.Fatalf("entries: %+v", p)
	}
	en := p.Entries[0]
	if en.Actor != "Admin" || en.ActorID != 1 || en.Address != "192.0.2.7" || en.Target != "user:3/c" || en.Action != "user.block" ||
		!en.At.Equal(time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)) || len(en.Changes) != 1 || string(en.Changes[0].After) != `"blocked"` {
		t.Fatalf("entry: %+v", en)
	}
	raw, _ := json.Marshal(en)
	if !strings.Contains(string(raw), `"at":"2026-03-04T05:06:07.008Z"`) {
		t.Errorf("JSON: %s", raw)
	}
}

func TestRecordBoundsValues(t *testing.T) {
	l, _, _ := openLog(t)
	ctx := l.As(context.Background(), audit.Actor{UserID: 1, Username: "admin"})
	var many []audit.Change
	many = append(many, audit.Field("script", nil, strings.Repeat("é", audit.MaxValueBytes)))
	for range audit.MaxChanges + 10 {
		many = append(many, audit.Field("n", 1, 2))
	}
	if err := audit.Record(ctx, audit.LegalHoldClose, "legalhold:1/M", many); err != nil {
		t.Fatal(err)
	}
	p, err := l.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Entries[0].Changes
	if len(cs) != audit.MaxChanges+1 || cs[audit.MaxChanges].Field != "…" || !strings.Contains(string(cs[audit.MaxChanges].After), "11 more changes") {
		t.Fatalf("%d changes, last %+v", len(cs), cs[len(cs)-1])
	}
	if v := cs[0].After; len(v) > audit.MaxValueBytes || !strings.Contains(string(v), "more bytes)") {
		t.Errorf("a long value kept %d bytes: …%s", len(v), v[len(v)-40:])
	}
}

func TestListFiltersAndPages(t *testing.T) {
	l, _, _ := openLog(t)
	bg := context.Background()
	record := func(actor, action string) {
		t.Helper()
		if err := audit.Record(l.As(bg, audit.Actor{UserID: 1, Username: actor}), action, "t", nil); err != nil {
			t.Fatal(err)
		}
	}
	record("Kim", audit.UserBlock)
	record("kim", audit.UserDeviceReplace)
	record("admin", audit.UserBlock)
	record("admin", audit.OrgUpdate)
	record("a_min", "user_x") // LIKE wildcards are taken literally
	for _, c := range []struct {
		f    audit.Filter
		want string
	}{
		{audit.Filter{}, "user_x org.update user.block user.device.replace user.block"},
		{audit.Filter{Actor: "KIM"}, "user.device.replace user.block"},
		{audit.Filter{Actor: "\u212aim"}, "user.device.replace user.block"},
		{audit.Filter{Action: "user"}, "user.block user.device.replace user.block"},
		{audit.Filter{Action: "user."}, "user.block user.device.replace user.block"},
		{audit.Filter{Action: "user.device"}, "user.device.replace"},
		{audit.Filter{Action: "user_"}, ""},
		{audit.Filter{Action: "use"}, ""},
		{audit.Filter{Actor: "admin", Action: "org"}, "org.update"},
		{audit.Filter{PageSize: 2}, "user_x org.update"},
		{audit.Filter{PageSize: 2, Page: 3}, "user.block"},
		{audit.Filter{PageSize: 2, Page: 4}, ""},
	} {
		p, err := l.List(bg, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Entries {
			got = append(got, e.Action)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%+v: %q, want %q", c.f, strings.Join(got, " "), c.want)
		}
	}
	for _, f := range []audit.Filter{{Page: -1}, {PageSize: -1}, {PageSize: audit.MaxPageSize + 1}} {
		if _, err := l.List(bg, f); !apperr.Is(err, apperr.KindInvalid) {
			t.Errorf("%+v: %v, want a 400", f, err)
		}
	}
}

func TestTarget(t *testing.T) {
	for got, want := range map[string]string{
		audit.Target("user", 5, "jsmith"):     "user:5/jsmith",
		audit.Target("dirsync-run", 7, ""):    "dirsync-run:7",
		audit.Target("settings", 0, "ldap"):   "settings:ldap",
		audit.Target("org", 3, "Staff/Sales"): "org:3/Staff/Sales",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
