// Package casefold is the one rule by which usernames and org names compare
// ignoring case: Unicode simple case folding (the equivalence of
// strings.EqualFold), the same in Go and in SQL. The database keeps Key of
// each name in a column with a UNIQUE index (users.username_key,
// orgs.name_key), and every lookup by name compares keys, so that "Ärzte" and
// "ärzte", or "ΝΊΚΟΣ" and "νίκος", are one name everywhere; SQLite's NOCASE
// folds ASCII letters only.
package casefold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key returns s with every character replaced by the one representative of
// its simple case folding class (lower case where the class has one: "K",
// "k" and the Kelvin sign all give "k"; "Σ", "σ" and "ς" give "σ"). Two
// strings have the same Key exactly when strings.EqualFold says they are
// equal. Bytes that are not UTF-8 are kept as they are. Key does not
// normalise: a precomposed "Ä" and "A" followed by a combining diaeresis stay
// different, as they are for strings.EqualFold.
func Key(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
		i++
	}
	if i == len(s) {
		return s // nothing to fold
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(Rune(r))
		}
		i += n
	}
	return b.String()
}

// Equal reports whether a and b are the same name ignoring case (Key(a) ==
// Key(b), which is strings.EqualFold).
func Equal(a, b string) bool { return strings.EqualFold(a, b) }

// Rune returns the representative of r's simple case folding class: of the
// class's members, the smallest lower-case mapping (unicode.ToLower of
// unicode.ToUpper) that is itself in the class, else the class's smallest
// member. It depends on the class only, so every member gives the same rune.
func Rune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	var buf [8]rune
	class := buf[:0]
	for f := r; ; {
		class = append(class, f)
		if f = unicode.SimpleFold(f); f == r {
			break
		}
	}
	if len(class) == 1 {
		return r
	}
	in := func(x rune) bool {
		for _, c := range class {
			if c == x {
				return true
			}
		}
		return false
	}
	best, smallest := rune(-1), class[0]
	for _, c := range class {
		smallest = min(smallest, c)
		if l := unicode.ToLower(unicode.ToUpper(c)); in(l) && (best < 0 || l < best) {
			best = l
		}
	}
	if best < 0 {
		return smallest
	}
	return best
}
