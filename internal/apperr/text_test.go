package apperr

import (
	"strings"
	"testing"
)

func TestCheckTextAndLine(t *testing.T) {
	for _, c := range []struct {
		value      string
		max        int
		text, line string // "" for accepted, else part of the message
	}{
		{"", 3, "", ""},
		{"äöü", 3, "", ""}, // characters, not bytes
		{"äöüß", 3, "too long: 4 characters, at most 3", "too long"},
		{"a\xffb", 10, "not UTF-8", "not UTF-8"},
		{"a\tb", 10, "", "control characters"},
		{"a\u0085b", 10, "", "control characters"},
	} {
		for _, k := range []struct {
			fn   func(string, string, int) error
			want string
		}{{CheckText, c.text}, {CheckLine, c.line}} {
			err := k.fn("f", c.value, c.max)
			if k.want == "" && err != nil || k.want != "" && (err == nil || !strings.Contains(err.Error(), k.want)) {
				t.Errorf("%q (max %d): %v, want %q", c.value, c.max, err, k.want)
			}
			if e, ok := As(err); err != nil && (!ok || e.Kind != KindInvalid || e.Field != "f") {
				t.Errorf("%q: %#v, want an invalid f", c.value, err)
			}
		}
	}
}
