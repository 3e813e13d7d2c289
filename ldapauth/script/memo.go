package script

import (
	"slices"
	"strconv"
)

// Bounds of a program's memo in one Runner.
const (
	// memoMax is how many answers a memo keeps, and memoBytes about how
	// many bytes of keys and answers; past either, it only answers from
	// what it has. (A Runner kept for sign-ins keeps its memos: 16 of them
	// with three scripts hold at most about 48 MiB.)
	memoMax   = 4096
	memoBytes = 1 << 20
	// memoTrial is how many calls a memo gets to show its worth: after
	// them, a memo answering fewer than one call in memoWorth is dropped
	// (every entry differs: the key costs more than it saves).
	memoTrial = 2048
	memoWorth = 8
	// memoKeyCap is the largest key buffer a memo keeps for its next call.
	memoKeyCap = 64 << 10
)

// memo remembers a pure program's answers (Program.memo) by the values of
// the attributes it reads, so that entries alike (the same groups, the same
// account flags) run the script once. Only answers without error are kept:
// a script stopped by its limits, or failing, runs again.
type memo struct {
	answers map[string]any
	bytes   int
	calls   int
	hits    int
	off     bool
	key     []byte // the key of the current call (appendMemoKey), reused
}

// lookup returns the answer remembered for key (looked up without making
// a string of it: most calls of a worthwhile memo are answered).
func (m *memo) lookup(key []byte) (any, bool) {
	m.calls++
	v, ok := m.answers[string(key)]
	if ok {
		m.hits++
	}
	if m.calls == memoTrial && m.hits*memoWorth < m.calls {
		m.off, m.answers = true, nil
	}
	return v, ok
}

// keep remembers v for key, while there is room.
func (m *memo) keep(key []byte, v any) {
	if m.off || len(m.answers) >= memoMax {
		return
	}
	n := len(key) + 16
	switch a := v.(type) {
	case string:
		n += len(a)
	case []string:
		for _, s := range a {
			n += len(s) + 16
		}
	}
	if m.bytes+n <= memoBytes {
		m.answers[string(key)] = v
		m.bytes += n
	}
}

// appendMemoKey appends to b the key of an entry for p: the values the
// script can see of each attribute it reads, as entry.lookup finds them
// (sensitive attributes are never seen, so they are no part of it),
// length-prefixed.
func appendMemoKey(b []byte, p *Program, attrs map[string][]string, extra []string) []byte {
	e := entry{attrs: attrs, extra: extra}
	for _, name := range p.attrs {
		vals, ok := e.lookup(name)
		if !ok {
			b = append(b, "-;"...)
			continue
		}
		b = strconv.AppendInt(b, int64(len(vals)), 10)
		b = append(b, ':')
		for _, v := range vals {
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		}
		b = append(b, ';')
	}
	return b
}

// fresh returns v, as a copy when it is a slice the caller may change.
func fresh[T any](v T) T {
	if s, ok := any(v).([]string); ok {
		return any(slices.Clone(s)).(T)
	}
	return v
}
