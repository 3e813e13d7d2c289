package ldapauth

import (
	"bytes"
	"errors"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// BeginTrackingBaseline against slapd: the syncrepl state it gives is the
// one a refresh ends with when nothing changes; a change made after it
// returns (during the search) is seen from that state; the refresh beside
// the search still refuses a service account whose size limit is below the
// scope; without syncprov the syncrepl baseline is refused as before.
func TestBeginTrackingBaselineSlapd(t *testing.T) {
	people := trackingPeople(30, "b", "People")
	s := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	ctx := testCtx(t)
	c, err := Dial(ctx, trackingSlapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	refreshed, err := c.TrackingBaseline(ctx, TrackingSyncrepl)
	if err != nil {
		t.Fatal(err)
	}
	st, err := BeginTrackingBaseline(ctx, c, TrackingAuto)()
	if err != nil || st.Mode != TrackingSyncrepl || !bytes.Equal(st.Cookie, refreshed.Cookie) || st.Scope != refreshed.Scope {
		t.Fatalf("with nothing changed: %+v (%s), %v; a refresh gave %s", st, st.Cookie, err, refreshed.Cookie)
	}

	wait := BeginTrackingBaseline(ctx, c, TrackingSyncrepl)
	if err := modifyMany(s, people[:3]); err != nil { // during "the search"
		t.Fatal(err)
	}
	st, err = wait()
	if err != nil {
		t.Fatal(err)
	}
	ch, names, _ := readAll(t, c, st)
	if len(names) != 3 || ch.Changed != 3 {
		t.Fatalf("the changes made during the search: %v (%d changed), want the 3", names, ch.Changed)
	}

	limited := testenv.StartSlapd(t, trackingPeople(1300, "m", "People")) // past the service account's size limit
	lc, err := Dial(ctx, trackingSlapdServer(limited))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if st, err := BeginTrackingBaseline(ctx, lc, TrackingSyncrepl)(); err == nil || !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("baseline over the size limit: %+v, %v", st, err)
	}

	plain := testenv.StartSlapd(t, trackingPeople(2, "p", "People"), testenv.WithoutSyncprov())
	pc, err := Dial(ctx, trackingSlapdServer(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := BeginTrackingBaseline(ctx, pc, TrackingSyncrepl)(); !errors.Is(err, ErrTrackingStateRefused) {
		t.Errorf("syncrepl baseline without syncprov: %v", err)
	}
}
