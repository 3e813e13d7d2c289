package users_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// world is an app on a real SQLite file with an org whose archives stay in
// cold storage for 30 days.
type world struct {
	t     *testing.T
	ctx   context.Context
	app   *authority.App
	clock *authoritytest.Clock
	org   orgs.Org
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := authoritytest.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	app, err := authority.Open(context.Background(), authority.Config{DataDir: t.TempDir(), AdminPassword: authoritytest.AdminPassword, Now: clock.Now, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	name := "Staff"
	org, err := app.Orgs.Create(context.Background(), orgs.Input{Name: &name, ArchiveHoldDays: orgs.Nullable[int]{Set: true, Value: 30}})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: context.Background(), app: app, clock: clock, org: org}
}

// user makes a local user with one device (and so one archive).
func (w *world) user(name string) int64 {
	w.t.Helper()
	u, err := w.app.Users.Create(w.ctx, users.NewUser{Username: name, Password: "a-long-password", OrgID: w.org.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.app.Users.RegisterDevice(w.ctx, u.ID, name+"-laptop", ""); err != nil {
		w.t.Fatal(err)
	}
	return u.ID
}

// expect checks a user's status and reason, its device's status, and its
// archive's state and expiry ("" for none).
func (w *world) expect(step string, id int64, st users.Status, reason users.Reason, device, archive, expires string) {
	w.t.Helper()
	u, err := w.app.Users.Get(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	if u.Status != st || u.StatusReason != reason {
		w.t.Errorf("%s: user %s (%s), want %s (%s)", step, u.Status, u.StatusReason, st, reason)
	}
	ds, err := w.app.Users.Devices(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(ds) != 1 || len(ds[0].Archives) != 1 {
		w.t.Fatalf("%s: devices %+v", step, ds)
	}
	a := ds[0].Archives[0]
	got := ""
	if a.ColdStorageExpiresAt != nil {
		got = *a.ColdStorageExpiresAt
	}
	if ds[0].Status != device || a.State != archive || got != expires {
		w.t.Errorf("%s: device %s, archive %s until %q; want %s, %s until %q", step, ds[0].Status, a.State, got, device, archive, expires)
	}
}

func (w *world) hold(ids ...int64) int64 {
	w.t.Helper()
	m, err := w.app.Holds.Create(w.ctx, "Matter")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := w.app.Holds.AddCustodian(w.ctx, m.ID, id); err != nil {
			w.t.Fatal(err)
		}
	}
	return m.ID
}

// ok fails the test on err and returns the user.
func (w *world) ok(u users.User, err error) users.User {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// okHold fails the test on err.
func (w *world) okHold(_ legalhold.Matter, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// Deactivation, reactivation and expiry, with what they do to devices and
// archives.
func TestDeactivateReactivate(t *testing.T) {
	w := newWorld(t)
	id := w.user("ann")
	w.expect("new", id, users.StatusActive, "", "active", "normal", "")

	w.ok(w.app.Users.Deactivate(w.ctx, id, users.ReasonAdmin))
	w.expect("deactivated", id, users.StatusDeactivated, users.ReasonAdmin, "deactivated", "cold", "2026-04-01T10:00:00Z")

	// Deactivating again changes nothing, not even the expiry.
	w.clock.Advance(24 * time.Hour)
	w.ok(w.app.Users.Deactivate(w.ctx, id, users.ReasonDirsync))
	w.expect("deactivated twice", id, users.StatusDeactivated, users.ReasonAdmin, "deactivated", "cold", "2026-04-01T10:00:00Z")

	w.ok(w.app.Users.Reactivate(w.ctx, id))
	w.expect("reactivated", id, users.StatusActive, "", "active", "normal", "")

	// Past the expiry, reactivation leaves the archive expired.
	w.ok(w.app.Users.Deactivate(w.ctx, id, users.ReasonDirsync))
	w.clock.Advance(31 * 24 * time.Hour)
	w.ok(w.app.Users.Reactivate(w.ctx, id))
	w.expect("reactivated after expiry", id, users.StatusActive, "", "active", "expired", "2026-04-02T10:00:00Z")
}

// Block and unblock by an administrator touch neither devices nor archives;
// a deactivated user cannot be blocked or unblocked, and the refused change
// writes nothing.
func TestBlockUnblock(t *testing.T) {
	w := newWorld(t)
	id := w.user("ben")
	w.ok(w.app.Users.Block(w.ctx, id))
	w.expect("blocked", id, users.StatusBlocked, users.ReasonAdmin, "active", "normal", "")
	w.ok(w.app.Users.Unblock(w.ctx, id))
	w.expect("unblocked", id, users.StatusActive, "", "active", "normal", "")

	// An administrator's block, not on hold, gives way to a deactivation.
	w.ok(w.app.Users.Block(w.ctx, id))
	w.ok(w.app.Users.Deactivate(w.ctx, id, users.ReasonDirsync))
	w.expect("blocked, then deactivated", id, users.StatusDeactivated, users.ReasonDirsync, "deactivated", "cold", "2026-04-01T10:00:00Z")

	for name, fn := range map[string]func(context.Context, int64) (users.User, error){"block": w.app.Users.Block, "unblock": w.app.Users.Unblock} {
		if _, err := fn(w.ctx, id); !apperr.Is(err, apperr.KindConflict) {
			t.Errorf("%s a deactivated user: %v, want a conflict", name, err)
		}
		w.expect(name+" refused", id, users.StatusDeactivated, users.ReasonDirsync, "deactivated", "cold", "2026-04-01T10:00:00Z")
	}
	if _, err := w.app.Users.Block(w.ctx, 9999); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("block an unknown user: %v", err)
	}
}

// Legal hold wins over deactivation; the release of the last hold
// deactivates at once, for whoever asked; an administrator's block or unblock
// during the hold is respected.
func TestLegalHoldLifecycle(t *testing.T) {
	w := newWorld(t)
	cat, dan, eve := w.user("cat"), w.user("dan"), w.user("eve")
	first := w.hold(cat, dan, eve)
	second := w.hold(cat)

	// Deactivation while on hold blocks instead; devices and archives stay.
	for _, id := range []int64{cat, dan} {
		w.ok(w.app.Users.Deactivate(w.ctx, id, users.ReasonDirsync))
		w.expect("deactivated on hold", id, users.StatusBlocked, users.ReasonLegalHold, "active", "normal", "")
	}
	// An administrator's block on a held user survives a deactivation request.
	w.ok(w.app.Users.Block(w.ctx, eve))
	w.ok(w.app.Users.Deactivate(w.ctx, eve, users.ReasonDirsync))
	w.expect("admin block on hold", eve, users.StatusBlocked, users.ReasonAdmin, "active", "normal", "")
	// An administrator reactivates a held user by unblocking it.
	w.ok(w.app.Users.Unblock(w.ctx, dan))
	w.expect("unblocked on hold", dan, users.StatusActive, "", "active", "normal", "")

	// Releasing one of cat's two holds keeps the block.
	w.okHold(w.app.Holds.ReleaseCustodian(w.ctx, second, cat))
	w.expect("one hold left", cat, users.StatusBlocked, users.ReasonLegalHold, "active", "normal", "")

	// Closing the first matter releases everyone: cat is deactivated for
	// the sync that asked; dan (unblocked) and eve (an administrator's block)
	// stay as they are.
	w.clock.Advance(time.Hour)
	w.okHold(w.app.Holds.Deactivate(w.ctx, first))
	w.expect("released", cat, users.StatusDeactivated, users.ReasonDirsync, "deactivated", "cold", "2026-04-01T11:00:00Z")
	w.expect("released after unblock", dan, users.StatusActive, "", "active", "normal", "")
	w.expect("released with an admin block", eve, users.StatusBlocked, users.ReasonAdmin, "active", "normal", "")

	// Nobody is on hold any more: the admin-blocked user now deactivates.
	w.ok(w.app.Users.Deactivate(w.ctx, eve, users.ReasonAdmin))
	w.expect("deactivated after the holds", eve, users.StatusDeactivated, users.ReasonAdmin, "deactivated", "cold", "2026-04-01T11:00:00Z")
}

// CreateTx: unknown roles are refused, not dropped; roles keep their stored
// spelling; no roles means the org's defaults; a local org needs a password.
func TestCreateRolesAndPassword(t *testing.T) {
	w := newWorld(t)
	u := w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "fay", Password: "a-long-password", OrgID: w.org.ID, Roles: []string{"org admin", "Org Admin", "desktop user"}}))
	if !slices.Equal(u.Roles, []string{"Desktop User", "Org Admin"}) {
		t.Errorf("roles %q", u.Roles)
	}
	u = w.ok(w.app.Users.Create(w.ctx, users.NewUser{Username: "gus", Password: "a-long-password", OrgID: w.org.ID}))
	if !slices.Equal(u.Roles, orgs.DefaultRoles) {
		t.Errorf("default roles %q", u.Roles)
	}
	for _, c := range []struct {
		in    users.NewUser
		field string
	}{
		{users.NewUser{Username: "hal", Password: "a-long-password", OrgID: w.org.ID, Roles: []string{"Desktop User", "Nope"}}, "roles"},
		{users.NewUser{Username: "hal", OrgID: w.org.ID}, "password"},
		{users.NewUser{Username: "hal", Password: "a-long-password", OrgID: 9999}, "orgId"},
		{users.NewUser{Username: "FAY", Password: "a-long-password", OrgID: w.org.ID}, "username"},
	} {
		_, err := w.app.Users.Create(w.ctx, c.in)
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != c.field {
			t.Errorf("create %+v: %v, want invalid %s", c.in, err, c.field)
		}
	}
	if list, err := w.app.Users.List(w.ctx, users.Filter{Username: "hal"}); err != nil || len(list) != 0 {
		t.Errorf("a refused user was created: %+v", list)
	}
}
