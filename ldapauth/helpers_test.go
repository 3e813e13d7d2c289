package ldapauth

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"

	"github.com/authority-server/authority/internal/secret"
	"github.com/authority-server/authority/testenv"
)

// testCtx is a context that ends with the test (bounded, so that a hang fails).
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// everyAttributeScript is an active script that may read any attribute
// (Object.keys), so that searches with it fetch every attribute: these
// tests look at attributes the default script does not read.
const everyAttributeScript = `function(entry) { return Object.keys(entry) != null; }`

// glauthServer is a Server for a testenv glauth directory with the usual
// posixAccount/uid filter.
func glauthServer(g *testenv.Glauth) Server {
	return Server{
		Name: "glauth", URL: g.URL, BindDN: g.BindDN, BindPassword: g.BindPassword, HasBindPassword: true,
		SearchFilter: "(&(objectClass=posixAccount)(uid=%u))", EmailAttribute: "mail", FirstNameAttribute: "givenName",
		LastNameAttribute: "sn", TimeoutSeconds: 10, PageSize: 500, ActiveScript: everyAttributeScript,
	}
}

// openTestDB opens a fresh SQLite database with the real migrations applied
// (read from ../authority/migrations, so this package's tests do not depend
// on package authority).
func openTestDB(t testing.TB) *sqlx.DB {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(dir, "t.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	files, err := filepath.Glob("../authority/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	sort.Slice(files, func(i, j int) bool { return migNum(files[i]) < migNum(files[j]) })
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
	}
	return db
}

func migNum(path string) int {
	n, _, _ := strings.Cut(filepath.Base(path), "_")
	v, _ := strconv.Atoi(n)
	return v
}

// newTestService returns a Service over a fresh database; the log goes to w
// (io.Discard when nil).
func newTestService(t testing.TB, w io.Writer) *Service {
	t.Helper()
	if w == nil {
		w = io.Discard
	}
	box, err := secret.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return NewService(openTestDB(t), box, slog.New(slog.NewTextHandler(w, nil)))
}
