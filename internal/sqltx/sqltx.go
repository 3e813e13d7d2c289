// Package sqltx runs work in a database transaction, or in a savepoint of
// one, so that every package commits and rolls back the same way.
package sqltx

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Run runs fn in one transaction of db, committed when fn returns nil and
// rolled back otherwise. fn's error is returned as it is.
func Run(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit a transaction: %w", err)
	}
	return nil
}

// Savepoint runs fn inside a savepoint of tx, rolling back to it when fn
// fails, so that one failing piece of a batch leaves nothing behind and the
// rest of the batch goes on. fn's error is returned (joined with a failure
// to roll back, if any).
func Savepoint(ctx context.Context, tx *sqlx.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT piece`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := fn()
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO piece`); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE piece`); rerr != nil {
		return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
	}
	return err
}
