package ldapauth

import (
	"testing"
	"time"

	"github.com/authority-server/authority/testenv"
)

// TestTrackingCost logs (asserts nothing about) what change tracking costs
// against slapd at 20,000 people: a full SearchAll, the syncrepl and
// timestamp baselines, and ReadChanges after 100 changes. The figures are in
// docs/benchmarks.md ("Change tracking (mechanism)").
func TestTrackingCost(t *testing.T) {
	if testing.Short() {
		t.Skip("timing log: not in -short")
	}
	const n, changes = 20000, 100
	people := trackingPeople(n, "c", "People")
	s := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	ctx := testCtx(t)
	c, err := Dial(ctx, trackingSlapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	best := func(runs int, fn func() error) time.Duration {
		var min time.Duration
		for i := 0; i < runs; i++ {
			start := time.Now()
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); i == 0 || d < min {
				min = d
			}
		}
		return min
	}
	full := best(3, func() error {
		got := 0
		err := c.SearchAll(ctx, func(p []*Entry) error { got += len(p); return nil })
		if err == nil && got != n {
			t.Errorf("SearchAll: %d", got)
		}
		return err
	})
	var st TrackingState
	syncBase := best(3, func() (err error) { st, err = c.TrackingBaseline(ctx, TrackingSyncrepl); return err })
	time.Sleep(1100 * time.Millisecond)
	ts, err := c.TrackingBaseline(ctx, TrackingTimestamp)
	if err != nil {
		t.Fatal(err)
	}
	bt, _ := time.Parse(generalizedTime, ts.Time)
	ts.Time = bt.Add(TimestampOverlap).Format(generalizedTime) // only what changes from here on
	if err := modifyMany(s, people[:changes]); err != nil {
		t.Fatal(err)
	}
	read := func(st TrackingState) func() error {
		return func() error {
			ch, err := c.ReadChanges(ctx, st, func([]*Entry) error { return nil })
			if err == nil && ch.Changed != changes {
				t.Errorf("%s: %d changed", st.Mode, ch.Changed)
			}
			return err
		}
	}
	syncRead := best(3, read(st))
	tsRead := best(3, read(ts))
	t.Logf("%d people, %d changed, page size 500, best of 3:", n, changes)
	t.Logf("  full SearchAll                  %8.1f ms", ms(full))
	t.Logf("  syncrepl baseline               %8.1f ms", ms(syncBase))
	t.Logf("  syncrepl ReadChanges            %8.1f ms", ms(syncRead))
	t.Logf("  timestamp ReadChanges           %8.1f ms", ms(tsRead))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
