// Package health is the readiness check of GET /readyz: the database can be
// written, and which LDAP servers answer.
package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/dbfault"
	"github.com/authority-server/authority/ldapauth"
)

// Defaults of a Checker.
const (
	DefaultTTL            = 10 * time.Second // directory results are reused this long
	DefaultDirectoryLimit = 2 * time.Second  // one round of directory checks
	DefaultDatabaseLimit  = 3 * time.Second  // the database write
)

// The words of a report.
const (
	OK          = "ok"
	Unreachable = "unreachable"
)

// Report is the body of /readyz: "ok" or what is wrong with the database,
// and "ok" or "unreachable" per LDAP server id. It holds no secrets (no
// URLs, names, bind DNs or error texts from the directories).
type Report struct {
	Database    string            `json:"database"`
	Directories map[string]string `json:"directories"`
}

// Checker checks readiness. The database check writes one row each time;
// the directory checks (TCP and TLS only, no bind) run concurrently, are
// bounded by DirectoryLimit and reused for TTL, so that a load balancer
// polling /readyz costs the directories almost nothing.
type Checker struct {
	DB      *sqlx.DB
	Servers func(ctx context.Context) ([]ldapauth.Server, error)
	// Reachable checks one server (ldapauth.Reachable when nil).
	Reachable      func(ctx context.Context, srv ldapauth.Server) error
	TTL            time.Duration
	DirectoryLimit time.Duration
	DatabaseLimit  time.Duration
	Now            func() time.Time

	mu      sync.Mutex // one refresh of the directories at a time
	checked time.Time
	dirs    map[string]string
}

// Check returns the report and whether the server is ready: it is when the
// database can be written (unreachable directories are reported, but sign-in
// and the rest of the API still work without them).
func (c *Checker) Check(ctx context.Context) (Report, bool) {
	r := Report{Database: c.database(ctx)}
	r.Directories = c.directories(ctx)
	return r, r.Database == OK
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func limit(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// database writes the probe row and says what went wrong.
func (c *Checker) database(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, limit(c.DatabaseLimit, DefaultDatabaseLimit))
	defer cancel()
	_, err := c.DB.ExecContext(ctx, `UPDATE health_probe SET at = ? WHERE id = 1`, c.now().UTC().Format(time.RFC3339Nano))
	switch {
	case err == nil:
		return OK
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Sprintf("the database is busy: no write within %s", limit(c.DatabaseLimit, DefaultDatabaseLimit))
	}
	if msg, ok := dbfault.Describe(err); ok {
		return msg
	}
	return "the database cannot be written: " + err.Error()
}

// directories returns the cached results while they are fresh, and checks
// every server again otherwise.
func (c *Checker) directories(ctx context.Context) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirs != nil && c.now().Sub(c.checked) < limit(c.TTL, DefaultTTL) {
		return c.dirs
	}
	out := map[string]string{}
	if c.Servers == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, limit(c.DirectoryLimit, DefaultDirectoryLimit))
	defer cancel()
	servers, err := c.Servers(ctx)
	if err != nil {
		return out // the database check says what is wrong
	}
	reach := c.Reachable
	if reach == nil {
		reach = ldapauth.Reachable
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := OK
			if reach(ctx, srv) != nil {
				st = Unreachable
			}
			mu.Lock()
			out[strconv.FormatInt(srv.ID, 10)] = st
			mu.Unlock()
		}()
	}
	wg.Wait()
	c.dirs, c.checked = out, c.now()
	return out
}
