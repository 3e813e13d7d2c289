package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority/authoritytest"
)

// dbFault runs pragma on every connection of the app's pool (at most 4, all
// kept idle), the way a fault of the disk would hit every writer:
// "query_only = 1" makes writes fail with SQLITE_READONLY, "max_page_count =
// N" makes a database that must grow past N pages fail with SQLITE_FULL.
func dbFault(t *testing.T, db *sqlx.DB, pragma string) {
	t.Helper()
	ctx := context.Background()
	db.SetMaxIdleConns(4)
	var conns []*sqlx.Conn
	for range 4 {
		c, err := db.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		if _, err := c.ExecContext(ctx, "PRAGMA "+pragma); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		c.Close()
	}
}

// TestReadOnlyDatabase: while the database cannot be written, a change
// answers 503 saying so (never 500), logs an ERROR line, and leaves nothing
// half-written (the user, its device and its archive stay as they were);
// once the fault is gone the same change works.
func TestReadOnlyDatabase(t *testing.T) {
	e := authoritytest.Start(t)
	ctx := context.Background()
	u := e.LocalUser("worker", "worker-password")
	if _, err := e.App.Users.RegisterDevice(ctx, u.ID, "dev-1", "laptop"); err != nil {
		t.Fatal(err)
	}
	dbFault(t, e.App.DB, "query_only = 1")
	path := fmt.Sprintf("/api/v1/users/%d/deactivate", u.ID)
	var out struct{ Error string }
	if code := e.Do("POST", path, nil, &out); code != 503 || !strings.Contains(out.Error, "read-only") {
		t.Fatalf("deactivate on a read-only database: %d %q", code, out.Error)
	}
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Ops"}, &out); code != 503 || !strings.Contains(out.Error, "read-only") {
		t.Fatalf("create an org on a read-only database: %d %q", code, out.Error)
	}
	log := serverLog(t, e.Dir)
	if !strings.Contains(log, " ERROR ") || !strings.Contains(log, "read-only") || !strings.Contains(log, path) {
		t.Errorf("no ERROR line for the fault:\n%s", log)
	}
	var state []string
	if err := e.App.DB.Select(&state, `SELECT u.status || '/' || d.status || '/' || a.state FROM users u JOIN devices d ON d.user_id = u.id JOIN archives a ON a.device_guid = d.guid WHERE u.id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	if len(state) != 1 || state[0] != "active/active/normal" {
		t.Fatalf("after the refused deactivation: %v", state)
	}

	dbFault(t, e.App.DB, "query_only = 0")
	var after struct{ Status string }
	if code := e.Do("POST", path, nil, &after); code != 200 || after.Status != "deactivated" {
		t.Fatalf("deactivate once the fault is gone: %d %+v", code, after)
	}
}

// TestFullDisk: when the database cannot grow (a full disk), a change
// answers 503 saying so, nothing of it is written, and the server goes on
// once there is room again.
func TestFullDisk(t *testing.T) {
	e := authoritytest.Start(t)
	var pages int
	if err := e.App.DB.Get(&pages, `PRAGMA page_count`); err != nil {
		t.Fatal(err)
	}
	dbFault(t, e.App.DB, fmt.Sprintf("max_page_count = %d", pages))
	created := 0
	var out struct{ Error string }
	code := 201
	for i := 0; i < 2000 && code == 201; i++ {
		code = e.Do("POST", "/api/v1/orgs", map[string]any{"name": fmt.Sprintf("Org %04d with a long enough name to fill pages", i)}, &out)
		if code == 201 {
			created++
		}
	}
	if code != 503 || !strings.Contains(out.Error, "disk is full") {
		t.Fatalf("after %d orgs: %d %q, want 503 disk is full", created, code, out.Error)
	}
	var n int
	if err := e.App.DB.Get(&n, `SELECT count(*) FROM orgs`); err != nil || n != created+1 {
		t.Fatalf("%d orgs in the database (%v), want the root and the %d created", n, err, created)
	}
	if log := serverLog(t, e.Dir); !strings.Contains(log, " ERROR ") || !strings.Contains(log, "disk is full") {
		t.Errorf("no ERROR line for the fault:\n%s", log)
	}
	dbFault(t, e.App.DB, "max_page_count = 1073741823")
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "After"}, nil); code != 201 {
		t.Fatalf("create an org once there is room: %d", code)
	}
}
