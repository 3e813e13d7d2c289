package orgs_test

// The org tree's rules (docs/rules.md section 1), against a real SQLite file.
// This is an external test package: package authority (which owns the
// database and its migrations) imports orgs, so an internal test could not
// open a database without an import cycle.

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
)

// env is an authority server on a temp data directory; only its services
// are used here, never HTTP.
type env struct {
	t    *testing.T
	ctx  context.Context
	orgs *orgs.Service
	e    *authoritytest.Env
}

func start(t *testing.T) *env {
	t.Helper()
	e := authoritytest.Start(t)
	return &env{t: t, ctx: context.Background(), orgs: e.App.Orgs, e: e}
}

func ptr[T any](v T) *T { return &v }

func days(d int) orgs.Nullable[int] { return orgs.Nullable[int]{Set: true, Value: d} }

var inherit = orgs.Nullable[int]{Set: true, Null: true}

// root returns the root org Default.
func (v *env) root() orgs.Org {
	v.t.Helper()
	o, err := v.orgs.ByName(v.ctx, orgs.RootName)
	if err != nil {
		v.t.Fatalf("root: %v", err)
	}
	return o
}

func (v *env) create(in orgs.Input) orgs.Org {
	v.t.Helper()
	o, err := v.orgs.Create(v.ctx, in)
	if err != nil {
		v.t.Fatalf("create %v: %v", deref(in.Name), err)
	}
	return o
}

func (v *env) update(id int64, in orgs.Input) orgs.Org {
	v.t.Helper()
	o, err := v.orgs.Update(v.ctx, id, in)
	if err != nil {
		v.t.Fatalf("update org %d: %v", id, err)
	}
	return o
}

// server stores an LDAP server (nothing dials it) and returns its id.
func (v *env) server(name string) int64 {
	v.t.Helper()
	srv, err := v.e.App.LDAP.Create(v.ctx, ldapauth.ServerInput{
		Name: ptr(name), URL: ptr("ldap://127.0.0.1:1/dc=example,dc=com"),
		BindDN: ptr("cn=svc,dc=example,dc=com"), BindPassword: ptr("svc-password"),
		SearchFilter: ptr("(&(objectClass=person)(uid=%u))"),
	})
	if err != nil {
		v.t.Fatalf("create LDAP server %s: %v", name, err)
	}
	return srv.ID
}

// tree loads every org with inheritance resolved.
func (v *env) tree() *orgs.Tree {
	v.t.Helper()
	tr, err := v.orgs.Load(v.ctx)
	if err != nil {
		v.t.Fatalf("load: %v", err)
	}
	return tr
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// effective is what an org ends up with after inheritance.
type effective struct {
	method    string
	servers   []int64
	hold      int
	inherited bool
}

// checkEffective compares each org's effective settings with want, and
// checks that orgs.HoldDays, which the deactivation uses, and Service.Get,
// which reads only the org and its ancestors, agree with the Tree.
func (v *env) checkEffective(step string, want map[int64]effective) {
	v.t.Helper()
	tr := v.tree()
	for id, w := range want {
		o, ok := tr.Get(id)
		if !ok {
			v.t.Fatalf("%s: org %d missing from the tree", step, id)
		}
		got := effective{o.EffectiveAuthMethod, o.EffectiveLDAPServerIDs, o.ArchiveHoldDays, o.ArchiveHoldDaysInherited}
		if !reflect.DeepEqual(got, w) {
			v.t.Errorf("%s: org %d/%s: effective %+v, want %+v", step, id, o.Name, got, w)
		}
		if o.UsesLDAP() != (w.method == orgs.AuthLDAP) {
			v.t.Errorf("%s: org %d/%s: UsesLDAP %v with method %s", step, id, o.Name, o.UsesLDAP(), w.method)
		}
		d, err := orgs.HoldDays(v.ctx, v.e.App.DB, id)
		if err != nil || d != o.ArchiveHoldDays {
			v.t.Errorf("%s: org %d/%s: HoldDays = %d, %v; the Tree says %d", step, id, o.Name, d, err, o.ArchiveHoldDays)
		}
		if g, err := v.orgs.Get(v.ctx, id); err != nil || !reflect.DeepEqual(g, o) {
			v.t.Errorf("%s: org %d/%s: Get = %+v, %v; the Tree says %+v", step, id, o.Name, g, err, o)
		}
	}
}

// Own values override, "" (and an empty server list, and null hold days)
// inherits from the nearest ancestor, and changing an ancestor changes every
// descendant that inherits, and only those.
func TestInheritanceDownTheTree(t *testing.T) {
	v := start(t)
	root := v.root()
	s1, s2, s3 := v.server("ad-1"), v.server("ad-2"), v.server("ad-3")

	// Default (local, 365) → A (ldap, [s1], 30) → B (inherits all) → C (ldap, [s2], 7) → D (inherits all)
	a := v.create(orgs.Input{Name: ptr("A"), AuthMethod: ptr("ldap"), LDAPServerIDs: &[]int64{s1}, ArchiveHoldDays: days(30)})
	b := v.create(orgs.Input{Name: ptr("B"), ParentID: &a.ID})
	c := v.create(orgs.Input{Name: ptr("C"), ParentID: &b.ID, AuthMethod: ptr("ldap"), LDAPServerIDs: &[]int64{s2}, ArchiveHoldDays: days(7)})
	d := v.create(orgs.Input{Name: ptr("D"), ParentID: &c.ID, AuthMethod: ptr("")})
	if b.AuthMethod != "" || len(b.LDAPServerIDs) != 0 || d.AuthMethod != "" {
		t.Fatalf("own settings of inheriting orgs: B %+v, D %+v", b, d)
	}
	none := []int64{}
	v.checkEffective("initial", map[int64]effective{
		root.ID: {orgs.AuthLocal, none, 365, false},
		a.ID:    {orgs.AuthLDAP, []int64{s1}, 30, false},
		b.ID:    {orgs.AuthLDAP, []int64{s1}, 30, true},
		c.ID:    {orgs.AuthLDAP, []int64{s2}, 7, false},
		d.ID:    {orgs.AuthLDAP, []int64{s2}, 7, true},
	})

	// Changing A reaches B (which inherits) but not C and D (own values).
	v.update(a.ID, orgs.Input{LDAPServerIDs: &[]int64{s3, s1}, ArchiveHoldDays: days(90)})
	v.checkEffective("A changed", map[int64]effective{
		a.ID: {orgs.AuthLDAP, []int64{s3, s1}, 90, false},
		b.ID: {orgs.AuthLDAP, []int64{s3, s1}, 90, true},
		c.ID: {orgs.AuthLDAP, []int64{s2}, 7, false},
		d.ID: {orgs.AuthLDAP, []int64{s2}, 7, true},
	})

	// C gives up its own values: C and D now inherit A's through B.
	v.update(c.ID, orgs.Input{AuthMethod: ptr(""), LDAPServerIDs: &[]int64{}, ArchiveHoldDays: inherit})
	v.checkEffective("C inherits", map[int64]effective{
		c.ID: {orgs.AuthLDAP, []int64{s3, s1}, 90, true},
		d.ID: {orgs.AuthLDAP, []int64{s3, s1}, 90, true},
	})

	// A switches to local authentication: the whole branch follows. A keeps
	// its server list (unused while local), and so the branch inherits it.
	v.update(a.ID, orgs.Input{AuthMethod: ptr("local")})
	v.checkEffective("A local", map[int64]effective{
		a.ID: {orgs.AuthLocal, []int64{s3, s1}, 90, false},
		b.ID: {orgs.AuthLocal, []int64{s3, s1}, 90, true},
		c.ID: {orgs.AuthLocal, []int64{s3, s1}, 90, true},
		d.ID: {orgs.AuthLocal, []int64{s3, s1}, 90, true},
	})

	// A gives up its hold days: the branch falls back to the root's.
	v.update(a.ID, orgs.Input{ArchiveHoldDays: inherit})
	v.update(root.ID, orgs.Input{ArchiveHoldDays: days(400)})
	v.checkEffective("root's hold days", map[int64]effective{
		root.ID: {orgs.AuthLocal, none, 400, false},
		a.ID:    {orgs.AuthLocal, []int64{s3, s1}, 400, true},
		d.ID:    {orgs.AuthLocal, []int64{s3, s1}, 400, true},
	})

	// The root has nothing to inherit from: "" on the root means local, and
	// null hold days on the root means the default.
	v.update(root.ID, orgs.Input{AuthMethod: ptr(""), ArchiveHoldDays: inherit})
	v.checkEffective("root inherits nothing", map[int64]effective{
		root.ID: {orgs.AuthLocal, none, orgs.DefaultArchiveHoldDays, true},
		d.ID:    {orgs.AuthLocal, []int64{s3, s1}, orgs.DefaultArchiveHoldDays, true},
	})
	if o, _ := v.tree().Get(root.ID); o.AuthMethod != orgs.AuthLocal {
		t.Errorf("root's own auth method after setting \"\": %q, want local", o.AuthMethod)
	}

	// Moving D under the root makes it inherit from the root instead.
	v.update(a.ID, orgs.Input{ArchiveHoldDays: days(10)})
	v.update(d.ID, orgs.Input{ParentID: &root.ID})
	v.checkEffective("D moved", map[int64]effective{
		c.ID: {orgs.AuthLocal, []int64{s3, s1}, 10, true},
		d.ID: {orgs.AuthLocal, none, orgs.DefaultArchiveHoldDays, true},
	})

	// Service.Get and List give the same effective values as the Tree.
	tr := v.tree()
	for _, o := range tr.All() {
		got, err := v.orgs.Get(v.ctx, o.ID)
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("Get(%d) = %+v, %v; the Tree has %+v", o.ID, got, err, o)
		}
	}
	list, err := v.orgs.List(v.ctx)
	if err != nil || !reflect.DeepEqual(list, tr.All()) {
		t.Errorf("List = %+v, %v; the Tree has %+v", list, err, tr.All())
	}
	if _, err := orgs.HoldDays(v.ctx, v.e.App.DB, 9999); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("HoldDays of an unknown org: %v, want not found", err)
	}
}

// Org names are unique ignoring case, through every way of naming an org.
func TestNamesAreUniqueIgnoringCase(t *testing.T) {
	v := start(t)
	eng := v.create(orgs.Input{Name: ptr("Engineering")})
	ops := v.create(orgs.Input{Name: ptr("Operations")})

	refused := []struct {
		name string
		do   func() error
	}{
		{"create, lower case", func() error { _, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr("engineering")}); return err }},
		{"create, upper case", func() error { _, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr("ENGINEERING")}); return err }},
		{"create, surrounding spaces", func() error { _, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr("  Engineering ")}); return err }},
		{"create, the root's name", func() error { _, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr("DEFAULT")}); return err }},
		{"rename another org", func() error { _, err := v.orgs.Update(v.ctx, ops.ID, orgs.Input{Name: ptr("eNgInEeRiNg")}); return err }},
	}
	for _, c := range refused {
		before := v.tree().All()
		err := c.do()
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != "name" {
			t.Errorf("%s: %v, want invalid name", c.name, err)
		}
		if after := v.tree().All(); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: the tree changed:\nbefore %+v\nafter  %+v", c.name, before, after)
		}
	}

	// An org may change the case of its own name.
	if o := v.update(eng.ID, orgs.Input{Name: ptr("ENGINEERING")}); o.Name != "ENGINEERING" {
		t.Errorf("recased name: %q", o.Name)
	}
	// Lookups ignore case too.
	for _, n := range []string{"engineering", "Engineering", "ENGINEERING"} {
		if o, err := v.orgs.ByName(v.ctx, n); err != nil || o.ID != eng.ID {
			t.Errorf("ByName(%q) = %d, %v; want org %d", n, o.ID, err, eng.ID)
		}
		if o, ok := v.tree().ByName(n); !ok || o.ID != eng.ID {
			t.Errorf("Tree.ByName(%q) = %d, %v; want org %d", n, o.ID, ok, eng.ID)
		}
	}
	if _, err := v.orgs.ByName(v.ctx, "Engineer"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("ByName of a prefix: %v, want not found", err)
	}

	// SPEC section 1 says names are case-insensitive, with no ASCII-only
	// exception, and the two lookups must agree: Tree.ByName (dirsync's move)
	// folds Unicode case, Service.ByName (sign-in's org name script) asks SQL.
	t.Run("non-ASCII", func(t *testing.T) {
		for _, c := range []struct{ name, other string }{{"Ärzte", "ärzte"}, {"ΝΟΣΟΚΟΜΕΊΟΣ", "νοσοκομείος"}} {
			org := v.create(orgs.Input{Name: ptr(c.name)})
			if o, err := v.orgs.ByName(v.ctx, c.other); err != nil || o.ID != org.ID {
				t.Errorf("ByName(%q) = %d, %v; want the org %s (%d)", c.other, o.ID, err, c.name, org.ID)
			}
			if o, ok := v.tree().ByName(c.other); !ok || o.ID != org.ID {
				t.Errorf("Tree.ByName(%q) = %d, %v; want the org %s (%d)", c.other, o.ID, ok, c.name, org.ID)
			}
			_, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr(c.other)})
			if e, ok := apperr.As(err); !ok || e.Field != "name" {
				t.Errorf("a second org %q next to %q: %v, want invalid name", c.other, c.name, err)
			}
			if _, err := v.orgs.Update(v.ctx, ops.ID, orgs.Input{Name: ptr(c.other)}); !apperr.Is(err, apperr.KindInvalid) {
				t.Errorf("rename another org to %q next to %q: %v, want invalid name", c.other, c.name, err)
			}
		}
	})
}

var keyForm = regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$`)

// Every org gets a random registration key XXXX-XXXX-XXXX-XXXX, unique
// across orgs; regenerating replaces it; lookups by key find the org.
func TestRegistrationKeys(t *testing.T) {
	v := start(t)
	root := v.root()
	for i := 0; i < 40; i++ {
		v.create(orgs.Input{Name: ptr("Org " + strconv.Itoa(i))})
	}
	seen := map[string]int64{}
	for _, o := range v.tree().All() {
		if !keyForm.MatchString(o.RegistrationKey) {
			t.Errorf("org %d/%s: key %q is not XXXX-XXXX-XXXX-XXXX", o.ID, o.Name, o.RegistrationKey)
		}
		if other, dup := seen[o.RegistrationKey]; dup {
			t.Errorf("orgs %d and %d share the key %q", other, o.ID, o.RegistrationKey)
		}
		seen[o.RegistrationKey] = o.ID
		got, err := v.orgs.ByRegistrationKey(v.ctx, o.RegistrationKey)
		if err != nil || got.ID != o.ID {
			t.Errorf("ByRegistrationKey(%q) = %d, %v; want %d", o.RegistrationKey, got.ID, err, o.ID)
		}
	}
	if len(seen) != 41 || seen[root.RegistrationKey] != root.ID {
		t.Fatalf("%d keys for 41 orgs (root's key %q)", len(seen), root.RegistrationKey)
	}

	// The generator alone: the form, and no repeats in many draws.
	drawn := map[string]bool{}
	for i := 0; i < 20000; i++ {
		k, err := orgs.NewRegistrationKey()
		if err != nil || !keyForm.MatchString(k) {
			t.Fatalf("NewRegistrationKey = %q, %v", k, err)
		}
		if drawn[k] {
			t.Fatalf("NewRegistrationKey repeated %q after %d draws", k, i)
		}
		drawn[k] = true
	}

	// A key typed with spaces and in lower case still finds its org.
	o := v.create(orgs.Input{Name: ptr("Typed")})
	if got, err := v.orgs.ByRegistrationKey(v.ctx, "  "+toLower(o.RegistrationKey)+" "); err != nil || got.ID != o.ID {
		t.Errorf("lower-case key with spaces: %d, %v; want %d", got.ID, err, o.ID)
	}
	// Regenerating: a new key of the same form; the old one no longer resolves.
	re := v.update(o.ID, orgs.Input{Regenerate: ptr(true)})
	if re.RegistrationKey == o.RegistrationKey || !keyForm.MatchString(re.RegistrationKey) {
		t.Errorf("regenerated key %q (was %q)", re.RegistrationKey, o.RegistrationKey)
	}
	if _, err := v.orgs.ByRegistrationKey(v.ctx, o.RegistrationKey); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("old key after regenerating: %v, want not found", err)
	}
	if got, err := v.orgs.ByRegistrationKey(v.ctx, re.RegistrationKey); err != nil || got.ID != o.ID {
		t.Errorf("new key: %d, %v; want %d", got.ID, err, o.ID)
	}
	// Regenerate false, or absent, keeps the key.
	if same := v.update(o.ID, orgs.Input{Regenerate: ptr(false), Name: ptr("Typed again")}); same.RegistrationKey != re.RegistrationKey {
		t.Errorf("key changed without regenerate: %q → %q", re.RegistrationKey, same.RegistrationKey)
	}
	if _, err := v.orgs.ByRegistrationKey(v.ctx, "AAAA-BBBB-CCCC-DDDD"); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("unknown key: %v, want not found", err)
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// A change that would make the parent chain a cycle, or hang an org under
// an org that does not exist, is refused naming parentId, and nothing of
// that change is written (the other fields of the same change included).
func TestParentChangesThatBreakTheTreeAreRefused(t *testing.T) {
	v := start(t)
	root := v.root()
	// Default → A → B → C
	a := v.create(orgs.Input{Name: ptr("A"), ArchiveHoldDays: days(30)})
	b := v.create(orgs.Input{Name: ptr("B"), ParentID: &a.ID})
	c := v.create(orgs.Input{Name: ptr("C"), ParentID: &b.ID})
	unknown := int64(9999)

	cases := []struct {
		name   string
		org    int64
		parent int64
	}{
		{"A under C (A→B→C→A)", a.ID, c.ID},
		{"A under its child B", a.ID, b.ID},
		{"B under C", b.ID, c.ID},
		{"A under itself", a.ID, a.ID},
		{"C under itself", c.ID, c.ID},
		{"the root under A", root.ID, a.ID},
		{"the root under itself", root.ID, root.ID},
		{"C under an org that does not exist", c.ID, unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := v.tree().All()
			// Other fields in the same change must not be written either.
			_, err := v.orgs.Update(v.ctx, tc.org, orgs.Input{ParentID: &tc.parent, Name: ptr("Renamed " + strconv.FormatInt(tc.org, 10)), ArchiveHoldDays: days(1)})
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != "parentId" {
				t.Fatalf("got %v, want invalid parentId", err)
			}
			if after := v.tree().All(); !reflect.DeepEqual(after, before) {
				t.Errorf("the tree changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	// Creating under an org that does not exist writes no org.
	before := v.tree().All()
	_, err := v.orgs.Create(v.ctx, orgs.Input{Name: ptr("Orphan"), ParentID: &unknown})
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != "parentId" {
		t.Errorf("create under an unknown parent: %v, want invalid parentId", err)
	}
	if after := v.tree().All(); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused create changed the tree: %+v", after)
	}
	// Creating with no parent puts the org under the root.
	if o := v.create(orgs.Input{Name: ptr("Top")}); o.ParentID == nil || *o.ParentID != root.ID {
		t.Errorf("org created without a parent: parent %v, want the root %d", o.ParentID, root.ID)
	}

	// A legal move is accepted: C under A, and the chain stays acyclic.
	moved := v.update(c.ID, orgs.Input{ParentID: &a.ID})
	if moved.ParentID == nil || *moved.ParentID != a.ID || moved.ArchiveHoldDays != 30 {
		t.Errorf("C moved under A: %+v", moved)
	}
	// Now B under C is no longer a cycle (C is B's sibling).
	if o := v.update(b.ID, orgs.Input{ParentID: &c.ID}); o.ParentID == nil || *o.ParentID != c.ID {
		t.Errorf("B moved under C: %+v", o)
	}
	// …and C under B now would be.
	if _, err := v.orgs.Update(v.ctx, c.ID, orgs.Input{ParentID: &b.ID}); !apperr.Is(err, apperr.KindInvalid) {
		t.Errorf("C under B after B moved under C: %v, want refused", err)
	}
}

// Bad input is refused naming the field, and nothing of the create or the
// change is written.
func TestRefusedInputNamesTheFieldAndWritesNothing(t *testing.T) {
	v := start(t)
	s1 := v.server("ad-1")
	staff := v.create(orgs.Input{Name: ptr("Staff"), DefaultRoles: &[]string{"Desktop User"}, ArchiveHoldDays: days(30)})
	missing := int64(4242)

	cases := []struct {
		name   string
		create bool // else update Staff
		in     orgs.Input
		field  string
	}{
		{"create: unknown default role", true, orgs.Input{Name: ptr("New"), DefaultRoles: &[]string{"Desktop User", "Emperor"}}, "defaultRoles"},
		{"update: unknown default role", false, orgs.Input{DefaultRoles: &[]string{"Emperor"}}, "defaultRoles"},
		{"update: unknown default role after a good rename", false, orgs.Input{Name: ptr("Staff 2"), DefaultRoles: &[]string{"PROe User", "No Such Role"}}, "defaultRoles"},
		{"create: no name", true, orgs.Input{}, "name"},
		{"create: blank name", true, orgs.Input{Name: ptr("   ")}, "name"},
		{"update: name with a newline", false, orgs.Input{Name: ptr("Staff\nX")}, "name"},
		{"update: unknown auth method", false, orgs.Input{AuthMethod: ptr("kerberos")}, "authMethod"},
		{"update: ldap with no server to use", false, orgs.Input{AuthMethod: ptr("ldap")}, "ldapServerIds"},
		{"create: ldap with no server to use", true, orgs.Input{Name: ptr("New"), AuthMethod: ptr("ldap")}, "ldapServerIds"},
		{"update: unknown LDAP server", false, orgs.Input{AuthMethod: ptr("ldap"), LDAPServerIDs: &[]int64{s1, missing}}, "ldapServerIds"},
		{"update: negative hold days", false, orgs.Input{ArchiveHoldDays: days(-1)}, "archiveHoldDays"},
		{"update: too many hold days", false, orgs.Input{ArchiveHoldDays: days(orgs.MaxArchiveHoldDays + 1)}, "archiveHoldDays"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := v.tree().All()
			var err error
			if tc.create {
				_, err = v.orgs.Create(v.ctx, tc.in)
			} else {
				_, err = v.orgs.Update(v.ctx, staff.ID, tc.in)
			}
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Field != tc.field {
				t.Fatalf("got %v, want invalid %s", err, tc.field)
			}
			if after := v.tree().All(); !reflect.DeepEqual(after, before) {
				t.Errorf("the tree changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	if _, err := v.orgs.Update(v.ctx, missing, orgs.Input{Name: ptr("Ghost")}); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("update of an unknown org: %v, want not found", err)
	}

	// Known roles are stored in their own spelling, once, sorted.
	o := v.update(staff.ID, orgs.Input{DefaultRoles: &[]string{"proe user", "Desktop User", "DESKTOP USER"}})
	if want := []string{"Desktop User", "PROe User"}; !reflect.DeepEqual(o.DefaultRoles, want) {
		t.Errorf("default roles %q, want %q", o.DefaultRoles, want)
	}
	// A new org gets the built-in default roles.
	if n := v.create(orgs.Input{Name: ptr("Fresh")}); !reflect.DeepEqual(n.DefaultRoles, orgs.DefaultRoles) {
		t.Errorf("a new org's default roles %q, want %q", n.DefaultRoles, orgs.DefaultRoles)
	}
}
