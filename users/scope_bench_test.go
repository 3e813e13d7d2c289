package users_test

import (
	"context"
	"io"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// benchScopeUsers is how many users the scope benchmarks read.
const benchScopeUsers = 100000

// scopeBench opens an app with an org of benchScopeUsers users (written by
// SQL, with a DN, a stable id and a profile each) and returns it, the org's
// id and the users' username keys in id order.
func scopeBench(b *testing.B) (*authority.App, []int64, []string) {
	b.Helper()
	ctx := context.Background()
	app, err := authority.Open(ctx, authority.Config{DataDir: b.TempDir(), AdminPassword: authoritytest.AdminPassword, Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	name := "Staff"
	org, err := app.Orgs.Create(ctx, orgs.Input{Name: &name})
	if err != nil {
		b.Fatal(err)
	}
	_, err = app.DB.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO users(username, username_key, email, first_name, last_name, org_id, created_at, updated_at,
			ldap_dn, ldap_uid, title, department, city, country)
		SELECT 'user' || i, 'user' || i, 'user' || i || '@example.com', 'First' || i, 'Last' || i, ?,
			'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'cn=User ' || i || ',ou=Staff,dc=example,dc=com',
			lower(hex(randomblob(16))), 'Engineer', 'Support', 'Lyon', 'FR' FROM n`, benchScopeUsers, org.ID)
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	if err := app.DB.SelectContext(ctx, &keys, `SELECT username_key FROM users WHERE org_id = ? ORDER BY id`, org.ID); err != nil {
		b.Fatal(err)
	}
	return app, []int64{org.ID}, keys
}

// BenchmarkScopeByPages reads every user of the scope a page of 500
// usernames at a time, as a full sync does: through the username index
// alone, and by id through a ScopeIndex read once (its read included).
func BenchmarkScopeByPages(b *testing.B) {
	app, orgIDs, keys := scopeBench(b)
	ctx := context.Background()
	flags, err := app.Users.ReadScopeFlags(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, withIndex := range []bool{false, true} {
		name := "by-username"
		if withIndex {
			name = "scope-index"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var index *users.ScopeIndex
				if withIndex {
					if index, err = app.Users.ReadScopeIndex(ctx, orgIDs); err != nil {
						b.Fatal(err)
					}
				}
				n := 0
				for i := 0; i < len(keys); i += 500 {
					err := app.Users.InScopeByUsername(ctx, orgIDs, flags, index, keys[i:min(len(keys), i+500)], func(users.ScopeUser) { n++ })
					if err != nil {
						b.Fatal(err)
					}
				}
				if n != len(keys) {
					b.Fatalf("%d users read, want %d", n, len(keys))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/user")
		})
	}
}

// BenchmarkCountInScope counts the users of the scope, as every run does.
func BenchmarkCountInScope(b *testing.B) {
	app, orgIDs, keys := scopeBench(b)
	ctx := context.Background()
	for b.Loop() {
		counts, err := app.Users.CountInScope(ctx, orgIDs)
		if err != nil || counts[orgIDs[0]] != len(keys) {
			b.Fatal(counts, err)
		}
	}
}
