package authority_test

import (
	"context"
	"io"
	"testing"

	"github.com/authority-server/authority/authority"
)

// `serve --demo` starts again on the same data directory: its directory has
// a new port at each start, and the demo server's address is updated with
// its bind password (a stored password never follows a server alone).
func TestDemoRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for start := 1; start <= 2; start++ {
		app, err := authority.Open(ctx, authority.Config{DataDir: dir, Demo: true, AdminPassword: "demo-admin-pw", Stdout: io.Discard})
		if err != nil {
			t.Fatalf("demo start %d: %v", start, err)
		}
		list, err := app.LDAP.List(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("start %d: servers %v, %v", start, list, err)
		}
		srv, err := app.LDAP.Get(ctx, list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		app.Close()
		if !srv.HasBindPassword {
			t.Errorf("start %d: the demo server has no bind password", start)
		}
	}
}
