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

// TestStoredPasswordStaysWithItsHost: a stored bind password is only used
// for the scheme, host, port, StartTLS setting and bind DN it was entered
// for. Saving (Update) or testing (Draft) a change of any of them without
// the password again is refused on bindPassword; a change of the base DN,
// the filter or the scripts alone keeps it.
func TestStoredPasswordStaysWithItsHost(t *testing.T) {
	s := newTestService(t, nil)
	ctx := testCtx(t)
	srv, err := s.Create(ctx, validInput())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   ServerInput
	}{
		{"another host", ServerInput{URL: ptr("ldap://attacker.example.net:3389/dc=example,dc=com")}},
		{"another port", ServerInput{URL: ptr("ldap://127.0.0.1:4389/dc=example,dc=com")}},
		{"the default port", ServerInput{URL: ptr("ldap://127.0.0.1/dc=example,dc=com")}},
		{"ldaps", ServerInput{URL: ptr("ldaps://127.0.0.1:3389/dc=example,dc=com")}},
		{"StartTLS on", ServerInput{StartTLS: ptr(true)}},
		{"another bind DN", ServerInput{BindDN: ptr("cn=admin,dc=example,dc=com")}},
	} {
		for name, fn := range map[string]func() error{
			"Update": func() error { _, err := s.Update(ctx, srv.ID, c.in); return err },
			"Draft":  func() error { _, err := s.Draft(ctx, srv.ID, c.in); return err },
		} {
			e, ok := apperr.As(fn())
			if !ok || e.Field != "bindPassword" || !strings.HasPrefix(e.Message, "enter the bind password again") {
				t.Errorf("%s: %s without the password: %v, want an error on bindPassword", c.name, name, e)
			}
		}
	}
	if got, err := s.Get(ctx, srv.ID); err != nil || got.URL != srv.URL || got.StartTLS || got.BindDN != srv.BindDN || got.BindPassword != "s3cret-Pa55" {
		t.Fatalf("a refused update changed the server: %+v %v", got, err)
	}

	// Turning StartTLS off sends the password in clear text: refused too.
	tlsIn := validInput()
	tlsIn.StartTLS = ptr(true)
	tlsSrv, err := s.Create(ctx, tlsIn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, tlsSrv.ID, ServerInput{StartTLS: ptr(false)}); err == nil {
		t.Error("StartTLS off without the password was saved")
	} else if e, ok := apperr.As(err); !ok || e.Field != "bindPassword" {
		t.Errorf("StartTLS off without the password: %v, want an error on bindPassword", err)
	}

	// What does not change where or as whom the password goes keeps it.
	for _, c := range []struct {
		name string
		in   ServerInput
	}{
		{"another base DN", ServerInput{URL: ptr("ldap://127.0.0.1:3389/ou=People,dc=example,dc=com")}},
		{"the scheme in capitals", ServerInput{URL: ptr("LDAP://127.0.0.1:3389/ou=People,dc=example,dc=com")}},
		{"the same bind DN written differently", ServerInput{BindDN: ptr("CN=svc, DC=example, DC=com")}},
		{"filter and scripts", ServerInput{SearchFilter: ptr("(uid=%u)"), OrgNameScript: ptr("function(e) { return 'x'; }"), FollowReferrals: ptr(true)}},
	} {
		if got, err := s.Update(ctx, srv.ID, c.in); err != nil || got.BindPassword != "s3cret-Pa55" {
			t.Errorf("%s: %v, password kept %v", c.name, err, got.BindPassword == "s3cret-Pa55")
		}
	}
	// Moved with the password typed again: saved.
	moved := ServerInput{URL: ptr("ldaps://attacker.example.net/dc=example,dc=com"), BindPassword: ptr("typed-again")}
	if got, err := s.Update(ctx, srv.ID, moved); err != nil || got.BindPassword != "typed-again" {
		t.Fatalf("another host with the password: %v", err)
	}
	// An anonymous server that moves drops the stored password: turning
	// bindAnonymously off later cannot send it where it was not entered for.
	if _, err := s.Update(ctx, srv.ID, ServerInput{BindAnonymously: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Draft(ctx, srv.ID, ServerInput{URL: ptr("ldap://elsewhere.example.net/dc=example,dc=com")}); err != nil || d.BindPassword != "" || d.HasBindPassword {
		t.Fatalf("draft of an anonymous server moved: %v, password kept %v", err, d.BindPassword != "")
	}
	got, err := s.Update(ctx, srv.ID, ServerInput{URL: ptr("ldap://elsewhere.example.net/dc=example,dc=com")})
	if err != nil || got.HasBindPassword || got.BindPassword != "" {
		t.Fatalf("anonymous server moved: %v, password kept %v", err, got.BindPassword != "")
	}
	if _, err := s.Update(ctx, srv.ID, ServerInput{BindAnonymously: ptr(false)}); err == nil {
		t.Fatal("turning bindAnonymously off after a move used the password entered for another host")
	} else if e, ok := apperr.As(err); !ok || e.Field != "bindPassword" {
		t.Fatalf("turning bindAnonymously off after a move: %v", err)
	}
}
