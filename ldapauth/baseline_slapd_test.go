package ldapauth

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/authority-server/authority/testenv"
)

// FullRunBaseline against slapd: the syncrepl state it gives is the
// one a refresh ends with when nothing changes; a change made after it
// returns (during the search) is seen from that state; a service account
// whose size limit is below the scope gets a state whose incremental reads
// are refused once the changes pass the limit; without syncprov the
// syncrepl baseline is refused as before.
func TestFullRunBaselineSlapd(t *testing.T) {
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
	st, err := FullRunBaseline(ctx, c, TrackingAuto)
	if err != nil || st.Mode != TrackingSyncrepl || !bytes.Equal(st.Cookie, refreshed.Cookie) || st.Scope != refreshed.Scope {
		t.Fatalf("with nothing changed: %+v (%s), %v; a refresh gave %s", st, st.Cookie, err, refreshed.Cookie)
	}

	st, err = FullRunBaseline(ctx, c, TrackingSyncrepl)
	if err != nil {
		t.Fatal(err)
	}
	if err := modifyMany(s, people[:3]); err != nil { // during "the search"
		t.Fatal(err)
	}
	ch, names, _ := readAll(t, c, st)
	if len(names) != 3 || ch.Changed != 3 {
		t.Fatalf("the changes made during the search: %v (%d changed), want the 3", names, ch.Changed)
	}

	// A service account with the default size limit (500) over 1,300
	// people: the state is kept; an incremental read of a few changes works,
	// one of more changes than the limit is refused (a full run follows).
	limited := testenv.StartSlapd(t, trackingPeople(1300, "m", "People"))
	lc, err := Dial(ctx, trackingSlapdServer(limited))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	lst, err := FullRunBaseline(ctx, lc, TrackingSyncrepl)
	if err != nil || len(lst.Cookie) == 0 {
		t.Fatalf("baseline of a size-limited account: %+v, %v", lst, err)
	}
	limitedPeople := trackingPeople(1300, "m", "People")
	if err := modifyMany(limited, limitedPeople[:3]); err != nil {
		t.Fatal(err)
	}
	if ch, err := lc.ReadChanges(ctx, lst, func([]*Entry) error { return nil }); err != nil || ch.Changed != 3 {
		t.Fatalf("3 changes under the size limit: %+v, %v", ch, err)
	}
	if err := modifyMany(limited, limitedPeople[:600]); err != nil {
		t.Fatal(err)
	}
	if ch, err := lc.ReadChanges(ctx, lst, func([]*Entry) error { return nil }); !errors.Is(err, ErrTrackingStateRefused) || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("600 changes over the size limit of 500: %+v, %v; want a refused state naming the size limit", ch, err)
	}

	plain := testenv.StartSlapd(t, trackingPeople(2, "p", "People"), testenv.WithoutSyncprov())
	pc, err := Dial(ctx, trackingSlapdServer(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := FullRunBaseline(ctx, pc, TrackingSyncrepl); !errors.Is(err, ErrTrackingStateRefused) {
		t.Errorf("syncrepl baseline without syncprov: %v", err)
	}
}
