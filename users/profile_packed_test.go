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

// The role snapshot's and the scope index's rows are read by length, so a
// role or a key may hold colons and digits; a row cut short is an error,
// not a misread.
func TestNextIDText(t *testing.T) {
	id, role, rest, err := nextIDText("12:5:a:b:97:0:")
	if err != nil || id != 12 || role != "a:b:9" || rest != "7:0:" {
		t.Fatalf("got %d %q %q %v", id, role, rest, err)
	}
	if id, role, rest, err = nextIDText(rest); err != nil || id != 7 || role != "" || rest != "" {
		t.Fatalf("got %d %q %q %v", id, role, rest, err)
	}
	for _, bad := range []string{"12:9:abc", "x:1:a", "12", "12:-1:", "12:a:"} {
		if _, _, _, err := nextIDText(bad); err == nil {
			t.Errorf("%q read", bad)
		}
	}
}
