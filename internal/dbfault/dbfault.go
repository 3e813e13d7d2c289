// Package dbfault recognises the SQLite errors that say the database cannot
// be written right now: a read-only file or disk, a full disk, an I/O error,
// a database busy past the busy timeout, a file that cannot be opened. They
// are faults of the server's storage, not of the request: the API answers
// them 503 with a message saying what to fix, logs them as ERROR, and the
// server goes on once the fault is gone (every change is one transaction, so
// a refused change leaves nothing half-written).
package dbfault

import (
	"errors"

	"github.com/authority-server/authority/internal/apperr"
)

// SQLite's primary result codes for the faults (the low byte of an extended
// code).
const (
	CodeBusy     = 5  // SQLITE_BUSY
	CodeReadOnly = 8  // SQLITE_READONLY
	CodeIOErr    = 10 // SQLITE_IOERR
	CodeFull     = 13 // SQLITE_FULL
	CodeCantOpen = 14 // SQLITE_CANTOPEN
)

// coder is what the SQLite driver's errors (modernc.org/sqlite's *Error)
// offer: the extended result code.
type coder interface {
	error
	Code() int
}

// messages say what each fault means to an administrator.
var messages = map[int]string{
	CodeReadOnly: "the database cannot be written: it is read-only (check that the data directory and its files belong to the server's user and that the disk is not mounted read-only)",
	CodeFull:     "the database cannot be written: the disk is full (free space on the disk of the data directory)",
	CodeIOErr:    "the database cannot be written: the disk reported an I/O error (check the disk of the data directory)",
	CodeBusy:     "the database is busy: another writer held it too long; try again in a moment",
	CodeCantOpen: "the database cannot be opened (check that the data directory and its files exist and belong to the server's user)",
}

// Code returns the primary SQLite result code of the fault in err's chain,
// if it is one of the faults above.
func Code(err error) (int, bool) {
	var c coder
	if !errors.As(err, &c) {
		return 0, false
	}
	code := c.Code() & 0xff
	_, ok := messages[code]
	return code, ok
}

// Describe returns what the fault in err means to an administrator, and
// false when err is not a database fault.
func Describe(err error) (string, bool) {
	code, ok := Code(err)
	if !ok {
		return "", false
	}
	return messages[code], true
}

// Unavailable returns err as an apperr KindUnavailable error with the
// fault's message (the cause kept), and false when err is not a database
// fault.
func Unavailable(err error) (*apperr.Error, bool) {
	msg, ok := Describe(err)
	if !ok {
		return nil, false
	}
	return &apperr.Error{Kind: apperr.KindUnavailable, Message: msg, Err: err}, true
}
