package stmtcache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// open returns a database of 100 rows over conns connections, and its
// Connector.
func open(t *testing.T, conns int) (*sqlx.DB, *Connector) {
	t.Helper()
	c := NewConnector(&sqlite.Driver{}, "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	db := sqlx.NewDb(sql.OpenDB(c), "sqlite")
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if _, err := db.Exec(`INSERT INTO t (id, name) VALUES (?, ?)`, i, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return db, c
}

// The kept statements answer what the database holds, concurrently, after
// writes, after a schema change and past the cache's bound; each
// connection prepares a query once.
func TestStatementsReadWhatTheDatabaseHolds(t *testing.T) {
	ctx := context.Background()
	db, c := open(t, 4)

	before := c.Prepared()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= 100; i++ {
				var name string
				if err := db.GetContext(ctx, &name, `SELECT name FROM t WHERE id = ?`, i); err != nil {
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
	if n := c.Prepared() - before; n < 1 || n > 4 {
		t.Fatalf("800 runs of one query on 4 connections prepared it %d times, want 1 to 4", n)
	}

	// A write is seen by the kept statement.
	if _, err := db.Exec(`UPDATE t SET name = 'renamed' WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := db.GetContext(ctx, &name, `SELECT name FROM t WHERE id = ?`, 7); err != nil || name != "renamed" {
		t.Fatalf("after the update: %q, %v", name, err)
	}
	// A schema change: SQLite re-prepares by itself.
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID    int64  `db:"id"`
		Name  string `db:"name"`
		Extra string `db:"extra"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT * FROM t WHERE id <= ? ORDER BY id`, 3); err != nil || len(rows) != 3 || rows[2].Name != "n3" || rows[2].Extra != "x" {
		t.Fatalf("select after the schema change: %+v, %v", rows, err)
	}
	if err := db.GetContext(ctx, &name, `SELECT name FROM t WHERE id = ?`, 7); err != nil || name != "renamed" {
		t.Fatalf("the first statement after the schema change: %q, %v", name, err)
	}

	// A query that does not compile is the driver's error.
	if err := db.GetContext(ctx, &name, `SELECT nope FROM t WHERE id = ?`, 1); err == nil {
		t.Fatal("a query naming an unknown column worked")
	}
}

// Past MaxStatements the least recently used statements are closed; every
// query still answers.
func TestBoundedCache(t *testing.T) {
	ctx := context.Background()
	db, c := open(t, 1)

	before := c.Prepared()
	for round := 0; round < 2; round++ {
		for i := 0; i < MaxStatements+10; i++ {
			var n int
			if err := db.GetContext(ctx, &n, fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)); err != nil || n != 100+i {
				t.Fatalf("query %d: %d, %v", i, n, err)
			}
		}
	}
	// Cycling through more texts than the bound evicts each before its
	// next use: every run prepares.
	if n := c.Prepared() - before; n != 2*(MaxStatements+10) {
		t.Fatalf("%d preparations, want %d", n, 2*(MaxStatements+10))
	}
	before = c.Prepared()
	for i := 0; i < 10; i++ {
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) + 1000 FROM t`); err != nil || n != 1100 {
			t.Fatalf("%d, %v", n, err)
		}
	}
	if n := c.Prepared() - before; n != 1 {
		t.Fatalf("10 runs of a kept query prepared it %d times, want 1", n)
	}
}

// A query run again while its own rows are open (nested in a loop over
// them, in one transaction, so on one connection) answers correctly and
// leaves the outer rows intact; a statement evicted while its rows are
// open keeps answering until they close.
func TestNestedAndEvictedWhileOpen(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t, 1)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT id, name FROM t WHERE id <= ? ORDER BY id`
	outer, err := tx.QueryxContext(ctx, q, 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for outer.Next() {
		var id int
		var name string
		if err := outer.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		seen++
		if id != seen || name != fmt.Sprintf("n%d", id) {
			t.Fatalf("outer row %d: %d %q", seen, id, name)
		}
		var inner []struct {
			ID   int    `db:"id"`
			Name string `db:"name"`
		}
		if err := sqlx.SelectContext(ctx, tx, &inner, q, id); err != nil || len(inner) != id || inner[id-1].Name != name {
			t.Fatalf("inner query at %d: %d rows, %v", id, len(inner), err)
		}
		if id == 10 {
			// Evict the outer statement: fill the cache with other texts.
			for i := 0; i < MaxStatements+1; i++ {
				var n int
				if err := tx.GetContext(ctx, &n, fmt.Sprintf(`SELECT %d`, i)); err != nil || n != i {
					t.Fatalf("filler %d: %d, %v", i, n, err)
				}
			}
		}
	}
	if err := outer.Err(); err != nil || seen != 20 {
		t.Fatalf("outer rows: %d seen, %v", seen, err)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := tx.GetContext(ctx, &name, `SELECT name FROM t WHERE id = ?`, 5); err != nil || name != "n5" {
		t.Fatalf("after the nested loop: %q, %v", name, err)
	}
}

// Kept statements belong to the transaction that runs them: a rollback
// discards their writes, a commit keeps them, savepoints nest, and a
// cancelled context stops a statement without spoiling the next.
func TestTransactionsAndCancellation(t *testing.T) {
	ctx := context.Background()
	db, c := open(t, 2)
	before := c.Prepared()
	write := func(id int, commit bool) {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (?, ?)`, id, fmt.Sprintf("new%d", id)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE t SET name = 'undone' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO s`); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := tx.GetContext(ctx, &name, `SELECT name FROM t WHERE id = ?`, id); err != nil || name != fmt.Sprintf("new%d", id) {
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
	if err := db.Get(&n, `SELECT count(*) FROM t WHERE id >= 200 AND name LIKE 'new%'`); err != nil || n != 10 {
		t.Fatalf("%d rows kept, want the 10 committed (%v)", n, err)
	}
	if p := c.Prepared() - before; p > 2*5 {
		t.Errorf("20 transactions of 4 statements prepared %d, want at most 5 per connection", p)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.GetContext(cancelled, &n, `SELECT count(*) FROM t`); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled query: %v", err)
	}
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM t`); err != nil || n != 110 {
		t.Fatalf("after the cancelled query: %d, %v", n, err)
	}
}
