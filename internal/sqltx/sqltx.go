// Package sqltx runs work in a database transaction, or in a savepoint of
// one, so that every package commits and rolls back the same way.
package sqltx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Run runs fn in one transaction of db, committed when fn returns nil and
// rolled back otherwise. fn's error is returned as it is.
//
// Transactions of one database take their turns at a gate in this process
// before they begin (every transaction here writes, or may: the database
// begins them IMMEDIATE). SQLite lets one writer in at a time and makes the
// others retry after sleeps of 1, 2, 5, 10... ms; at the gate the next one
// starts as soon as the last ends. A turn waited for longer than GateWait
// goes ahead without it, to SQLite's own busy timeout.
func Run(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Tx) error) error {
	release, err := enter(ctx, db)
	if err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	hooks := &afterCommit{}
	err = func() error {
		defer release()
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin a transaction: %w", err)
		}
		pending.Store(tx, hooks)
		defer pending.Delete(tx)
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit a transaction: %w", err)
		}
		return nil
	}()
	if err != nil {
		return err
	}
	hooks.run()
	return nil
}

// GateWait bounds the wait for a transaction's turn (see Run).
const GateWait = 10 * time.Second

// gates holds one gate per database: a channel of one slot.
var gates sync.Map // *sqlx.DB → chan struct{}

// enter waits for db's gate and returns the function that leaves it.
func enter(ctx context.Context, db *sqlx.DB) (release func(), err error) {
	v, ok := gates.Load(db)
	if !ok {
		v, _ = gates.LoadOrStore(db, make(chan struct{}, 1))
	}
	gate := v.(chan struct{})
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	default:
	}
	t := time.NewTimer(GateWait)
	defer t.Stop()
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return func() {}, nil
	}
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
