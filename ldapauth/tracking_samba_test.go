package ldapauth

import (
	"errors"
	"slices"
	"testing"

	"github.com/authority-server/authority/testenv"
)

// TestTrackingSambaAD: against a real Active Directory (Samba), auto
// chooses dirsync for the service account (which has "Replicating Directory
// Changes") and usn for a plain user; after a disable, a modify, an add, a
// username change, a move out of the base and a delete, dirsync reports
// exactly those (the moved and the deleted person by the objectGUID that
// Person.UID gave before), and usn the same but the deletion.
func TestTrackingSambaAD(t *testing.T) {
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	ctx := testCtx(t)
	srv := sambaServer(s)
	srv.URL = s.PeopleURL
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if mode, err := c.DetectTracking(ctx); err != nil || mode != TrackingDirSync {
		t.Fatalf("DetectTracking = %q, %v", mode, err)
	}
	plain := srv
	plain.BindDN, plain.BindPassword = "alice@"+testenv.SambaDNSDomain, testenv.SambaPassword
	pc, err := Dial(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if mode, err := pc.DetectTracking(ctx); err != nil || mode != TrackingUSN {
		t.Errorf("DetectTracking without the right = %q, %v, want usn", mode, err)
	}
	if _, err := pc.TrackingBaseline(ctx, TrackingDirSync); !errors.Is(err, ErrTrackingStateRefused) {
		t.Errorf("dirsync baseline without the right: %v", err)
	}

	before := uidsOf(t, c)
	if len(before) != len(testenv.SambaPeople()) {
		t.Fatalf("%d people in scope", len(before))
	}
	ds, err := c.TrackingBaseline(ctx, TrackingAuto)
	if err != nil || ds.Mode != TrackingDirSync || len(ds.Cookie) == 0 {
		t.Fatalf("dirsync baseline %+v, %v", ds, err)
	}
	us, err := c.TrackingBaseline(ctx, TrackingUSN)
	if err != nil || us.USN <= 0 || len(us.Cookie) == 0 {
		t.Fatalf("usn baseline %+v, %v", us, err)
	}
	if ch, names, _ := readAll(t, c, ds); len(names) != 0 || len(unexpected(ch.Deleted, before)) != 0 {
		t.Fatalf("dirsync before any change: %v %+v", names, ch)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Disable("bob"))
	must(s.Replace("alice", "title", "CTO"))
	must(s.Rename("carol", "carol2"))
	must(s.AddOU("OU=Alumni"))
	must(s.Move("ivan", "OU=Alumni"))
	must(s.Delete("zoe"))
	must(s.AddPerson(testenv.SambaPerson{Sam: "newbie", GivenName: "New", SN: "Bie", OU: "OU=Staff,OU=People",
		Mail: "newbie@" + testenv.SambaDNSDomain, Password: testenv.SambaPassword}))
	want := []string{"alice", "bob", "carol2", "newbie"}

	ch, names, _ := readAll(t, c, ds)
	if !slices.Equal(names, want) {
		t.Errorf("dirsync changed %v, want %v", names, want)
	}
	checkDeleted(t, "dirsync", ch.Deleted, before, "ivan", "zoe")
	if !ch.SeesDeletes || len(ch.Next.Cookie) == 0 {
		t.Errorf("dirsync changes %+v", ch)
	}
	if ch2, names2, _ := readAll(t, c, ch.Next); len(names2) != 0 || len(unexpected(ch2.Deleted, before)) != 0 {
		t.Errorf("dirsync after the next state: %v %v", names2, ch2.Deleted)
	}

	uch, unames, _ := readAll(t, c, us)
	if !slices.Equal(unames, want) {
		t.Errorf("usn changed %v, want %v", unames, want)
	}
	checkDeleted(t, "usn", uch.Deleted, before, "ivan")
	if uch.SeesDeletes || uch.Note == "" || uch.Next.USN <= us.USN {
		t.Errorf("usn changes %+v", uch)
	}

	for name, bad := range map[string]TrackingState{
		"garbage cookie": {Mode: TrackingDirSync, Cookie: []byte("garbage"), Scope: ds.Scope},
		"no cookie":      {Mode: TrackingDirSync, Scope: ds.Scope},
		"other DC":       {Mode: TrackingUSN, USN: us.USN, Cookie: []byte("CN=NTDS Settings,CN=DC9,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=acme,DC=test"), Scope: us.Scope},
		"future USN":     {Mode: TrackingUSN, USN: 1 << 40, Cookie: us.Cookie, Scope: us.Scope},
		"other scope":    {Mode: TrackingDirSync, Cookie: ds.Cookie, Scope: us.Scope},
	} {
		conn, err := Dial(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.ReadChanges(ctx, bad, func([]*Entry) error { return nil })
		conn.Close()
		if !errors.Is(err, ErrTrackingStateRefused) {
			t.Errorf("%s: %v, want ErrTrackingStateRefused", name, err)
		}
	}
}

// unexpected returns the ids of deleted that are the UID of someone in
// scope before (deleted may also hold ids that never were in scope: a
// changed account elsewhere in the domain).
func unexpected(deleted []string, before map[string]string, expected ...string) []string {
	var out []string
	for _, id := range deleted {
		for name, uid := range before {
			if uid == id && !slices.Contains(expected, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

func checkDeleted(t *testing.T, mode string, deleted []string, before map[string]string, names ...string) {
	t.Helper()
	for _, n := range names {
		if !slices.Contains(deleted, before[n]) {
			t.Errorf("%s: %s (%s) not in deleted %v", mode, n, before[n], deleted)
		}
	}
	if extra := unexpected(deleted, before, names...); len(extra) > 0 {
		t.Errorf("%s: deleted %v, who are in scope", mode, extra)
	}
	if len(deleted) != len(names) {
		t.Logf("%s: %d deleted ids for %d people: the others are changed entries outside the scope", mode, len(deleted), len(names))
	}
}
