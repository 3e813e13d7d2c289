package ldapauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
)

func ptr[T any](v T) *T { return &v }

func validInput() ServerInput {
	return ServerInput{
		Name: ptr("Corp"), URL: ptr("ldap://127.0.0.1:3389/dc=example,dc=com"), BindDN: ptr("cn=svc,dc=example,dc=com"),
		BindPassword: ptr("s3cret-Pa55"), SearchFilter: ptr("(&(objectClass=user)(sAMAccountName=%u))"),
	}
}

func TestServiceStoreSealsPassword(t *testing.T) {
	var logBuf bytes.Buffer
	s := newTestService(t, &logBuf)
	ctx := testCtx(t)
	srv, err := s.Create(ctx, validInput())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if srv.BindPassword != "s3cret-Pa55" || !srv.HasBindPassword {
		t.Fatalf("created server has password %v/%v", srv.BindPassword != "", srv.HasBindPassword)
	}
	if srv.TimeoutSeconds != 30 || srv.PageSize != 500 || srv.ActiveScript != DefaultActiveScript || srv.EmailAttribute != "mail" {
		t.Errorf("defaults: %+v", srv)
	}
	if srv.UsernameAttribute() != "sAMAccountName" || srv.BaseDN() != "dc=example,dc=com" {
		t.Errorf("username attribute %q, base %q", srv.UsernameAttribute(), srv.BaseDN())
	}
	var sealed string
	if err := s.db.Get(&sealed, `SELECT bind_password_sealed FROM ldap_servers WHERE id = ?`, srv.ID); err != nil {
		t.Fatal(err)
	}
	if sealed == "" || strings.Contains(sealed, "s3cret") {
		t.Fatalf("stored password is not sealed: %q", sealed)
	}
	raw, _ := json.Marshal(srv)
	if strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "bindPassword\"") {
		t.Fatalf("JSON contains the password: %s", raw)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].BindPassword != "s3cret-Pa55" {
		t.Fatalf("List: %v %v", len(list), err)
	}

	// PATCH without bindPassword keeps it; with it changes it.
	got, err := s.Update(ctx, srv.ID, ServerInput{Name: ptr("Renamed")})
	if err != nil || got.Name != "Renamed" || got.BindPassword != "s3cret-Pa55" {
		t.Fatalf("Update name: %v %v", got.Name, err)
	}
	got, err = s.Update(ctx, srv.ID, ServerInput{BindPassword: ptr("n3w-Pa55")})
	if err != nil || got.BindPassword != "n3w-Pa55" {
		t.Fatalf("Update password: %v", err)
	}
	// Clearing it requires bindAnonymously.
	_, err = s.Update(ctx, srv.ID, ServerInput{BindPassword: ptr("")})
	if e, ok := apperr.As(err); !ok || e.Field != "bindPassword" {
		t.Fatalf("clear password while not anonymous: %v", err)
	}
	got, err = s.Update(ctx, srv.ID, ServerInput{BindPassword: ptr(""), BindAnonymously: ptr(true)})
	if err != nil || got.HasBindPassword || got.BindPassword != "" {
		t.Fatalf("clear password: %+v %v", got.HasBindPassword, err)
	}
	if strings.Contains(logBuf.String(), "s3cret") || strings.Contains(logBuf.String(), "n3w-Pa55") {
		t.Fatalf("the log contains a password: %s", logBuf.String())
	}
	if _, err := s.Get(ctx, 999); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("Get(999) = %v", err)
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := newTestService(t, nil)
	ctx := testCtx(t)
	st, err := s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != DefaultSettings() || st.RegistrantsNotFound != "deny" || st.SyncInterval != "12h" || st.ValvePercent != 10 || st.ValveMinUsers != 10 {
		t.Fatalf("defaults = %+v", st)
	}
	if d, ok := st.Interval(); !ok || d.Hours() != 12 {
		t.Fatalf("Interval = %v %v", d, ok)
	}
	st.SyncInterval = "never"
	st, err = s.SaveSettings(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Interval(); ok {
		t.Fatal("never has an interval")
	}
	again, _ := s.Settings(ctx)
	if again != st {
		t.Fatalf("stored %+v, read %+v", st, again)
	}
}

func TestServerNeverPrintsThePassword(t *testing.T) {
	srv := Server{ID: 3, Name: "AD", URL: "ldap://h/dc=x", BindDN: "cn=svc", BindPassword: "Very-Secret-99"}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("x", "server", srv, "ptr", &srv)
	}
	buf.WriteString(fmt.Sprintf("%v %+v %s", srv, srv, srv))
	raw, _ := json.Marshal(srv)
	buf.Write(raw)
	if strings.Contains(buf.String(), "Very-Secret-99") {
		t.Fatalf("the password is printed: %s", buf.String())
	}
}

func TestStoredPasswordStaysWithItsHost(t *testing.T) {
	s := newTestService(t, nil)
	ctx := testCtx(t)
	srv, err := s.Create(ctx, validInput())
	if err != nil {
		t.Fatal(err)
	}
	// Another port on the same host: fine (testenv directories move ports).
	if _, err := s.Update(ctx, srv.ID, ServerInput{URL: ptr("ldap://127.0.0.1:4389/dc=example,dc=com")}); err != nil {
		t.Fatalf("new port: %v", err)
	}
	// Another host without the password: refused, for saving and testing.
	evil := ServerInput{URL: ptr("ldap://attacker.example.net/dc=example,dc=com")}
	for name, fn := range map[string]func() error{
		"Update": func() error { _, err := s.Update(ctx, srv.ID, evil); return err },
		"Draft":  func() error { _, err := s.Draft(ctx, srv.ID, evil); return err },
	} {
		if e, ok := apperr.As(fn()); !ok || e.Field != "bindPassword" {
			t.Errorf("%s to another host without the password: %v", name, e)
		}
	}
	evil.BindPassword = ptr("typed-again")
	if got, err := s.Update(ctx, srv.ID, evil); err != nil || got.BindPassword != "typed-again" {
		t.Fatalf("another host with the password: %v", err)
	}
}
