package apperr

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckText refuses a text value for field that is not UTF-8 or has more than
// max characters, with an Invalid error that names the field and the limit
// (the API answers 400, the console shows it next to the field). It returns
// nil for a value that fits.
func CheckText(field, value string, max int) error {
	if len(value) <= max && utf8.ValidString(value) {
		return nil // fewer bytes than max: fewer characters too
	}
	if !utf8.ValidString(value) {
		return Invalid(field, "is not UTF-8 text")
	}
	if n := utf8.RuneCountInString(value); n > max {
		return Invalid(field, "is too long: %d characters, at most %d", n, max)
	}
	return nil
}

// CheckLine is CheckText for a one-line field (a name, an address): it also
// refuses control characters such as tabs and line breaks.
func CheckLine(field, value string, max int) error {
	if err := CheckText(field, value, max); err != nil {
		return err
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return Invalid(field, "must not contain control characters (tabs, line breaks)")
	}
	return nil
}
