// Package stmtcache prepares each SQL statement once per database
// connection instead of on every call. The SQLite driver (modernc.org/sqlite)
// compiles a statement's SQL every time a query or an exec runs without a
// prepared statement; on the sign-in path and in the sync's transactions
// that compilation cost more than running the statements
// (docs/benchmarks.md).
//
// The cache sits between database/sql and the driver (NewConnector), so
// every caller gains from it unchanged: plain queries, transactions,
// savepoints. Each connection keeps its MaxStatements most recently used
// statements; SQLite re-prepares a kept statement by itself after a schema
// change. A statement whose rows are still open when its text runs again
// (a query nested in its own loop) is not shared: the inner call runs
// unprepared.
package stmtcache

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
)

// MaxStatements bounds how many statements one connection keeps prepared;
// past it the least recently used is closed (so that queries built with a
// variable number of placeholders cannot grow the cache without end).
const MaxStatements = 256

// conner is what the cache needs of the driver's connections.
type conner interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
}

// Connector opens connections of a driver whose statements are prepared
// once per connection. It is a driver.Connector: give it to sql.OpenDB.
type Connector struct {
	d   driver.Driver
	dsn string

	prepared atomic.Int64
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a Connector opening d's connections to dsn.
func NewConnector(d driver.Driver, dsn string) *Connector {
	return &Connector{d: d, dsn: dsn}
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var (
		dc  driver.Conn
		err error
	)
	if dctx, ok := c.d.(driver.DriverContext); ok {
		var inner driver.Connector
		if inner, err = dctx.OpenConnector(c.dsn); err == nil {
			dc, err = inner.Connect(ctx)
		}
	} else {
		dc, err = c.d.Open(c.dsn)
	}
	if err != nil {
		return nil, err
	}
	in, ok := dc.(conner)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("stmtcache: the driver's connection (%T) lacks the context methods the cache needs", dc)
	}
	return &conn{in: in, c: c, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.d }

// Prepared is how many statements the connections have prepared so far,
// over their lifetime (a measure of the cache's misses).
func (c *Connector) Prepared() int64 { return c.prepared.Load() }

// cached is one kept statement.
type cached struct {
	query   string
	st      driver.Stmt
	busy    bool // its rows are open
	evicted bool // left the cache while busy: close it when the rows close
}

// conn is a driver connection with a cache of its prepared statements.
// database/sql never uses one connection from two goroutines at once (rows
// are closed under the connection's lock too), so it needs no lock.
type conn struct {
	in    conner
	c     *Connector
	stmts map[string]*list.Element // of *cached
	lru   *list.List               // most recently used first
}

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

// stmt returns query's kept statement, preparing it on first use; nil when
// it is busy or cannot be prepared alone (the caller then runs the query
// unprepared, which reports any error as the driver words it).
func (c *conn) stmt(ctx context.Context, query string) *cached {
	if e, ok := c.stmts[query]; ok {
		k := e.Value.(*cached)
		if k.busy {
			return nil
		}
		c.lru.MoveToFront(e)
		return k
	}
	st, err := c.in.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if _, ok := st.(driver.StmtExecContext); !ok {
		st.Close()
		return nil
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		st.Close()
		return nil
	}
	c.c.prepared.Add(1)
	k := &cached{query: query, st: st}
	c.stmts[query] = c.lru.PushFront(k)
	for c.lru.Len() > MaxStatements {
		c.evict(c.lru.Back())
	}
	return k
}

// evict drops e from the cache, closing its statement unless its rows are
// open (then they close it).
func (c *conn) evict(e *list.Element) {
	k := c.lru.Remove(e).(*cached)
	delete(c.stmts, k.query)
	if k.busy {
		k.evicted = true
		return
	}
	k.st.Close()
}

// ExecContext implements driver.ExecerContext.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	k := c.stmt(ctx, query)
	if k == nil {
		return c.in.ExecContext(ctx, query, args)
	}
	return k.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	k := c.stmt(ctx, query)
	if k == nil {
		return c.in.QueryContext(ctx, query, args)
	}
	r, err := k.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	k.busy = true
	return &rows{Rows: r, k: k}, nil
}

// Prepare implements driver.Conn: statements database/sql prepares itself
// are its own to close, so they bypass the cache.
func (c *conn) Prepare(query string) (driver.Stmt, error) { return c.in.Prepare(query) }

// PrepareContext implements driver.ConnPrepareContext (see Prepare).
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.in.PrepareContext(ctx, query)
}

// Begin implements driver.Conn.
func (c *conn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	return c.in.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx implements driver.ConnBeginTx.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.in.BeginTx(ctx, opts)
}

// Close closes every kept statement, then the connection.
func (c *conn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = c.lru.Front() {
		k := c.lru.Remove(e).(*cached)
		delete(c.stmts, k.query)
		if err := k.st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.in.Close())
	return errors.Join(errs...)
}

// Ping implements driver.Pinger.
func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.in.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession implements driver.SessionResetter.
func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.in.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid implements driver.Validator.
func (c *conn) IsValid() bool {
	if v, ok := c.in.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// rows are a kept statement's open rows: closing them frees the statement
// for the next call.
type rows struct {
	driver.Rows
	k *cached
}

// Close implements driver.Rows.
func (r *rows) Close() error {
	err := r.Rows.Close()
	r.k.busy = false
	if r.k.evicted {
		if e := r.k.st.Close(); err == nil {
			err = e
		}
	}
	return err
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
