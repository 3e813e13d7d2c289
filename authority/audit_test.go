package authority_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/internal/audit"
)

// A password reset from the command line is an administrator's change too:
// recorded with the command line as its actor, the password only "(changed)".
func TestResetAdminPasswordIsAudited(t *testing.T) {
	dir := t.TempDir()
	app, err := authority.Open(context.Background(), authority.Config{DataDir: dir, AdminPassword: "first-admin-pw-1", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	pw, err := app.ResetAdminPassword(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	p, err := app.Audit.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || p.Entries[0].Action != audit.UserPassword || p.Entries[0].Actor != authority.CommandLineActor ||
		p.Entries[0].Target != "user:1/admin" || len(p.Entries[0].Changes) != 1 || !p.Entries[0].Changes[0].Secret {
		t.Fatalf("entries: %+v", p.Entries)
	}
	log := readFile(t, filepath.Join(dir, "logs", "authority.log"))
	if !strings.Contains(log, "AUDIT:: user.password by:(command line) target:user:1/admin changes: password: (changed)") || strings.Contains(log, pw) {
		t.Fatalf("log:\n%s", log)
	}
}
