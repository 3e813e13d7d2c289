package legalhold_test

// Legal hold and the user lifecycle (docs/rules.md sections 1 and 2),
// against a real SQLite file, through the exported services only. This is
// an external test package: package authority (which owns the database)
// imports legalhold.

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	users *users.Service
	holds *legalhold.Service
	clock *authoritytest.Clock
	// Orgs: Legal holds archives 30 days, Legal/Paralegal inherits that,
	// and the root Default keeps the default 365.
	legal, paralegal, root orgs.Org
}

func start(t *testing.T) *env {
	t.Helper()
	e := authoritytest.Start(t)
	v := &env{t: t, ctx: context.Background(), users: e.App.Users, holds: e.App.Holds, clock: e.Clock}
	var err error
	if v.root, err = e.App.Orgs.ByName(v.ctx, orgs.RootName); err != nil {
		t.Fatal(err)
	}
	name, sub := "Legal", "Paralegal"
	if v.legal, err = e.App.Orgs.Create(v.ctx, orgs.Input{Name: &name, ArchiveHoldDays: orgs.Nullable[int]{Set: true, Value: 30}}); err != nil {
		t.Fatal(err)
	}
	if v.paralegal, err = e.App.Orgs.Create(v.ctx, orgs.Input{Name: &sub, ParentID: &v.legal.ID}); err != nil {
		t.Fatal(err)
	}
	if v.paralegal.ArchiveHoldDays != 30 || v.root.ArchiveHoldDays != 365 {
		t.Fatalf("hold days: Paralegal %d, Default %d", v.paralegal.ArchiveHoldDays, v.root.ArchiveHoldDays)
	}
	return v
}

// person creates a local user (with a password: a local org's users need
// one) in org, with two devices (one archive each).
func (v *env) person(name string, org orgs.Org) users.User {
	v.t.Helper()
	u, err := v.users.Create(v.ctx, users.NewUser{Username: name, Password: "pw-" + name, OrgID: org.ID, Email: name + "@example.com"})
	if err != nil {
		v.t.Fatalf("create %s: %v", name, err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := v.users.RegisterDevice(v.ctx, u.ID, name+"-device-"+strconv.Itoa(i), "laptop"); err != nil {
			v.t.Fatalf("device of %s: %v", name, err)
		}
	}
	return u
}

func (v *env) matter(name string) legalhold.Matter {
	v.t.Helper()
	m, err := v.holds.Create(v.ctx, name)
	if err != nil {
		v.t.Fatalf("create matter %s: %v", name, err)
	}
	return m
}

func (v *env) hold(m legalhold.Matter, us ...users.User) {
	v.t.Helper()
	for _, u := range us {
		if _, err := v.holds.AddCustodian(v.ctx, m.ID, u.ID); err != nil {
			v.t.Fatalf("add %s to matter %d: %v", u.Username, m.ID, err)
		}
	}
}

func (v *env) release(m legalhold.Matter, u users.User) {
	v.t.Helper()
	if _, err := v.holds.ReleaseCustodian(v.ctx, m.ID, u.ID); err != nil {
		v.t.Fatalf("release %s from matter %d: %v", u.Username, m.ID, err)
	}
}

func (v *env) closeMatter(m legalhold.Matter) legalhold.Matter {
	v.t.Helper()
	m, err := v.holds.Deactivate(v.ctx, m.ID)
	if err != nil {
		v.t.Fatalf("close matter %d: %v", m.ID, err)
	}
	return m
}

func (v *env) deactivate(u users.User, by users.Reason) users.User {
	v.t.Helper()
	got, err := v.users.Deactivate(v.ctx, u.ID, by)
	if err != nil {
		v.t.Fatalf("deactivate %s: %v", u.Username, err)
	}
	return got
}

func (v *env) get(u users.User) users.User {
	v.t.Helper()
	got, err := v.users.Get(v.ctx, u.ID)
	if err != nil {
		v.t.Fatalf("get %s: %v", u.Username, err)
	}
	return got
}

// want is a user's expected state: status, reason, whether on hold, and its
// devices' and archives' state. expires is the archives' coldStorageExpiresAt
// ("" for none).
type want struct {
	status  users.Status
	reason  users.Reason
	onHold  bool
	devices string // "active" or "deactivated"
	archive string // "normal", "cold" or "expired"
	expires string
}

// backingUp is a user whose devices back up as before: no deactivation.
func backingUp(status users.Status, reason users.Reason, onHold bool) want {
	return want{status: status, reason: reason, onHold: onHold, devices: "active", archive: "normal"}
}

// deactivated is a user deactivated by `by` at now with holdDays.
func deactivated(by users.Reason, now time.Time, holdDays int) want {
	return want{status: users.StatusDeactivated, reason: by, devices: "deactivated", archive: "cold",
		expires: now.UTC().Add(time.Duration(holdDays) * 24 * time.Hour).Format(time.RFC3339)}
}

func (v *env) check(step string, u users.User, w want) {
	v.t.Helper()
	got := v.get(u)
	if got.Status != w.status || got.StatusReason != w.reason || got.OnLegalHold != w.onHold {
		v.t.Errorf("%s: %s is %s (%q), on hold %v; want %s (%q), on hold %v",
			step, u.Username, got.Status, got.StatusReason, got.OnLegalHold, w.status, w.reason, w.onHold)
	}
	ds, err := v.users.Devices(v.ctx, u.ID)
	if err != nil {
		v.t.Fatalf("%s: devices of %s: %v", step, u.Username, err)
	}
	if len(ds) != 2 {
		v.t.Fatalf("%s: %s has %d devices, want 2", step, u.Username, len(ds))
	}
	for _, d := range ds {
		if d.Status != w.devices {
			v.t.Errorf("%s: %s's device %s is %s, want %s", step, u.Username, d.GUID, d.Status, w.devices)
		}
		if len(d.Archives) != 1 {
			v.t.Fatalf("%s: device %s has %d archives, want 1", step, d.GUID, len(d.Archives))
		}
		a := d.Archives[0]
		exp := ""
		if a.ColdStorageExpiresAt != nil {
			exp = *a.ColdStorageExpiresAt
		}
		if a.State != w.archive || exp != w.expires {
			v.t.Errorf("%s: %s's archive on %s is %s until %q, want %s until %q", step, u.Username, d.GUID, a.State, exp, w.archive, w.expires)
		}
	}
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Field != field {
		t.Errorf("%s: %v, want kind %d with field %q", what, err, kind, field)
	}
}

// Matters and custodians: who can be added, to what, and what on hold means.
func TestMattersAndCustodians(t *testing.T) {
	v := start(t)
	ann := v.person("ann", v.legal)
	bob := v.person("bob", v.paralegal)

	m := v.matter("  Acme v. Example  ")
	if m.Name != "Acme v. Example" || !m.Active || !reflect.DeepEqual(m.Custodians, []int64{}) {
		t.Fatalf("new matter: %+v", m)
	}
	if _, err := v.holds.Create(v.ctx, "   "); err == nil {
		t.Error("a matter with a blank name was created")
	} else {
		wantKind(t, "blank name", err, apperr.KindInvalid, "name")
	}

	got, err := v.holds.AddCustodian(v.ctx, m.ID, ann.ID)
	if err != nil || !reflect.DeepEqual(got.Custodians, []int64{ann.ID}) {
		t.Fatalf("add ann: %+v, %v", got, err)
	}
	// Adding the same custodian again changes nothing.
	if got, err = v.holds.AddCustodian(v.ctx, m.ID, ann.ID); err != nil || !reflect.DeepEqual(got.Custodians, []int64{ann.ID}) {
		t.Errorf("add ann again: %+v, %v", got, err)
	}
	_, err = v.holds.AddCustodian(v.ctx, m.ID, 9999)
	wantKind(t, "unknown user", err, apperr.KindInvalid, "userId")
	_, err = v.holds.AddCustodian(v.ctx, 9999, ann.ID)
	wantKind(t, "unknown matter", err, apperr.KindNotFound, "")
	if g, _ := v.holds.Get(v.ctx, m.ID); !reflect.DeepEqual(g.Custodians, []int64{ann.ID}) {
		t.Errorf("refused adds changed the custodians: %v", g.Custodians)
	}

	// On hold while a custodian of an active matter; being on hold changes
	// nothing else.
	v.check("ann on hold", ann, backingUp(users.StatusActive, users.ReasonNone, true))
	v.check("bob not on hold", bob, backingUp(users.StatusActive, users.ReasonNone, false))

	// A closed matter takes no custodians and holds nobody.
	closed := v.closeMatter(m)
	if closed.Active || !reflect.DeepEqual(closed.Custodians, []int64{ann.ID}) {
		t.Errorf("closed matter: %+v (custodians stay on record)", closed)
	}
	_, err = v.holds.AddCustodian(v.ctx, m.ID, bob.ID)
	wantKind(t, "add to a closed matter", err, apperr.KindConflict, "id")
	v.check("ann after the close", ann, backingUp(users.StatusActive, users.ReasonNone, false))
	v.check("bob not added", bob, backingUp(users.StatusActive, users.ReasonNone, false))

	// A custodian of a closed matter only is deactivated at once.
	v.deactivate(ann, users.ReasonAdmin)
	v.check("ann deactivated after the close", ann, deactivated(users.ReasonAdmin, v.clock.Now(), 30))

	// List: newest first, with custodians.
	m2 := v.matter("Second")
	v.hold(m2, bob, ann)
	list, err := v.holds.List(v.ctx)
	if err != nil || len(list) != 2 || list[0].ID != m2.ID || list[1].ID != m.ID ||
		!reflect.DeepEqual(list[0].Custodians, []int64{ann.ID, bob.ID}) {
		t.Errorf("list: %+v, %v", list, err)
	}
}

// A custodian asked to be deactivated, by an administrator or by a sync, is
// blocked (legal-hold-pending) instead: devices keep backing up, archives
// stay normal. Asking again changes nothing.
func TestDeactivatingACustodianBlocksInstead(t *testing.T) {
	for _, by := range []users.Reason{users.ReasonAdmin, users.ReasonDirsync} {
		t.Run(string(by), func(t *testing.T) {
			v := start(t)
			ann := v.person("ann", v.legal)
			v.hold(v.matter("Acme"), ann)

			got := v.deactivate(ann, by)
			if got.Status != users.StatusBlocked || got.StatusReason != users.ReasonLegalHold {
				t.Errorf("Deactivate returned %s (%q), want blocked (legal-hold-pending)", got.Status, got.StatusReason)
			}
			v.check("deactivated on hold", ann, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))
			v.clock.Advance(24 * time.Hour)
			v.deactivate(ann, by)
			v.check("deactivated again", ann, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))
		})
	}
}

// When the last active hold on a legal-hold-pending user ends (release from
// the matter, or the matter closed), the user is deactivated at once, with
// the reason of whoever asked, and its archives go to cold storage until the
// time of the release plus its org's archiveHoldDays. Releasing one hold
// while another is active changes nothing.
func TestReleasingTheLastHoldDeactivates(t *testing.T) {
	cases := []struct {
		name    string
		by      users.Reason
		org     func(*env) orgs.Org
		days    int
		endLast func(v *env, last legalhold.Matter, u users.User)
	}{
		{"admin, released, own hold days", users.ReasonAdmin, func(v *env) orgs.Org { return v.legal }, 30,
			func(v *env, m legalhold.Matter, u users.User) { v.release(m, u) }},
		{"dirsync, released, inherited hold days", users.ReasonDirsync, func(v *env) orgs.Org { return v.paralegal }, 30,
			func(v *env, m legalhold.Matter, u users.User) { v.release(m, u) }},
		{"admin, matter closed, default hold days", users.ReasonAdmin, func(v *env) orgs.Org { return v.root }, 365,
			func(v *env, m legalhold.Matter, _ users.User) { v.closeMatter(m) }},
		{"dirsync, matter closed, own hold days", users.ReasonDirsync, func(v *env) orgs.Org { return v.legal }, 30,
			func(v *env, m legalhold.Matter, _ users.User) { v.closeMatter(m) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := start(t)
			ann := v.person("ann", tc.org(v))
			first, last := v.matter("First"), v.matter("Last")
			v.hold(first, ann)
			v.hold(last, ann)

			v.deactivate(ann, tc.by)
			v.check("deactivated on two holds", ann, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))

			v.clock.Advance(3 * 24 * time.Hour)
			v.release(first, ann)
			v.check("one of two holds released", ann, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))

			// The expiry counts from the release, not from the request.
			v.clock.Advance(5*24*time.Hour + 90*time.Minute)
			releasedAt := v.clock.Now()
			tc.endLast(v, last, ann)
			v.check("last hold ended", ann, deactivated(tc.by, releasedAt, tc.days))

			// Later clock ticks do not move the date; reactivating brings
			// everything back.
			v.clock.Advance(time.Hour)
			v.check("an hour later", ann, deactivated(tc.by, releasedAt, tc.days))
			if _, err := v.users.Reactivate(v.ctx, ann.ID); err != nil {
				t.Fatal(err)
			}
			v.check("reactivated", ann, backingUp(users.StatusActive, users.ReasonNone, false))
		})
	}
}

// Closing a matter releases every custodian at once, each by its own state:
// the pending are deactivated, the active stay active, and those still held
// by another matter stay blocked.
func TestClosingAMatterReleasesEveryCustodian(t *testing.T) {
	v := start(t)
	pending := v.person("pending", v.legal)         // deactivated while on hold
	pendingRoot := v.person("pending-root", v.root) // the same, another org
	active := v.person("active", v.paralegal)       // never asked to be deactivated
	heldElsewhere := v.person("held-elsewhere", v.legal)

	m, other := v.matter("Acme"), v.matter("Other")
	v.hold(m, pending, pendingRoot, active, heldElsewhere)
	v.hold(other, heldElsewhere)
	v.deactivate(pending, users.ReasonAdmin)
	v.deactivate(pendingRoot, users.ReasonDirsync)
	v.deactivate(heldElsewhere, users.ReasonDirsync)

	v.clock.Advance(48 * time.Hour)
	now := v.clock.Now()
	closed := v.closeMatter(m)
	if closed.Active || len(closed.Custodians) != 4 {
		t.Errorf("closed matter: %+v", closed)
	}
	v.check("pending", pending, deactivated(users.ReasonAdmin, now, 30))
	v.check("pending-root", pendingRoot, deactivated(users.ReasonDirsync, now, 365))
	v.check("active", active, backingUp(users.StatusActive, users.ReasonNone, false))
	v.check("held elsewhere", heldElsewhere, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))

	// Closing it again changes nothing.
	v.clock.Advance(time.Hour)
	v.closeMatter(m)
	v.check("pending after a second close", pending, deactivated(users.ReasonAdmin, now, 30))

	// The other matter's release then deactivates the last one.
	v.release(other, heldElsewhere)
	v.check("held elsewhere, released", heldElsewhere, deactivated(users.ReasonDirsync, v.clock.Now(), 30))
}

// Releasing someone who is not a custodian of that matter is "not found",
// and changes nobody.
func TestReleasingANonCustodianIsNotFound(t *testing.T) {
	v := start(t)
	ann := v.person("ann", v.legal)
	bob := v.person("bob", v.legal)
	m, other := v.matter("Acme"), v.matter("Other")
	v.hold(m, ann)
	v.hold(other, bob)
	v.deactivate(ann, users.ReasonAdmin)
	v.deactivate(bob, users.ReasonAdmin)

	cases := []struct {
		name         string
		matter, user int64
	}{
		{"a custodian of another matter", m.ID, bob.ID},
		{"an unknown user", m.ID, 9999},
		{"an unknown matter", 9999, ann.ID},
	}
	for _, c := range cases {
		_, err := v.holds.ReleaseCustodian(v.ctx, c.matter, c.user)
		wantKind(t, c.name, err, apperr.KindNotFound, "")
	}
	// Released once, the second release is not found.
	v.release(m, ann)
	_, err := v.holds.ReleaseCustodian(v.ctx, m.ID, ann.ID)
	wantKind(t, "released twice", err, apperr.KindNotFound, "")

	v.check("ann, released once", ann, deactivated(users.ReasonAdmin, v.clock.Now(), 30))
	v.check("bob, untouched", bob, backingUp(users.StatusBlocked, users.ReasonLegalHold, true))
	if g, _ := v.holds.Get(v.ctx, other.ID); !reflect.DeepEqual(g.Custodians, []int64{bob.ID}) {
		t.Errorf("the other matter's custodians: %v", g.Custodians)
	}
}

// An administrator who unblocks (or reactivates) a legal-hold-pending user
// takes back the deactivation: the release then leaves the user active.
func TestUnblockedWhileOnHoldStaysActiveAfterRelease(t *testing.T) {
	cases := []struct {
		name  string
		undo  func(*users.Service, context.Context, int64) (users.User, error)
		close bool
	}{
		{"unblocked, then released", (*users.Service).Unblock, false},
		{"unblocked, then matter closed", (*users.Service).Unblock, true},
		{"reactivated, then released", (*users.Service).Reactivate, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := start(t)
			ann := v.person("ann", v.legal)
			m := v.matter("Acme")
			v.hold(m, ann)
			v.deactivate(ann, users.ReasonAdmin)
			if _, err := tc.undo(v.users, v.ctx, ann.ID); err != nil {
				t.Fatal(err)
			}
			v.check("undone while on hold", ann, backingUp(users.StatusActive, users.ReasonNone, true))
			if tc.close {
				v.closeMatter(m)
			} else {
				v.release(m, ann)
			}
			v.check("after the release", ann, backingUp(users.StatusActive, users.ReasonNone, false))
		})
	}
}

// An administrator's block on a custodian is the administrator's: a release
// never turns it into a deactivation, whether the block came before or after
// a deactivation request.
func TestAdministratorsBlockSurvivesRelease(t *testing.T) {
	cases := []struct {
		name  string
		setup func(v *env, u users.User)
	}{
		{"blocked while on hold", func(v *env, u users.User) {
			v.block(u)
		}},
		{"deactivated on hold, then blocked", func(v *env, u users.User) {
			v.deactivate(u, users.ReasonDirsync)
			v.block(u)
		}},
		{"blocked, then deactivated on hold", func(v *env, u users.User) {
			v.block(u)
			if got := v.deactivate(u, users.ReasonAdmin); got.Status != users.StatusBlocked || got.StatusReason != users.ReasonAdmin {
				v.t.Errorf("deactivating an administrator-blocked custodian: %s (%q), want the block kept", got.Status, got.StatusReason)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := start(t)
			ann := v.person("ann", v.legal)
			m := v.matter("Acme")
			v.hold(m, ann)
			tc.setup(v, ann)
			v.check("before the release", ann, backingUp(users.StatusBlocked, users.ReasonAdmin, true))
			v.release(m, ann)
			v.check("after the release", ann, backingUp(users.StatusBlocked, users.ReasonAdmin, false))
		})
	}
}

func (v *env) block(u users.User) {
	v.t.Helper()
	if got, err := v.users.Block(v.ctx, u.ID); err != nil || got.Status != users.StatusBlocked || got.StatusReason != users.ReasonAdmin {
		v.t.Fatalf("block %s: %+v, %v", u.Username, got, err)
	}
}

// A custodian who was deactivated before the hold stays deactivated, and its
// archives keep their original date: a release does not deactivate twice.
func TestDeactivatedBeforeTheHoldIsLeftAlone(t *testing.T) {
	v := start(t)
	ann := v.person("ann", v.legal)
	v.deactivate(ann, users.ReasonAdmin)
	orig := deactivated(users.ReasonAdmin, v.clock.Now(), 30)

	m := v.matter("Acme")
	v.hold(m, ann)
	v.check("deactivated, then on hold", ann, want{orig.status, orig.reason, true, orig.devices, orig.archive, orig.expires})
	v.clock.Advance(10 * 24 * time.Hour)
	v.deactivate(ann, users.ReasonDirsync)
	v.release(m, ann)
	v.check("after the release", ann, orig)
}
