package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/users"
)

// `authority admin reset-password` recovers a lost administrator password
// on the data directory of a server that is running, signs the old sessions
// out, and refuses users who are not administrators.
func TestAdminResetPassword(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	running, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "forgotten-password", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	admin, err := running.Users.ByUsername(ctx, users.BuiltinAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := running.Users.IssueToken(ctx, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := running.Users.Create(ctx, users.NewUser{Username: "pat", Password: "a-long-password", OrgID: admin.OrgID}); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if err := run([]string{"admin", "reset-password", "admin", "--data", dir}, &out, &errb); err != nil {
		t.Fatalf("reset-password: %v\n%s", err, errb.String())
	}
	m := regexp.MustCompile(`\n    (\S+)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no password in the output:\n%s", out.String())
	}
	u, err := running.Users.ByUsername(ctx, users.BuiltinAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if !users.CheckPassword(u, m[1]) || users.CheckPassword(u, "forgotten-password") {
		t.Error("the printed password does not sign in, or the old one still does")
	}
	if _, err := running.Users.UserForToken(ctx, tok); err == nil {
		t.Error("the administrator's old token still works")
	}

	for _, args := range [][]string{{"admin", "reset-password", "pat", "--data", dir}, {"admin", "reset-password", "nobody", "--data", dir}} {
		out.Reset()
		if err := run(args, &out, io.Discard); err == nil {
			t.Errorf("%v: no error; printed %q", args, out.String())
		}
	}
	for _, args := range [][]string{{"admin"}, {"admin", "reset-password"}, {"admin", "reset-password", "a", "b"}} {
		var u usageError
		if err := run(args, io.Discard, io.Discard); err == nil || !asUsage(err, &u) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func asUsage(err error, u *usageError) bool {
	v, ok := err.(usageError)
	*u = v
	return ok
}
