package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Change is one changed field: its value before and after as JSON (null
// when there was none: a field of something created, or deleted). A secret
// has neither: Secret is set and After is "(changed)".
type Change struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Secret bool            `json:"secret,omitempty"`
}

// Changed is what a secret's change shows instead of its values.
const Changed = "(changed)"

// Limits of what one entry keeps.
const (
	MaxValueBytes = 8 << 10 // a longer value is cut (scripts, CA certificates)
	MaxChanges    = 200     // more changes are summed up in one last change "…"
)

// Field is the change of field from before to after (nil: none). A field
// named like a secret (IsSecretField) is masked.
func Field(field string, before, after any) Change {
	if IsSecretField(field) {
		return Secret(field)
	}
	return Change{Field: field, Before: jsonOf(before), After: jsonOf(after)}
}

// Secret is the change of a secret field (a password, a token): only that
// it changed, never a value.
func Secret(field string) Change {
	return Change{Field: field, After: json.RawMessage(`"` + Changed + `"`), Secret: true}
}

// IsSecretField reports whether a field name names a secret: its last
// dotted part ends in the word password, secret, token, credential or key
// ("bindPassword", "smtp.password", "clientSecret", "registrationKey"), in
// camelCase, snake_case or kebab-case. "hasPassword" and the like, which only
// say whether one is set, are not secrets, nor is "tokenLifetime".
func IsSecretField(field string) bool {
	name := field[strings.LastIndexByte(field, '.')+1:]
	if strings.HasPrefix(name, "has") {
		return false
	}
	word := name[strings.LastIndexAny(name, "_-")+1:]
	if i := strings.LastIndexFunc(word, unicode.IsUpper); i > 0 {
		word = word[i:]
	}
	switch strings.TrimSuffix(strings.ToLower(word), "s") {
	case "password", "passwd", "secret", "token", "credential", "key":
		return true
	}
	return false
}

// Option changes what Diff compares.
type Option func(*differ)

type differ struct {
	ignore []string
}

// Ignore leaves fields (and the fields below them) out of a Diff: values
// derived from others, timestamps.
func Ignore(fields ...string) Option {
	return func(d *differ) { d.ignore = append(d.ignore, fields...) }
}

func (d *differ) ignored(field string) bool {
	for _, f := range d.ignore {
		if field == f || strings.HasPrefix(field, f+".") {
			return true
		}
	}
	return false
}

// Diff compares two values through their JSON form (what the API shows,
// so write-only fields are never seen) and returns each field that differs,
// objects flattened to dotted names ("smtp.host"), lists compared whole, in
// the order of after's fields. nil stands for nothing: Diff(nil, created)
// lists the fields of something created that are not empty, Diff(deleted,
// nil) those of something deleted. Fields named like secrets are masked.
func Diff(before, after any, opts ...Option) []Change {
	d := &differ{}
	for _, o := range opts {
		o(d)
	}
	b, err := flatten(before)
	if err != nil {
		return []Change{{Field: "*", After: jsonOf("could not compare: " + err.Error())}}
	}
	a, err := flatten(after)
	if err != nil {
		return []Change{{Field: "*", After: jsonOf("could not compare: " + err.Error())}}
	}
	out := []Change{}
	seen := map[string]bool{}
	for _, k := range append(a.keys, b.keys...) {
		if seen[k] || d.ignored(k) {
			continue
		}
		seen[k] = true
		bv, inB := b.vals[k]
		av, inA := a.vals[k]
		switch {
		case inA && inB && bytes.Equal(av, bv):
			continue
		case !inB && isEmpty(av), !inA && isEmpty(bv):
			continue
		case IsSecretField(k):
			out = append(out, Secret(k))
		default:
			out = append(out, Change{Field: k, Before: bv, After: av})
		}
	}
	return out
}

// flat is a value's fields by dotted name, in their JSON order.
type flat struct {
	keys []string
	vals map[string]json.RawMessage
}

func flatten(v any) (flat, error) {
	f := flat{vals: map[string]json.RawMessage{}}
	if v == nil {
		return f, nil
	}
	raw, err := marshal(v)
	if err != nil {
		return f, err
	}
	if bytes.Equal(raw, []byte("null")) {
		return f, nil
	}
	if raw[0] != '{' {
		f.add("value", raw)
		return f, nil
	}
	return f, f.walk("", raw)
}

func (f *flat) add(k string, v json.RawMessage) {
	if _, ok := f.vals[k]; !ok {
		f.keys = append(f.keys, k)
	}
	f.vals[k] = v
}

// walk adds the fields of the JSON object raw under prefix.
func (f *flat) walk(prefix string, raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return err
	}
	n := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if prefix != "" {
			key = prefix + "." + key
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		n++
		if len(v) > 0 && v[0] == '{' {
			if err := f.walk(key, v); err != nil {
				return err
			}
			continue
		}
		f.add(key, v)
	}
	if n == 0 && prefix != "" {
		f.add(prefix, json.RawMessage("{}"))
	}
	return nil
}

// isEmpty reports whether a JSON value is nothing worth listing.
func isEmpty(v json.RawMessage) bool {
	switch string(v) {
	case "", "null", `""`, "false", "0", "[]", "{}":
		return true
	}
	return false
}

// jsonOf is v's JSON, nil for nil.
func jsonOf(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	raw, err := marshal(v)
	if err != nil {
		raw, _ = marshal(fmt.Sprintf("%v", v))
	}
	return raw
}

// marshal is json.Marshal without escaping <, > and &: the values are shown
// as they are (the console escapes them for HTML).
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// bound keeps at most MaxChanges changes with values of at most
// MaxValueBytes each.
func bound(cs []Change) []Change {
	out := make([]Change, 0, min(len(cs), MaxChanges+1))
	for i, c := range cs {
		if i == MaxChanges {
			out = append(out, Change{Field: "…", After: jsonOf(fmt.Sprintf("%d more changes not recorded", len(cs)-MaxChanges))})
			break
		}
		c.Before, c.After = cut(c.Before), cut(c.After)
		out = append(out, c)
	}
	return out
}

// cut replaces a value longer than MaxValueBytes by a string of its start.
func cut(v json.RawMessage) json.RawMessage {
	if len(v) <= MaxValueBytes {
		return v
	}
	text := string(v)
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		text = s
	}
	head := text
	if len(head) > MaxValueBytes-64 {
		head = head[:MaxValueBytes-64]
		for !utf8.ValidString(head) {
			head = head[:len(head)-1]
		}
	}
	return jsonOf(fmt.Sprintf("%s… (%d more bytes)", head, len(text)-len(head)))
}
