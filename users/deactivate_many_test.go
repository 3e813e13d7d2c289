package users_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// manyWorld makes the same users in w: every lifecycle state a deactivation
// meets, two orgs with different archive hold days, tokens, and two
// administrators. It returns the ids to deactivate, in the order given.
func manyWorld(t *testing.T, w *world) []int64 {
	t.Helper()
	name := "Branch"
	branch, err := w.app.Orgs.Create(w.ctx, orgs.Input{Name: &name, ArchiveHoldDays: orgs.Nullable[int]{Set: true, Value: 7}})
	if err != nil {
		t.Fatal(err)
	}
	ann := w.user("ann") // active: deactivated
	bob := w.user("bob") // on hold: blocked instead
	w.hold(bob)
	cat := w.user("cat") // blocked by an administrator
	w.ok(w.app.Users.Block(w.ctx, cat))
	dan := w.user("dan") // deactivated already
	w.ok(w.app.Users.Deactivate(w.ctx, dan, users.ReasonAdmin))
	eve := w.user("eve") // with a token
	if _, err := w.app.Users.IssueToken(w.ctx, eve); err != nil {
		t.Fatal(err)
	}
	gus := w.user("gus") // in the other org
	w.ok(w.app.Users.Move(w.ctx, gus, branch.ID))
	fay := w.user("fay") // the other administrator
	w.ok(w.app.Users.SetRoles(w.ctx, fay, []string{roles.Sysadmin}))
	admin, err := w.app.Users.ByUsername(w.ctx, users.BuiltinAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// Both administrators: one by one, the first goes, the second is the
	// last one left and stays. A user that does not exist, and one named
	// twice.
	return []int64{ann, bob, cat, dan, admin.ID, eve, gus, fay, 99999, ann}
}

// dump is what a deactivation writes, as text to compare.
func dump(t *testing.T, w *world) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id || ' ' || status || ' ' || status_reason || ' ' || pending_reason || ' ' || updated_at FROM users ORDER BY id`,
		`SELECT user_id || ' ' || guid || ' ' || status FROM devices ORDER BY guid`,
		`SELECT device_guid || ' ' || state || ' ' || coalesce(cold_storage_expires_at, '') FROM archives ORDER BY device_guid`,
		`SELECT user_id || ' token' FROM api_tokens ORDER BY user_id`,
	} {
		var rows []string
		if err := w.app.DB.SelectContext(w.ctx, &rows, q); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, strings.Join(rows, "\n"))
	}
	return b.String()
}

// DeactivateManyTx does what DeactivateTx does one user at a time, in
// the order of ids: the same transitions, the same refusal of the last
// administrator, and the same rows written.
func TestDeactivateManyIsDeactivateOneByOne(t *testing.T) {
	one, many := newWorld(t), newWorld(t)
	ids := manyWorld(t, one)
	if got := manyWorld(t, many); !slices.Equal(got, ids) {
		t.Fatalf("the two worlds differ: %v and %v", ids, got)
	}
	want := map[int64]users.Transition{}
	wantRefused := map[int64]bool{}
	err := sqltx.Run(one.ctx, one.app.DB, func(tx *sqlx.Tx) error {
		for _, id := range ids {
			if _, ok := want[id]; ok || wantRefused[id] {
				continue
			}
			t, err := one.app.Users.DeactivateTx(one.ctx, tx, id, users.ReasonDirsync)
			switch {
			case apperr.Is(err, apperr.KindConflict):
				wantRefused[id] = true
			case apperr.Is(err, apperr.KindNotFound):
			case err != nil:
				return err
			default:
				want[id] = t
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[int64]users.Transition
	var refused map[int64]error
	err = sqltx.Run(many.ctx, many.app.DB, func(tx *sqlx.Tx) (err error) {
		got, refused, err = many.app.Users.DeactivateManyTx(many.ctx, tx, ids, users.ReasonDirsync)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("transitions:\n got %v\nwant %v", got, want)
	}
	if len(refused) != len(wantRefused) || len(refused) != 1 {
		t.Errorf("refused %v, want %v (the last administrator)", refused, wantRefused)
	}
	for id, err := range refused {
		if !wantRefused[id] || !apperr.Is(err, apperr.KindConflict) {
			t.Errorf("refused %d: %v", id, err)
		}
	}
	changed := 0
	for _, tr := range got {
		if tr.Changed() {
			changed++
		}
	}
	if changed < 5 {
		t.Errorf("only %d users changed: the fixture does not test much", changed)
	}
	if a, b := dump(t, one), dump(t, many); a != b {
		t.Errorf("rows written differ:\none by one:\n%s\nset-wide:\n%s", a, b)
	}
}
