package users_test

import (
	"testing"

	"github.com/authority-server/authority/users/roles"
)

// The roles kept in memory are always the database's: a Role Mapping change,
// a role added in plain SQL and a rolled-back change are seen (or not) by
// the next read; a caller changing the Mapping it got changes nothing kept.
func TestKeptRolesFollowEveryWrite(t *testing.T) {
	w := newWorld(t)
	u, db := w.app.Users, w.app.DB
	if _, err := u.SetRoleMapping(w.ctx, []string{"desktop user"}); err != nil {
		t.Fatal(err)
	}
	m, err := u.Mapping(w.ctx)
	if err != nil || m.Names()[0] != "Desktop User" || len(m) != 1 {
		t.Fatalf("mapping: %v, %v", m.Names(), err)
	}
	m["x"] = "Injected"
	if m, _ := u.Mapping(w.ctx); len(m) != 1 {
		t.Fatalf("a caller's change reached the kept mapping: %v", m.Names())
	}

	if _, err := roles.Canonical(w.ctx, db, "roles", []string{"Auditor"}); err == nil {
		t.Fatal("an unknown role was accepted")
	}
	if _, err := db.ExecContext(w.ctx, `INSERT INTO roles (name, builtin, in_mapping) VALUES ('Auditor', 0, 1)`); err != nil {
		t.Fatal(err)
	}
	if got, err := roles.Canonical(w.ctx, db, "roles", []string{"auditor"}); err != nil || got[0] != "Auditor" {
		t.Fatalf("a role added in SQL: %v, %v", got, err)
	}
	if m, _ := u.Mapping(w.ctx); !m.Has("Auditor") {
		t.Fatalf("the mapping misses a role added in SQL: %v", m.Names())
	}

	tx, err := db.BeginTxx(w.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := roles.SetMapping(w.ctx, tx, []string{"PROe User"}); err != nil {
		t.Fatal(err)
	}
	if m, err := roles.LoadMapping(w.ctx, tx); err != nil || !m.Has("PROe User") || m.Has("Auditor") {
		t.Fatalf("inside the transaction: %v, %v", m.Names(), err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if m, _ := u.Mapping(w.ctx); m.Has("PROe User") || !m.Has("Auditor") || !m.Has("Desktop User") {
		t.Fatalf("after the rollback: %v", m.Names())
	}
}
