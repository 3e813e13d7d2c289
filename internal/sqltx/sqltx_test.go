package sqltx_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"

	"github.com/authority-server/authority/internal/sqltx"
)

func TestAfterCommit(t *testing.T) {
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var got []string
	note := func(s string) func() { return func() { got = append(got, s) } }
	err = sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
		sqltx.AfterCommit(tx, note("first"))
		sqltx.AfterCommit(tx, note("second"))
		if len(got) != 0 {
			t.Error("called before the commit")
		}
		return nil
	})
	if err != nil || strings.Join(got, " ") != "first second" {
		t.Fatalf("committed: %v %v", got, err)
	}
	got = nil
	boom := errors.New("boom")
	err = sqltx.Run(ctx, db, func(tx *sqlx.Tx) error {
		sqltx.AfterCommit(tx, note("rolled back"))
		return boom
	})
	if !errors.Is(err, boom) || len(got) != 0 {
		t.Fatalf("rolled back: %v %v", got, err)
	}
	// A transaction Run did not begin: at once.
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	sqltx.AfterCommit(tx, note("now"))
	if strings.Join(got, " ") != "now" {
		t.Fatalf("outside Run: %v", got)
	}
}
