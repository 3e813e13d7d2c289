package users_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/users"
)

// The archive updates of deactivation and reactivation must drive from the
// user's devices, not scan every archive in a state (which made a sync of
// 1,000 deactivations among 20,000 users take seconds).
func TestArchiveUpdatesUseTheDeviceIndex(t *testing.T) {
	db, err := authority.OpenDB(context.Background(), filepath.Join(t.TempDir(), authority.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Statistics like those PRAGMA optimize leaves behind on a big database.
	if _, err := db.Exec(`ANALYZE; INSERT OR REPLACE INTO sqlite_stat1(tbl, idx, stat) VALUES
		('archives', 'archives_cold', '100000 50000 2'), ('archives', 'archives_device', '100000 1'), ('devices', 'devices_user', '100000 1'); ANALYZE sqlite_schema;`); err != nil {
		t.Fatal(err)
	}
	for _, q := range users.ArchiveSQL {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = i + 1
		}
		rows, err := db.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, " | ")
		if strings.Contains(joined, "archives_cold") || !strings.Contains(joined, "archives_device") {
			t.Errorf("plan for %q: %s", q, joined)
		}
	}
}
