package sqltx_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/sqltx"
)

// Writers of one database take turns at the gate: with no busy timeout at
// all (SQLite would refuse a second writer at once), 16 goroutines writing
// 20 times each all succeed. A writer whose context ends while it waits
// gives up with the context's error and writes nothing.
func TestWritersTakeTurns(t *testing.T) {
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE n (v INTEGER NOT NULL); INSERT INTO n VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				errs <- sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
					var v int
					if err := tx.Get(&v, `SELECT v FROM n`); err != nil {
						return err
					}
					_, err := tx.Exec(`UPDATE n SET v = ?`, v+1)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a writer failed: %v", err)
		}
	}
	var v int
	if err := db.Get(&v, `SELECT v FROM n`); err != nil || v != 320 {
		t.Fatalf("counter %d (%v), want 320", v, err)
	}

	// One writer holds its turn; another, whose context ends, gives up.
	holding, done := make(chan struct{}), make(chan struct{})
	go func() {
		_ = sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
			close(holding)
			<-done
			return nil
		})
	}()
	<-holding
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = sqltx.Run(short, db, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`UPDATE n SET v = -1`)
		return err
	})
	close(done)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a writer whose context ended while waiting: %v", err)
	}
	if err := db.Get(&v, `SELECT v FROM n`); err != nil || v != 320 {
		t.Fatalf("counter %d (%v) after the writer that gave up, want 320", v, err)
	}
}
