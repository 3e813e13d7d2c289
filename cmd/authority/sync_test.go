package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

func TestSyncCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	app, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "admin-pw-for-test", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	p := func(s string) *string { return &s }
	srv, err := app.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("glauth"), URL: p(g.URL), BindDN: p(g.BindDN), BindPassword: p(g.BindPassword),
		SearchFilter: p("(&(objectClass=posixAccount)(uid=%u))")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := app.Orgs.Create(ctx, orgs.Input{Name: p("Corp"), AuthMethod: p("ldap"), LDAPServerIDs: &[]int64{srv.ID}})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		for i := range 12 {
			if _, err := app.Users.CreateTx(ctx, tx, users.NewUser{Username: fmt.Sprintf("gone%d", i), OrgID: o.ID}); err != nil {
				return err
			}
		}
		_, err := app.Users.CreateTx(ctx, tx, users.NewUser{Username: "alice", OrgID: o.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	app.Close()

	codes := []int{}
	exit = func(code int) { codes = append(codes, code) }
	t.Cleanup(func() { exit = os.Exit })
	sync := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(append([]string{"sync", "--data", dir}, args...), &out, &errb)
		return out.String() + errb.String(), err
	}

	out, err := sync("--simulate")
	if err == nil || len(codes) != 1 || codes[0] != 3 || !strings.Contains(out, "valve") || !strings.Contains(out, "simulated") {
		t.Errorf("simulate with the valve: %v, exit %v\n%s", err, codes, out)
	}
	out, err = sync("--override-valve")
	if err != nil || len(codes) != 1 || !strings.Contains(out, "deactivated:12") || !strings.Contains(out, ": ok") {
		t.Errorf("override: %v, exit %v\n%s", err, codes, out)
	}
	g.Stop()
	out, err = sync()
	if err == nil || len(codes) != 1 || !strings.Contains(out, "failed") {
		t.Errorf("directory down: %v, exit %v\n%s", err, codes, out)
	}
	if _, err := sync("extra"); err == nil {
		t.Error("an argument was accepted")
	}
}
