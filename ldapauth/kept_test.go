package ldapauth

import (
	"strings"
	"testing"
)

// The servers kept in memory are always the database's: an update through
// the service, plain SQL updates and a deletion are seen by the next Get
// and List; a caller changing what it was given changes nothing kept; a
// server whose bind password no longer opens fails alone.
func TestKeptServersFollowEveryWrite(t *testing.T) {
	ctx := testCtx(t)
	s := newTestService(t, nil)
	in := ServerInput{
		Name: ptr("dc1"), URL: ptr("ldap://127.0.0.1:1/dc=example,dc=com"), BindDN: ptr("cn=svc,dc=example,dc=com"),
		BindPassword: ptr("svc-password"), SearchFilter: ptr("(&(objectClass=person)(uid=%u))"),
		SensitiveAttributes: &[]string{"homePhone"},
	}
	a, err := s.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Name = ptr("dc2")
	b, err := s.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, a.ID)
	if err != nil || got.BindPassword != "svc-password" || got.Name != "dc1" {
		t.Fatalf("get: %+v, %v", got.Name, err)
	}
	got.SensitiveAttributes[0] = "changed"
	got.Fetched[0] = "changed"
	if again, _ := s.Get(ctx, a.ID); again.SensitiveAttributes[0] != "homePhone" || again.Fetched[0] == "changed" {
		t.Fatalf("a caller's change reached the kept servers: %v %v", again.SensitiveAttributes, again.Fetched)
	}

	if _, err := s.Update(ctx, a.ID, ServerInput{Name: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, a.ID); err != nil || got.Name != "renamed" {
		t.Fatalf("after the update: %q, %v", got.Name, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE ldap_servers SET search_filter = '(uid=%u)' WHERE id = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, b.ID); err != nil || got.SearchFilter != "(uid=%u)" {
		t.Fatalf("after a plain SQL update: %q, %v", got.SearchFilter, err)
	}

	// A sealed password that does not open: that server fails, the other not.
	if _, err := s.db.ExecContext(ctx, `UPDATE ldap_servers SET bind_password_sealed = 'garbage' WHERE id = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.ID); err == nil || !strings.Contains(err.Error(), "bind password") {
		t.Fatalf("a server whose password does not open: %v", err)
	}
	if got, err := s.Get(ctx, a.ID); err != nil || got.Name != "renamed" {
		t.Fatalf("the other server: %q, %v", got.Name, err)
	}
	if _, err := s.List(ctx); err == nil {
		t.Fatal("List hid the broken server")
	}

	if _, err := s.db.ExecContext(ctx, `DELETE FROM ldap_servers WHERE id = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.ID); err == nil {
		t.Fatal("a deleted server is still found")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("list after the deletion: %d servers, %v", len(list), err)
	}
}
