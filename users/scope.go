package users

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/users/roles"
)

// ScopeUser is a user as a directory sync sees it: enough to match it to a
// directory entry and to decide its changes, and nothing more (a run holds
// the users of a page of entries, and those it deactivates, in memory).
type ScopeUser struct {
	ID       int64
	Username string
	OrgID    int64
	State    State
	// Profile is the stored profile, packed (Unpack it where it is
	// compared).
	Profile PackedProfile
	// The directory entry it matched last: server (0 for none), DN and stable id.
	LDAPServerID    int64
	LDAPDN, LDAPUID string
	// Misses is how many runs in a row have not found the user in the
	// directory (the missed-run threshold).
	Misses int
	// Protected is the built-in administrator (BuiltinAdmin, with the
	// roles.Sysadmin role, a local password and no directory entry). A
	// directory sync never deactivates it, even when its org uses LDAP, so
	// that a wrong search filter cannot lock every administrator out.
	Protected bool
}

// scopeFields are the fields of a ScopeUser, in the order scanScope reads
// them.
var scopeFields = []string{`u.id`, `u.username`, `u.org_id`, `u.status`, `u.status_reason`, `u.pending_reason`,
	`u.email`, `u.first_name`, `u.last_name`, `u.title`, `u.department`, `u.division`, `u.employee_type`, `u.employee_number`,
	`u.city`, `u.state`, `u.country`, `u.manager_id`, `u.ldap_server_id`, `u.ldap_dn`, `u.ldap_uid`, `u.password_hash <> ''`, `u.dirsync_misses`}

// scopeRow is the SQL expression of a ScopeUser's fields as one text: each
// field is its length in bytes, a colon and its text ("" for NULL). A run
// reads nearly every user this way; with one column a row, modernc's driver
// makes one call into SQLite where 23 columns made 69, each taking the
// connection's mutex (a third of the read's time), and Go makes one string
// where it made sixteen.
var scopeRow = func() string {
	parts := make([]string, len(scopeFields))
	for i, f := range scopeFields {
		parts[i] = `coalesce(octet_length(` + f + `), 0), ':', ` + f // concat skips a NULL
	}
	return `concat(` + strings.Join(parts, ", ") + `)`
}()

// ScopeFlags are the few users a sync treats apart, read once: the
// administrators (roles.Sysadmin) and the users on legal hold.
type ScopeFlags struct{ admins, held map[int64]bool }

// ReadScopeFlags reads the administrators and the users on legal hold.
func (s *Service) ReadScopeFlags(ctx context.Context) (*ScopeFlags, error) {
	f := &ScopeFlags{admins: map[int64]bool{}, held: map[int64]bool{}}
	collect := func(set map[int64]bool) func(int64, string) { return func(id int64, _ string) { set[id] = true } }
	if err := eachRow(ctx, s.DB, `SELECT user_id, role FROM user_roles WHERE role = ?`, []any{roles.Sysadmin}, collect(f.admins)); err != nil {
		return nil, fmt.Errorf("users: the administrators: %w", err)
	}
	if err := eachRow(ctx, s.DB, `SELECT DISTINCT user_id, '' FROM (`+heldUsersSQL+`)`, nil, collect(f.held)); err != nil {
		return nil, fmt.Errorf("users: the users on legal hold: %w", err)
	}
	return f, nil
}

// apply sets u's flags.
func (f *ScopeFlags) apply(u *ScopeUser) {
	u.State.OnHold = f.held[u.ID]
	u.Protected = u.Protected && f.admins[u.ID]
}

// InScopeByID calls fn with the users ids (ascending) that are still in
// the orgs orgIDs, in id order, with the flags read once by ReadScopeFlags.
func (s *Service) InScopeByID(ctx context.Context, orgIDs []int64, flags *ScopeFlags, ids []int64, fn func(ScopeUser)) error {
	// By rowid, in id order chunk after chunk.
	if err := inScopeBy(ctx, s, orgIDs, flags, `users u`, `u.id`, ids, ` ORDER BY u.id`, fn); err != nil {
		return fmt.Errorf("users: the users in scope: %w", err)
	}
	return nil
}

// InScopeByUsername calls fn with the users of the orgs orgIDs whose
// username has one of the casefold keys (casefold.Key): the users a page
// of directory entries names. With an index (ReadScopeIndex; nil: none),
// those it holds are read by id, and the rest by the username index.
func (s *Service) InScopeByUsername(ctx context.Context, orgIDs []int64, flags *ScopeFlags, index *ScopeIndex, keys []string, fn func(ScopeUser)) error {
	if index != nil {
		var err error
		if keys, err = s.inScopeByKnownKeys(ctx, orgIDs, flags, index, keys, fn); err != nil {
			return fmt.Errorf("users: the users named by directory entries: %w", err)
		}
	}
	if err := inScopeBy(ctx, s, orgIDs, flags, `users u INDEXED BY users_username_key`, `u.username_key`, keys, ``, fn); err != nil {
		return fmt.Errorf("users: the users named by directory entries: %w", err)
	}
	return nil
}

// InScopeByStableID calls fn with the users of the orgs orgIDs whose last
// matched entry had one of the stable ids (lower case), read by index.
func (s *Service) InScopeByStableID(ctx context.Context, orgIDs []int64, flags *ScopeFlags, uids []string, fn func(ScopeUser)) error {
	if err := inScopeBy(ctx, s, orgIDs, flags, `users u INDEXED BY users_ldap_uid`, `u.ldap_uid <> '' AND lower(u.ldap_uid)`, uids, ``, fn); err != nil {
		return fmt.Errorf("users: the users of directory entries by stable id: %w", err)
	}
	return nil
}

// inScopeBy reads the users of orgIDs whose column expression where is one
// of values, from from (named indexes: with the planner's statistics of a
// large org, SQLite preferred users_org and scanned the org for every
// page), in chunks of at most 900 parameters, each ending with order. Each
// user comes once: the keys and ids are unique. The org is checked here,
// not in SQL, where it cost a probe of a temporary index a row.
//
// A full sync reads nearly every user this way, a page at a time, so the
// rows are read from the driver itself (rawScope) rather than through
// database/sql's Scan, whose conversions cost a quarter of the read.
func inScopeBy[T int64 | string](ctx context.Context, s *Service, orgIDs []int64, flags *ScopeFlags, from, where string, values []T, order string, fn func(ScopeUser)) error {
	if len(orgIDs) == 0 || len(values) == 0 {
		return nil
	}
	const per = 900
	inScope := orgSet(orgIDs)
	return rawScope(ctx, s, func(q driver.QueryerContext) error {
		args := make([]driver.NamedValue, 0, min(len(values), per))
		dest := make([]driver.Value, 1)
		for len(values) > 0 {
			chunk := values[:min(len(values), per)]
			values = values[len(chunk):]
			args = args[:0]
			for _, v := range chunk {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			}
			rows, err := q.QueryContext(ctx, `SELECT `+scopeRow+` FROM `+from+` WHERE `+where+` IN (`+placeholders(len(chunk))+`)`+order, args)
			if err != nil {
				return err
			}
			err = scanScope(rows, dest, func(u *ScopeUser) {
				if !inScope(u.OrgID) {
					return
				}
				flags.apply(u)
				fn(*u)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// orgSet returns whether an org is one of orgIDs.
func orgSet(orgIDs []int64) func(int64) bool {
	if len(orgIDs) <= 8 {
		return func(id int64) bool { return slices.Contains(orgIDs, id) }
	}
	set := make(map[int64]bool, len(orgIDs))
	for _, id := range orgIDs {
		set[id] = true
	}
	return func(id int64) bool { return set[id] }
}

// rawScope calls fn with a connection of the driver's own, taken from the
// pool for the call.
func rawScope(ctx context.Context, s *Service, fn func(driver.QueryerContext) error) error {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the database driver's connections (%T) cannot run a query", dc)
		}
		return fn(q)
	})
}

// Count returns how many users there are, in every org.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil {
		return 0, fmt.Errorf("users: count the users: %w", err)
	}
	return n, nil
}

// CountInScope returns how many users each of the orgs orgIDs has.
func (s *Service) CountInScope(ctx context.Context, orgIDs []int64) (map[int64]int, error) {
	counts := map[int64]int{}
	if len(orgIDs) == 0 {
		return counts, nil
	}
	// A count for each org (a range of the org index) costs a quarter of
	// one grouped count of them all (about 5 ms against 18 at 100,000
	// users), which an incremental run pays every few minutes.
	rows, err := s.DB.QueryxContext(ctx, `SELECT o.id, (SELECT count(*) FROM users u WHERE u.org_id = o.id) FROM orgs o WHERE o.id IN (`+placeholders(len(orgIDs))+`)`, int64Args(orgIDs)...)
	if err != nil {
		return nil, fmt.Errorf("users: count the users in scope: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var org int64
		var n int
		if err := rows.Scan(&org, &n); err != nil {
			return nil, fmt.Errorf("users: count the users in scope: %w", err)
		}
		counts[org] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: count the users in scope: %w", err)
	}
	return counts, nil
}

// scanScope reads rows of scopeRow into dest and calls fn with each user.
// Protected is set from the username, password and DN; fn adds the
// administrator role (ScopeFlags).
func scanScope(rows driver.Rows, dest []driver.Value, fn func(u *ScopeUser)) (err error) {
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if n := len(rows.Columns()); n != 1 {
		return fmt.Errorf("%d columns, want 1", n)
	}
	var pack []byte // the profile, packed, before it is copied into its own string
	for {
		if err := rows.Next(dest); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read a row: %w", err)
		}
		var r scopeRowReader
		switch v := dest[0].(type) {
		case string:
			r.s = v
		case []byte:
			r.s = string(v)
		default:
			return fmt.Errorf("a row is %T, not text", v)
		}
		u := ScopeUser{ID: r.int(), Username: r.text(), OrgID: r.int()}
		u.State.Status, u.State.Reason, u.State.Pending = Status(internText(r.text())), Reason(internText(r.text())), Reason(internText(r.text()))
		pack = r.profile(pack[:0])
		u.LDAPServerID, u.LDAPDN, u.LDAPUID = r.int(), r.text(), r.text()
		hasPassword := r.int() != 0
		u.Misses = int(r.int())
		if r.err == nil && r.s != "" {
			r.err = fmt.Errorf("%d bytes after the last field", len(r.s))
		}
		if r.err != nil {
			return fmt.Errorf("user %d: %w", u.ID, r.err)
		}
		u.Profile = PackedProfile(pack)
		u.Protected = casefold.Equal(u.Username, BuiltinAdmin) && hasPassword && u.LDAPDN == ""
		fn(&u)
	}
}

// scopeRowReader reads the fields of a scopeRow in turn, keeping the first
// error (then every field reads as empty).
type scopeRowReader struct {
	s   string
	err error
}

// text returns the next field; it shares the row's memory.
func (r *scopeRowReader) text() string {
	if r.err != nil {
		return ""
	}
	colon := strings.IndexByte(r.s, ':')
	n, err := strconv.Atoi(r.s[:max(colon, 0)])
	if colon < 0 || err != nil || n < 0 || n > len(r.s)-colon-1 {
		r.err = fmt.Errorf("a field is cut short or its length is not a number: %.20q", r.s)
		return ""
	}
	v := r.s[colon+1 : colon+1+n]
	r.s = r.s[colon+1+n:]
	return v
}

// int returns the next field, an integer (0 for NULL).
func (r *scopeRowReader) int() int64 {
	v := r.text()
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("an integer field holds %.20q", v)
	}
	return n
}

// profile appends the next fields, a Profile's eleven texts and its
// manager, to pack as PackProfile packs them ("" for the empty profile)
// and returns it.
func (r *scopeRowReader) profile(pack []byte) []byte {
	var f [profileTexts]string
	empty := true
	for i := range f {
		f[i] = r.text()
		empty = empty && f[i] == ""
	}
	manager, hasManager := int64(0), false
	if v := r.text(); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("the manager id is %.20q", v)
		}
		manager, hasManager = n, true
	}
	if empty && !hasManager {
		return pack
	}
	return appendPacked(pack, f[:], manager, hasManager)
}

func int64Args(ids []int64) []any {
	args := make([]any, len(ids), len(ids)+900)
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// SetMissesTx records, for users ids, how many runs in a row have not
// found them in the directory (0: found).
func (s *Service) SetMissesTx(ctx context.Context, tx *sqlx.Tx, n int, ids []int64) error {
	err := inChunks(ids, func(args []any, in string) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET dirsync_misses = ? WHERE id IN (`+in+`)`, append([]any{n}, args...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("users: record missed runs: %w", err)
	}
	return nil
}

// knownWords are the statuses and reasons, so that a run's users share
// them instead of holding a copy each.
var knownWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{string(StatusActive), string(StatusBlocked), string(StatusDeactivated),
		string(ReasonAdmin), string(ReasonDirsync), string(ReasonLegalHold), string(ReasonProvisioning)} {
		m[w] = w
	}
	return m
}()

// internText returns s, or the equal known status or reason so that the
// run's users share it and s can go.
func internText(s string) string {
	if w, ok := knownWords[s]; ok {
		return w
	}
	return s
}
