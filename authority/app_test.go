package authority_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/users"
)

func TestFirstStartCreatesAdminOnce(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	app, err := authority.Open(context.Background(), authority.Config{DataDir: dir, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^    (\S{20})$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no generated password printed: %q", out.String())
	}
	u, err := app.Users.ByUsername(context.Background(), users.BuiltinAdmin)
	if err != nil || !u.IsAdmin() || !users.CheckPassword(u, m[1]) {
		t.Fatalf("admin: %+v %v", u, err)
	}
	app.Close()

	out.Reset()
	app, err = authority.Open(context.Background(), authority.Config{DataDir: dir, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if out.Len() != 0 {
		t.Fatalf("second start printed %q", out.String())
	}
	// The password is not in the log either.
	log := readFile(t, filepath.Join(dir, "logs", "authority.log"))
	if strings.Contains(log, m[1]) {
		t.Fatal("the generated password is in the log")
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, authority.DBFile)
	db, err := authority.OpenDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 9999`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = authority.OpenDB(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer authority binary") {
		t.Fatalf("want a clear refusal, got %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	app, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "pw", Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	name := "Staff"
	if _, err := app.Orgs.Create(ctx, orgsInput(name)); err != nil {
		t.Fatal(err)
	}
	app.Close()
	app, err = authority.Open(ctx, authority.Config{DataDir: dir, Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Orgs.ByName(ctx, "staff"); err != nil {
		t.Fatalf("org lost across restart: %v", err)
	}
	var v int
	if err := app.DB.Get(&v, `PRAGMA user_version`); err != nil || v != authority.SchemaVersion() {
		t.Fatalf("schema version %d, want %d (%v)", v, authority.SchemaVersion(), err)
	}
}
