// Package stmtcache prepares each hot read query once instead of on every
// call. The SQLite driver (modernc.org/sqlite) compiles a statement's SQL
// every time a query runs without a prepared statement; on the sign-in path
// that compilation cost more than running the queries (docs/benchmarks.md).
//
// A Queryer is a sqlx.QueryerContext, so the readers that take one
// (users.GetTx, orgs.GetTx...) use it unchanged. database/sql prepares a
// statement on each pooled connection the first time it runs there and
// keeps it; SQLite re-prepares by itself after a schema change.
package stmtcache

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// MaxStatements bounds how many distinct queries one Queryer keeps
// prepared; past it, further queries run unprepared (so that queries built
// from a variable number of placeholders cannot grow the cache without end).
const MaxStatements = 256

// Queryer runs read queries through statements prepared once per distinct
// query text. It is safe for concurrent use. Writes and transactions do not
// go through it.
type Queryer struct {
	db *sqlx.DB

	mu    sync.RWMutex
	stmts map[string]*sqlx.Stmt
}

var _ sqlx.QueryerContext = (*Queryer)(nil)

// New returns a Queryer over db.
func New(db *sqlx.DB) *Queryer {
	return &Queryer{db: db, stmts: map[string]*sqlx.Stmt{}}
}

// stmt returns query's prepared statement, preparing it on first use; nil
// (and no error) when the cache is full.
func (q *Queryer) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	q.mu.RLock()
	st, ok := q.stmts[query]
	q.mu.RUnlock()
	if ok {
		return st, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, ok := q.stmts[query]; ok {
		return st, nil
	}
	if len(q.stmts) >= MaxStatements {
		return nil, nil
	}
	st, err := q.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("stmtcache: prepare: %w", err)
	}
	q.stmts[query] = st
	return st, nil
}

// QueryContext implements sqlx.QueryerContext.
func (q *Queryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryxContext implements sqlx.QueryerContext.
func (q *Queryer) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return q.db.QueryxContext(ctx, query, args...)
	}
	return st.QueryxContext(ctx, args...)
}

// QueryRowxContext implements sqlx.QueryerContext. A failed preparation is
// reported by the row's Scan, as database/sql does.
func (q *Queryer) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	st, err := q.stmt(ctx, query)
	if err != nil || st == nil {
		return q.db.QueryRowxContext(ctx, query, args...)
	}
	return st.QueryRowxContext(ctx, args...)
}

// Close closes every prepared statement; the Queryer keeps working,
// preparing again.
func (q *Queryer) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var first error
	for k, st := range q.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(q.stmts, k)
	}
	return first
}

// InTx returns a reader and writer that runs q's statements inside tx:
// each query is prepared once (on the first connection it runs on) and
// reused by every later transaction on that connection, where tx's own
// methods compile the SQL again on every call. Writes go through it too:
// a transaction's statements are few and their texts fixed.
func (q *Queryer) InTx(tx *sqlx.Tx) *Tx { return &Tx{q: q, tx: tx} }

// Tx is a Queryer bound to one transaction (Queryer.InTx).
type Tx struct {
	q  *Queryer
	tx *sqlx.Tx
}

var _ sqlx.QueryerContext = (*Tx)(nil)
var _ sqlx.ExecerContext = (*Tx)(nil)

// stmt returns query's statement for the transaction; nil when the cache
// is full.
func (t *Tx) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	st, err := t.q.stmt(ctx, query)
	if err != nil || st == nil {
		return nil, err
	}
	return t.tx.StmtxContext(ctx, st), nil
}

// QueryContext implements sqlx.QueryerContext.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryxContext implements sqlx.QueryerContext.
func (t *Tx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.tx.QueryxContext(ctx, query, args...)
	}
	return st.QueryxContext(ctx, args...)
}

// QueryRowxContext implements sqlx.QueryerContext.
func (t *Tx) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	st, err := t.stmt(ctx, query)
	if err != nil || st == nil {
		return t.tx.QueryRowxContext(ctx, query, args...)
	}
	return st.QueryRowxContext(ctx, args...)
}

// ExecContext implements sqlx.ExecerContext.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}
