package authority

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
)

// Migration 0007 rebuilds dirsync_runs to allow the status 'cancelled'. The
// runs, their ids, their per-org counts and change lines, the index and the
// cascade from a run to its children all survive it.
func TestMigration0007KeepsRunHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 7 {
			break
		}
		tx := db.MustBegin()
		if err := apply(ctx, tx, m); err != nil {
			t.Fatalf("migration %s: %v", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	db.MustExec(`INSERT INTO dirsync_runs(id, trigger, simulated, started_by, started_at, finished_at, status, users, deactivated, message)
		VALUES (3, 'manual', 0, '1/admin', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 'ok', 10, 2, 'done'),
		       (7, 'schedule', 0, 'system', '2026-01-02T00:00:00.000Z', '2026-01-02T00:01:00.000Z', 'failed', 4, 0, 'interrupted')`)
	db.MustExec(`INSERT INTO dirsync_run_orgs(run_id, org_id, org_name, users, deactivated) VALUES (3, 2, 'Staff', 10, 2), (7, 2, 'Staff', 4, 0)`)
	db.MustExec(`INSERT INTO dirsync_changes(run_id, user_id, username, org_id, change, from_value, to_value) VALUES
		(3, 5, 'alice', 2, 'deactivated', 'active', 'deactivated'), (3, 6, 'bob', 2, 'deactivated', 'active', 'deactivated'),
		(7, 6, 'bob', 2, 'warning', '', '')`)
	if _, err := db.Exec(`INSERT INTO dirsync_runs(trigger, started_at, status) VALUES ('manual', '2026-01-03T00:00:00.000Z', 'cancelled')`); err == nil {
		t.Fatal("before 0007 the CHECK already allows cancelled: the test proves nothing")
	}
	db.Close()

	db, err = OpenDB(ctx, path)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer db.Close()
	var runs []struct {
		ID      int64  `db:"id"`
		Status  string `db:"status"`
		Users   int    `db:"users"`
		Message string `db:"message"`
	}
	if err := db.Select(&runs, `SELECT id, status, users, message FROM dirsync_runs ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != 3 || runs[0].Status != "ok" || runs[0].Users != 10 || runs[0].Message != "done" || runs[1].ID != 7 || runs[1].Status != "failed" {
		t.Fatalf("runs after the migration: %+v", runs)
	}
	var orgsN, changesN int
	db.Get(&orgsN, `SELECT count(*) FROM dirsync_run_orgs`)
	db.Get(&changesN, `SELECT count(*) FROM dirsync_changes`)
	if orgsN != 2 || changesN != 3 {
		t.Fatalf("children after the migration: %d org counts, %d change lines; want 2 and 3", orgsN, changesN)
	}
	var idx int
	if err := db.Get(&idx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'dirsync_runs_status' AND tbl_name = 'dirsync_runs'`); err != nil || idx != 1 {
		t.Fatalf("index dirsync_runs_status: %d, %v", idx, err)
	}
	if _, err := db.Exec(`INSERT INTO dirsync_runs(trigger, started_at, status) VALUES ('manual', '2026-01-03T00:00:00.000Z', 'cancelled')`); err != nil {
		t.Fatalf("status cancelled after 0007: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO dirsync_runs(trigger, started_at, status) VALUES ('manual', '2026-01-03T00:00:00.000Z', 'bogus')`); err == nil {
		t.Fatal("the CHECK on status is gone")
	}
	// Foreign keys are on again, and still cascade from the rebuilt table.
	var fk int
	if err := db.Get(&fk, `PRAGMA foreign_keys`); err != nil || fk != 1 {
		t.Fatalf("foreign_keys after the migration: %d, %v", fk, err)
	}
	db.MustExec(`DELETE FROM dirsync_runs WHERE id = 3`)
	db.Get(&changesN, `SELECT count(*) FROM dirsync_changes`)
	if changesN != 1 {
		t.Fatalf("deleting run 3 left %d change lines; want 1 (the cascade)", changesN)
	}
	if _, err := db.Exec(`INSERT INTO dirsync_changes(run_id, change) VALUES (999, 'x')`); err == nil {
		t.Fatal("a change line of a run that does not exist was accepted: the foreign key is gone")
	}
}
