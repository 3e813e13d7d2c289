package dbfault

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
)

type sqliteError struct{ code int }

func (e sqliteError) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e sqliteError) Code() int     { return e.code }

// TestClassify: SQLite's read-only, full, I/O, busy and cannot-open codes
// (extended codes too, wrapped or not) are faults; other codes and other
// errors are not.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{sqliteError{8}, "read-only"},
		{sqliteError{8 | 3<<8}, "read-only"}, // SQLITE_READONLY_ROLLBACK
		{fmt.Errorf("record change: %w", sqliteError{13}), "disk is full"},
		{sqliteError{10 | 3<<8}, "I/O error"}, // SQLITE_IOERR_WRITE
		{sqliteError{5}, "busy"},
		{sqliteError{14}, "cannot be opened"},
	} {
		e, ok := Unavailable(c.err)
		if !ok || e.Kind != apperr.KindUnavailable || !strings.Contains(e.Message, c.want) || e.Unwrap() != c.err {
			t.Errorf("%v: %+v %t, want Unavailable %q", c.err, e, ok, c.want)
		}
	}
	for _, err := range []error{sqliteError{19}, sqliteError{1}, fmt.Errorf("plain")} {
		if _, ok := Unavailable(err); ok {
			t.Errorf("%v is classified as a database fault", err)
		}
	}
}
