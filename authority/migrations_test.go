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

// Migrations 0008 (profile) and 0010 (profile mapping) give every user an
// empty profile and every LDAP server an empty profile mapping, through
// 0009's rebuild of users; a manager that is deleted leaves its reports
// without one (found by the users_manager index).
func TestMigrationProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), authority.DBFile)
	db, err := sqlx.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := authority.MigrateUpTo(context.Background(), db, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO orgs(name, name_key, registration_key, created_at) VALUES ('Old', 'old', 'AAAA-BBBB-CCCC-DDDD', '2026-01-01T00:00:00Z');
		INSERT INTO users(username, username_key, email, org_id, created_at, updated_at) VALUES ('kim', 'kim', 'k@x', 1, '', ''), ('boss', 'boss', '', 1, '', '');
		INSERT INTO ldap_servers(name, url, search_filter, created_at, updated_at) VALUES ('d', 'ldap://x/dc=x', '(uid=%u)', '', '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = authority.OpenDB(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var u struct {
		Email, Title, Department, Division, EmployeeType, EmployeeNumber, City, State, Country string
		Manager                                                                                *int64
	}
	if err := db.QueryRow(`SELECT email, title, department, division, employee_type, employee_number, city, state, country, manager_id FROM users WHERE username = 'kim'`).
		Scan(&u.Email, &u.Title, &u.Department, &u.Division, &u.EmployeeType, &u.EmployeeNumber, &u.City, &u.State, &u.Country, &u.Manager); err != nil {
		t.Fatal(err)
	}
	if u.Email != "k@x" || u.Title != "" || u.Country != "" || u.Manager != nil {
		t.Errorf("kim after 0008: %+v", u)
	}
	var mapped string
	if err := db.Get(&mapped, `SELECT title_attribute || department_attribute || division_attribute || employee_type_attribute ||
		manager_attribute || city_attribute || state_attribute || country_attribute FROM ldap_servers`); err != nil || mapped != "" {
		t.Errorf("server mapping after 0008: %q %v", mapped, err)
	}
	if _, err := db.Exec(`UPDATE users SET manager_id = (SELECT id FROM users WHERE username = 'boss') WHERE username = 'kim';
		DELETE FROM users WHERE username = 'boss'`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&u.Manager, `SELECT manager_id FROM users WHERE username = 'kim'`); err != nil || u.Manager != nil {
		t.Errorf("the manager was deleted: manager_id %v, %v", u.Manager, err)
	}
	var idx int
	if err := db.Get(&idx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'users_manager'`); err != nil || idx != 1 {
		t.Errorf("users_manager index: %d, %v", idx, err)
	}
}
