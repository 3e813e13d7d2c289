package users

import (
	"strings"
	"testing"
)

// Packing keeps every profile exactly, whatever its values hold.
func TestPackedProfileRoundTrip(t *testing.T) {
	id, neg := int64(42), int64(-7)
	long := strings.Repeat("é", 300)
	for _, p := range []Profile{
		{},
		{Email: "a@example.com"},
		{ManagerID: &id},
		{ManagerID: &neg, Country: "x"},
		{Email: "a\x00b", FirstName: "\x01\x02", LastName: long, Title: "T", Department: "D", Division: "Dv",
			EmployeeType: "E", EmployeeNumber: "0001", City: "C", State: "S", Country: "\xff\xfe", ManagerID: &id},
		{City: strings.Repeat("z", 200000)},
	} {
		pp := PackProfile(p)
		got, err := pp.unpack()
		if err != nil || !got.Equal(p) || got.texts() != p.texts() {
			t.Errorf("pack %+v: got %+v, %v", p, got, err)
		}
	}
	if PackProfile(Profile{}) != "" {
		t.Error("the empty profile packs to a non-empty string")
	}
	for _, bad := range []PackedProfile{"\x01", "\x00\x05ab", "\x00" + PackedProfile(strings.Repeat("\x00", 11)) + "x"} {
		if _, err := bad.unpack(); err == nil {
			t.Errorf("%q unpacked", bad)
		}
	}
}
