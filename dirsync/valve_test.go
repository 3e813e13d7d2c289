package dirsync

import (
	"testing"
)

func TestValveTrips(t *testing.T) {
	v := Valve{Percent: 10, MinUsers: 10}
	for _, c := range []struct {
		n, of int
		trips bool
	}{
		{10, 20, false},  // 50% but not more than 10 users
		{11, 20, true},   // 55% and 11 users
		{11, 110, false}, // exactly 10%
		{12, 110, true},  // just over 10%
		{0, 0, false},
		{100, 10000, false},
	} {
		if got := v.Trips(c.n, c.of); got != c.trips {
			t.Errorf("%d of %d: trips %t, want %t", c.n, c.of, got, c.trips)
		}
	}
}
