// Package sqltx runs work in a database transaction, or in a savepoint of
// one, so that every package commits and rolls back the same way.
package sqltx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Run runs fn in one transaction of db, committed when fn returns nil and
// rolled back otherwise. fn's error is returned as it is.
func Run(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	hooks := &afterCommit{}
	pending.Store(tx, hooks)
	defer pending.Delete(tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit a transaction: %w", err)
	}
	hooks.run()
	return nil
}

// pending holds the AfterCommit functions of the transactions Run has open.
var pending sync.Map // *sqlx.Tx → *afterCommit

type afterCommit struct {
	mu  sync.Mutex
	fns []func()
}

func (a *afterCommit) run() {
	a.mu.Lock()
	fns := a.fns
	a.fns = nil
	a.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// AfterCommit has fn called once tx has committed, in the order registered;
// never when tx rolls back. It is for what must follow a change and only a
// change that stands, such as a log line about it. For a transaction that
// Run did not begin, fn is called at once.
func AfterCommit(tx *sqlx.Tx, fn func()) {
	v, ok := pending.Load(tx)
	if !ok {
		fn()
		return
	}
	a := v.(*afterCommit)
	a.mu.Lock()
	a.fns = append(a.fns, fn)
	a.mu.Unlock()
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
