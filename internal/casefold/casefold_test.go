package casefold

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"admin", "admin"}, {"ADMIN", "admin"}, {"Ärzte", "ärzte"}, {"ÄRZTE", "ärzte"},
		{"ΝΊΚΟΣ", "νίκοσ"}, {"νίκος", "νίκοσ"}, {"\u212Aelvin", "kelvin"}, {"ſmith", "smith"},
		{"STRAẞE", "straße"}, {"Ǆ", "ǆ"}, {"ǅ", "ǆ"}, {"ϴ", "θ"}, {"ϑ", "θ"}, {"µ", "μ"},
		{"İ", "İ"}, {"ı", "ı"}, // no simple folding: EqualFold("İ", "i") is false
		{"a\xffB", "a\xffb"}, {"", ""},
	} {
		if got := Key(c.in); got != c.want {
			t.Errorf("Key(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Key(a) == Key(b) exactly when strings.EqualFold(a, b): every rune of a
// folding class gives the same representative, and runes of different
// classes different ones.
func TestKeyAgreesWithEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		k := Rune(r)
		if !strings.EqualFold(string(r), string(k)) {
			t.Fatalf("Rune(%U) = %U, not in its class", r, k)
		}
		if Rune(k) != k {
			t.Fatalf("Rune(Rune(%U)) = %U, want %U", r, Rune(k), k)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if Rune(f) != k {
				t.Fatalf("Rune(%U) = %U but Rune(%U) = %U: one class, two keys", r, k, f, Rune(f))
			}
		}
	}
	if !Equal("ΝΊΚΟΣ", "νίκος") || Equal("İ", "i") {
		t.Error("Equal disagrees with Key")
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"Ärzte", "ärzte", "ΝΊΚΟΣ", "\u212A", "a\xffb", "ǅ"} {
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if (Key(a) == Key(b)) != strings.EqualFold(a, b) && utf8.ValidString(a) && utf8.ValidString(b) {
			t.Errorf("Key(%q) = %q, Key(%q) = %q, EqualFold %t", a, Key(a), b, Key(b), strings.EqualFold(a, b))
		}
	})
}
