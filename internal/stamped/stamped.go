// Package stamped keeps a value read from the database for as long as a
// stamp row says the tables it came from have not changed: one small read
// per use instead of the tables (sign-in and registration read an org and an
// LDAP server at every request).
//
// The stamp is a random number that triggers on the tables replace at every
// write (migrations 0015 and 0016). Random, not a counter: a transaction
// that writes and rolls back leaves a stamp that no later commit can reuse
// for other contents, so a value kept under a stamp is that stamp's value
// whatever database, connection or transaction reads it.
package stamped

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// Value is a value of type T kept under the stamp it was read with. Its
// zero value is not usable: see New. It is safe for concurrent use; the
// values it hands out are shared and must not be changed.
type Value[T any] struct {
	stampQuery string
	latest     atomic.Pointer[entry[T]]
}

type entry[T any] struct {
	stamp int64
	v     T
}

// New returns a Value whose stamp is what stampQuery (one row, one integer
// column) reads.
func New[T any](stampQuery string) *Value[T] {
	return &Value[T]{stampQuery: stampQuery}
}

// Get returns the value as q sees it: the kept one when q's stamp is the
// kept stamp, else what load reads through q (then kept). The stamp is read
// before load runs: when q is not a transaction and a write commits between
// the two reads, the value kept is newer than its stamp, which is never
// current again.
func (s *Value[T]) Get(ctx context.Context, q sqlx.QueryerContext, load func(sqlx.QueryerContext) (T, error)) (T, error) {
	var stamp int64
	if err := sqlx.GetContext(ctx, q, &stamp, s.stampQuery); err != nil {
		var zero T
		return zero, fmt.Errorf("read the stamp: %w", err)
	}
	if k := s.latest.Load(); k != nil && k.stamp == stamp {
		return k.v, nil
	}
	v, err := load(q)
	if err != nil {
		return v, err
	}
	s.latest.Store(&entry[T]{stamp: stamp, v: v})
	return v, nil
}
