// Package apperr is the error vocabulary shared by the domain packages: an
// error says what kind of failure it is (bad input, not found, conflict, ...)
// and, for bad input, which field caused it, so that the web layer can turn it
// into the documented JSON error with the right status code.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the API: each kind maps to one HTTP status.
type Kind int

// The kinds of failure, with the HTTP status each one maps to.
const (
	KindInvalid      Kind = iota + 1 // 400: bad input
	KindUnauthorized                 // 401: missing or wrong credentials
	KindForbidden                    // 403: known, but not allowed
	KindNotFound                     // 404
	KindConflict                     // 409: duplicate, or a run already going on
	KindUnavailable                  // 503: a dependency (a directory) is down
)

// Error is a classified error. Field names the offending input field in
// camelCase, as the API spells it; Line and Column locate a script compile
// error (1-based; zero when not applicable).
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Line    int
	Column  int
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that the named thing does not exist.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a clash with existing state (a duplicate name, a run in progress).
func Conflict(field, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports an action that is understood but not allowed.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized reports missing or wrong credentials.
func Unauthorized(format string, args ...any) *Error {
	return &Error{Kind: KindUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports that a dependency could not be reached.
func Unavailable(err error, format string, args ...any) *Error {
	return &Error{Kind: KindUnavailable, Message: fmt.Sprintf(format, args...), Err: err}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}
