package stamped

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"
)

// A kept value is read again exactly when the stamp changes: after a
// write, and after a rolled-back write, never between; a failed load keeps
// nothing.
func TestValueFollowsTheStamp(t *testing.T) {
	ctx := context.Background()
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (v TEXT NOT NULL);
		INSERT INTO t VALUES ('one');
		CREATE TABLE t_stamp (id INTEGER PRIMARY KEY CHECK (id = 1), stamp INTEGER NOT NULL);
		INSERT INTO t_stamp VALUES (1, random());
		CREATE TRIGGER t_stamp_update AFTER UPDATE ON t BEGIN UPDATE t_stamp SET stamp = random() WHERE id = 1; END;`); err != nil {
		t.Fatal(err)
	}
	kept := New[string](`SELECT stamp FROM t_stamp WHERE id = 1`)
	loads := 0
	var fail error
	load := func(q sqlx.QueryerContext) (string, error) {
		loads++
		if fail != nil {
			return "", fail
		}
		var v string
		err := sqlx.GetContext(ctx, q, &v, `SELECT v FROM t`)
		return v, err
	}
	get := func(step string, q sqlx.QueryerContext, want string, wantLoads int) {
		t.Helper()
		v, err := kept.Get(ctx, q, load)
		if err != nil || v != want || loads != wantLoads {
			t.Fatalf("%s: %q, %v after %d loads; want %q after %d", step, v, err, loads, want, wantLoads)
		}
	}
	get("first", db, "one", 1)
	get("again", db, "one", 1)
	get("again", db, "one", 1)
	if _, err := db.Exec(`UPDATE t SET v = 'two'`); err != nil {
		t.Fatal(err)
	}
	get("after a write", db, "two", 2)
	get("again", db, "two", 2)

	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE t SET v = 'uncommitted'`); err != nil {
		t.Fatal(err)
	}
	get("inside the transaction", tx, "uncommitted", 3)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	get("after the rollback", db, "two", 4)

	if _, err := db.Exec(`UPDATE t SET v = 'three'`); err != nil {
		t.Fatal(err)
	}
	fail = errors.New("boom")
	if _, err := kept.Get(ctx, db, load); !errors.Is(err, fail) {
		t.Fatalf("a failed load: %v", err)
	}
	fail = nil
	get("after the failed load", db, "three", 6)

	if _, err := db.Exec(`DROP TABLE t_stamp`); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Get(ctx, db, load); err == nil {
		t.Fatal("no stamp to read, and no error")
	}
}
