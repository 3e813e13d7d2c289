package authority

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// Migration 0006 fills the folded name keys of a database of an earlier
// version. Names that version let differ only in non-ASCII case keep one key,
// the oldest row's; lookups by any spelling then find that row, and a new
// name that folds the same is refused.
func TestMigrationFoldsExistingNames(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateUpTo(ctx, db, 5); err != nil {
		t.Fatal(err)
	}
	const at = "2026-01-01T00:00:00Z"
	if _, err := db.Exec(`INSERT INTO orgs(id, name, registration_key, auth_method, created_at) VALUES
			(1, 'Default', 'AAAA-BBBB-CCCC-DDDD', 'local', ?), (2, 'Ärzte', 'AAAA-BBBB-CCCC-EEEE', '', ?), (3, 'ärzte', 'AAAA-BBBB-CCCC-FFFF', '', ?);
		INSERT INTO users(id, username, org_id, created_at, updated_at) VALUES
			(1, 'admin', 1, ?, ?), (2, 'ΝΊΚΟΣ', 2, ?, ?), (3, 'νίκος', 3, ?, ?), (4, 'Bob', 1, ?, ?)`,
		at, at, at, at, at, at, at, at, at, at, at); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if db, err = OpenDB(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []struct {
		ID  int64   `db:"id"`
		Key *string `db:"k"`
	}
	if err := db.Select(&keys, `SELECT id, username_key AS k FROM users ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	want := []string{"admin", "νίκοσ", "", "bob"}
	for i, k := range keys {
		if got := deref(k.Key); got != want[i] {
			t.Errorf("user %d: key %q, want %q", k.ID, got, want[i])
		}
	}
	o := orgs.New(db, nil)
	for _, n := range []string{"ärzte", "ÄRZTE", "Ärzte"} {
		if got, err := o.ByName(ctx, n); err != nil || got.ID != 2 {
			t.Errorf("org ByName(%q) = %d, %v; want the oldest, 2", n, got.ID, err)
		}
	}
	u := users.New(db, o, nil)
	for n, id := range map[string]int64{"νίκος": 2, "ΝΊΚΟΣ": 2, "BOB": 4, "Admin": 1} {
		if got, err := u.ByUsername(ctx, n); err != nil || got.ID != id {
			t.Errorf("ByUsername(%q) = %d, %v; want %d", n, got.ID, err, id)
		}
	}
	if _, err := u.Create(ctx, users.NewUser{Username: "Νίκος", Password: "a-long-password", OrgID: 1}); err == nil {
		t.Error("a new user Νίκος was created next to ΝΊΚΟΣ")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
