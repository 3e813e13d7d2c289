package orgs_test

import (
	"testing"

	"github.com/authority-server/authority/orgs"
)

// The tree kept in memory is always the database's: every kind of write
// (through the service, through plain SQL, by a cascade when an LDAP server
// is deleted) is seen by the next read; what a transaction wrote and
// rolled back is not; and a caller changing what it was given changes
// nothing for the next caller.
func TestKeptTreeFollowsEveryWrite(t *testing.T) {
	v := start(t)
	db := v.e.App.DB
	root := v.root()
	sales := v.create(orgs.Input{Name: ptr("Sales"), ParentID: ptr(root.ID)})
	emea := v.create(orgs.Input{Name: ptr("EMEA"), ParentID: ptr(sales.ID)})

	get := func(step string, id int64) orgs.Org {
		t.Helper()
		o, err := v.orgs.Get(v.ctx, id)
		if err != nil {
			t.Fatalf("%s: get %d: %v", step, id, err)
		}
		return o
	}

	// Through the service: a server given to Sales is inherited by EMEA.
	srv := v.server("dc1")
	v.update(sales.ID, orgs.Input{AuthMethod: ptr(orgs.AuthLDAP), LDAPServerIDs: &[]int64{srv}})
	if o := get("service", emea.ID); o.EffectiveAuthMethod != orgs.AuthLDAP || len(o.EffectiveLDAPServerIDs) != 1 || o.EffectiveLDAPServerIDs[0] != srv {
		t.Fatalf("after the service's update: %+v", o)
	}

	// A caller changing its copy changes nothing kept.
	o := get("copy", emea.ID)
	o.EffectiveLDAPServerIDs[0] = 999
	o.DefaultRoles[0] = "changed"
	*o.ParentID = 999
	if o := get("copy", emea.ID); o.EffectiveLDAPServerIDs[0] != srv || o.DefaultRoles[0] == "changed" || *o.ParentID != sales.ID {
		t.Fatalf("a caller's change reached the kept tree: %+v", o)
	}
	all := v.tree().All()
	all[0].Name = "changed"
	if v.root().Name != orgs.RootName {
		t.Fatal("a change to All's result reached the kept tree")
	}

	// Plain SQL, as another process or an administrator's repair would.
	if _, err := db.ExecContext(v.ctx, `UPDATE orgs SET archive_hold_days = 12 WHERE id = ?`, sales.ID); err != nil {
		t.Fatal(err)
	}
	if o := get("sql", emea.ID); o.ArchiveHoldDays != 12 || !o.ArchiveHoldDaysInherited {
		t.Fatalf("after a plain SQL update: hold %d inherited %v", o.ArchiveHoldDays, o.ArchiveHoldDaysInherited)
	}
	if days, err := orgs.HoldDays(v.ctx, db, emea.ID); err != nil || days != 12 {
		t.Fatalf("HoldDays after a plain SQL update: %d, %v", days, err)
	}

	// A transaction sees its own write; after its rollback nobody does.
	tx, err := db.BeginTxx(v.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(v.ctx, `UPDATE orgs SET name = 'Vertrieb', name_key = 'vertrieb' WHERE id = ?`, sales.ID); err != nil {
		t.Fatal(err)
	}
	if o, err := orgs.GetTx(v.ctx, tx, sales.ID); err != nil || o.Name != "Vertrieb" {
		t.Fatalf("inside the transaction: %q, %v", o.Name, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if o := get("rollback", sales.ID); o.Name != "Sales" {
		t.Fatalf("after the rollback: %q", o.Name)
	}
	if _, err := v.orgs.ByName(v.ctx, "Vertrieb"); err == nil {
		t.Fatal("a rolled-back name is found")
	}

	// Deleting the LDAP server (in SQL: the service refuses while an org
	// uses it) removes it from Sales by a cascade.
	if _, err := db.ExecContext(v.ctx, `DELETE FROM ldap_servers WHERE id = ?`, srv); err != nil {
		t.Fatal(err)
	}
	if o := get("cascade", emea.ID); len(o.EffectiveLDAPServerIDs) != 0 {
		t.Fatalf("after the server's deletion EMEA still inherits %v", o.EffectiveLDAPServerIDs)
	}

	// A new registration key is found at once; the old one is not.
	old := get("key", emea.ID).RegistrationKey
	if _, err := db.ExecContext(v.ctx, `UPDATE orgs SET registration_key = 'ABCD-EFGH-IJKL-MNOP' WHERE id = ?`, emea.ID); err != nil {
		t.Fatal(err)
	}
	if o, err := v.orgs.ByRegistrationKey(v.ctx, " abcd-efgh-ijkl-mnop "); err != nil || o.ID != emea.ID {
		t.Fatalf("by the new key: %+v, %v", o, err)
	}
	if _, err := v.orgs.ByRegistrationKey(v.ctx, old); err == nil {
		t.Fatal("the old registration key still finds the org")
	}
}
