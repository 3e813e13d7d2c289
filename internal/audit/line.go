package audit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of an AUDIT:: line (the stored entry keeps more).
const (
	lineValueRunes = 120 // a value's text is cut after this many characters
	lineChanges    = 30  // changes listed; the rest are counted
)

// Line is the server log line of an entry:
//
//	AUDIT:: user.block by:1/admin from:127.0.0.1 target:user:5/jsmith changes: status: "active" → "blocked"; statusReason: "" → "admin"
//
// Values are JSON (strings quoted), cut after 120 characters; a secret shows
// only "(changed)"; control characters anywhere are escaped, so that one
// entry is one line whatever the names hold.
func Line(e Entry) string {
	var b strings.Builder
	b.WriteString("AUDIT:: ")
	b.WriteString(Escape(e.Action))
	b.WriteString(" by:")
	if e.ActorID != 0 {
		b.WriteString(strconv.FormatInt(e.ActorID, 10) + "/")
	}
	b.WriteString(Escape(e.Actor))
	if e.Address != "" {
		b.WriteString(" from:" + Escape(e.Address))
	}
	if e.Target != "" {
		b.WriteString(" target:" + Escape(e.Target))
	}
	b.WriteString(" changes:")
	if len(e.Changes) == 0 {
		b.WriteString(" none")
	}
	for i, c := range e.Changes {
		if i == lineChanges {
			fmt.Fprintf(&b, "; … %d more", len(e.Changes)-lineChanges)
			break
		}
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" " + Escape(c.Field) + ": ")
		if c.Secret {
			b.WriteString(Changed)
			continue
		}
		b.WriteString(lineValue(c.Before) + " → " + lineValue(c.After))
	}
	return b.String()
}

// lineValue is a value's JSON text, "(none)" for none, cut and escaped.
func lineValue(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "(none)"
	}
	s := string(v)
	if n := utf8.RuneCountInString(s); n > lineValueRunes {
		r := []rune(s)
		s = fmt.Sprintf("%s…(%d more)", string(r[:lineValueRunes]), n-lineValueRunes)
	}
	return Escape(s)
}

// Escape writes control characters, line and paragraph separators (and
// invalid UTF-8) as escapes, so that a value cannot break or forge a log line.
func Escape(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return breaksLine(r) || r == utf8.RuneError }) < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
			b.WriteRune(r)
		case breaksLine(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func breaksLine(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }
