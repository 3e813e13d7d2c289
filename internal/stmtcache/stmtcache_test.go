package stmtcache

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"
)

func open(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if _, err := db.Exec(`INSERT INTO t (id, name) VALUES (?, ?)`, i, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// The cached reads answer what the database holds, concurrently, after
// writes, after a schema change, and past the cache's bound.
func TestQueryerReadsWhatTheDatabaseHolds(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	q := New(db)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= 100; i++ {
				var name string
				if err := sqlx.GetContext(ctx, q, &name, `SELECT name FROM t WHERE id = ?`, i); err != nil {
					errs <- err
					return
				}
				if name != fmt.Sprintf("n%d", i) {
					errs <- fmt.Errorf("worker %d: id %d is %q", w, i, name)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(q.stmts); n != 1 {
		t.Fatalf("%d statements prepared for one query text, want 1", n)
	}

	// A write through the database is seen by the prepared statement.
	if _, err := db.Exec(`UPDATE t SET name = 'renamed' WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := sqlx.GetContext(ctx, q, &name, `SELECT name FROM t WHERE id = ?`, 7); err != nil || name != "renamed" {
		t.Fatalf("after the update: %q, %v", name, err)
	}
	// A schema change: SQLite re-prepares by itself.
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, name FROM t WHERE id <= ? ORDER BY id`, 3); err != nil || len(rows) != 3 || rows[2].Name != "n3" {
		t.Fatalf("select after the schema change: %+v, %v", rows, err)
	}
	if err := sqlx.GetContext(ctx, q, &name, `SELECT name FROM t WHERE id = ?`, 7); err != nil || name != "renamed" {
		t.Fatalf("the first statement after the schema change: %q, %v", name, err)
	}

	// Past MaxStatements, queries still run, unprepared.
	for i := 0; i < MaxStatements+10; i++ {
		var n int
		if err := sqlx.GetContext(ctx, q, &n, fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)); err != nil || n != 100+i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if len(q.stmts) != MaxStatements {
		t.Fatalf("%d statements kept, want the bound %d", len(q.stmts), MaxStatements)
	}

	// A query that does not compile is an error, and is not kept.
	if err := sqlx.GetContext(ctx, q, &name, `SELECT nope FROM t WHERE id = ?`, 1); err == nil {
		t.Fatal("a query naming an unknown column worked")
	}
	if err := q.Close(); err != nil || len(q.stmts) != 0 {
		t.Fatalf("close: %v, %d kept", err, len(q.stmts))
	}
	if err := sqlx.GetContext(ctx, q, &name, `SELECT name FROM t WHERE id = ?`, 7); err != nil || name != "renamed" {
		t.Fatalf("after close: %q, %v", name, err)
	}
}

// Statements run through InTx belong to the transaction: a rollback
// discards their writes, a commit keeps them, and they see the
// transaction's own writes; many transactions share one prepared
// statement per query.
func TestInTxBelongsToTheTransaction(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	q := New(db)
	write := func(id int, commit bool) {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := q.InTx(tx)
		if _, err := c.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (?, ?)`, id, fmt.Sprintf("new%d", id)); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := sqlx.GetContext(ctx, c, &name, `SELECT name FROM t WHERE id = ?`, id); err != nil || name != fmt.Sprintf("new%d", id) {
			t.Fatalf("inside the transaction: %q %v", name, err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for id := 200; id < 220; id++ {
		write(id, id%2 == 0)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM t WHERE id >= 200`); err != nil || n != 10 {
		t.Fatalf("%d rows kept, want the 10 committed (%v)", n, err)
	}
	if len(q.stmts) != 2 {
		t.Errorf("%d statements prepared, want 2", len(q.stmts))
	}
}
