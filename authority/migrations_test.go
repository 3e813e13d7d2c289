package authority_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority"
)

// Migration 0004 (security) takes SYSADMIN off the Role Mapping list and out of every
// org's default roles, where a database of an earlier version may have it.
func TestMigrationTakesSysadminFromDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), authority.DBFile)
	db, err := sqlx.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := authority.MigrateUpTo(context.Background(), db, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE roles SET in_mapping = 1 WHERE name = 'SYSADMIN';
		INSERT INTO orgs(name, registration_key, default_roles, created_at) VALUES
			('Ops', 'AAAA-BBBB-CCCC-DDDD', '["Desktop User","sysadmin","PROe User"]', '2026-01-01T00:00:00Z'),
			('Only', 'AAAA-BBBB-CCCC-EEEE', '["SYSADMIN"]', '2026-01-01T00:00:00Z'),
			('Plain', 'AAAA-BBBB-CCCC-FFFF', '["Desktop User"]', '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = authority.OpenDB(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var inMapping bool
	if err := db.Get(&inMapping, `SELECT in_mapping FROM roles WHERE name = 'SYSADMIN'`); err != nil || inMapping {
		t.Errorf("SYSADMIN on the Role Mapping list after migration: %t, %v", inMapping, err)
	}
	for name, want := range map[string]string{"Ops": `["Desktop User","PROe User"]`, "Only": `[]`, "Plain": `["Desktop User"]`} {
		var got string
		if err := db.Get(&got, `SELECT default_roles FROM orgs WHERE name = ?`, name); err != nil || got != want {
			t.Errorf("default roles of %s: %s, %v; want %s", name, got, err, want)
		}
	}
}
