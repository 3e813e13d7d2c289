// Package serverlog is the server log: a log/slog handler that writes the
// server's line format (the one administrators grep for DIRSYNC::), and the
// rotating log file under the data directory.
//
// A line looks like
//
//	[07.10.14 13:27:33.217 INFO    dirsync-1       dirsync.OrgCmd] DIRSYNC:: Running for org:2/Default
//
// The attributes named by ThreadKey and LoggerKey fill the prefix; other
// attributes follow the message as key=value pairs.
//
// Every record is one line: control characters (and the Unicode line
// separators and bidirectional overrides) in the message and the prefix are
// written as Go escapes (\n, \x1b, \u2028), and a value holding one is
// quoted, so that a username such as "bob\n[fake line]" cannot forge a line.
package serverlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Attribute keys that fill the line prefix instead of following the message.
const (
	ThreadKey = "thread" // the worker: "main", "http", "dirsync-1", ...
	LoggerKey = "logger" // the component, e.g. "dirsync.OrgCmd" or "HistoryLogger"
)

// Handler writes slog records in the server's line format.
type Handler struct {
	mu     *sync.Mutex
	w      io.Writer
	level  slog.Leveler
	thread string
	logger string
	attrs  string // pre-rendered " k=v" pairs
	group  string
	now    func() time.Time
}

// NewHandler writes lines at or above level to w.
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{mu: &sync.Mutex{}, w: w, level: level, thread: "main"}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	var b strings.Builder
	b.WriteString(c.attrs)
	for _, a := range as {
		c.take(&b, a)
	}
	c.attrs = b.String()
	return &c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		c.group += "."
	}
	c.group += name
	return &c
}

func (h *Handler) take(b *strings.Builder, a slog.Attr) {
	if h.group == "" {
		switch a.Key {
		case ThreadKey:
			h.thread = escape(a.Value.String())
			return
		case LoggerKey:
			h.logger = escape(a.Value.String())
			return
		}
	}
	writeAttr(b, h.group, a)
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, key, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(escape(key))
	b.WriteByte('=')
	s := a.Value.String()
	if s == "" || strings.ContainsAny(s, " \"=") || needsEscape(s) {
		s = strconv.Quote(s)
	}
	b.WriteString(s)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	c := *h
	var extra strings.Builder
	extra.WriteString(c.attrs)
	r.Attrs(func(a slog.Attr) bool {
		c.take(&extra, a)
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(t.Format("01.02.06 15:04:05.000"))
	b.WriteByte(' ')
	fmt.Fprintf(&b, "%-8s", levelName(r.Level))
	b.WriteString(c.thread)
	if c.logger != "" {
		if pad := 16 - len(c.thread); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(c.logger)
	}
	b.WriteString("] ")
	b.WriteString(escape(r.Message))
	b.WriteString(extra.String())
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// unsafeRune reports whether r must not reach a log line as it is: a control
// character, a Unicode line or paragraph separator, or a bidirectional
// override that would make a line read differently from what it holds.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// needsEscape reports whether s holds an unsafe rune or is not valid UTF-8.
func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			return true
		}
	}
	return false
}

// escape writes the unsafe runes of s as Go escapes (\n, \r, \t, \x1b,
// \u2028; a byte that is not UTF-8 as \xNN) and leaves the rest as it is.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// File is the rotating log file logs/authority.log under a data directory.
type File struct{ *lumberjack.Logger }

// OpenFile opens (creating) dataDir/logs/authority.log, rotated at 50 MB with
// ten old files kept, so the log cannot fill the disk. The directory is 0700
// and lumberjack creates the files 0600.
func OpenFile(dataDir string) (*File, error) {
	dir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("serverlog: create %s: %w", dir, err)
	}
	return &File{&lumberjack.Logger{
		Filename:   filepath.Join(dir, "authority.log"),
		MaxSize:    50, // megabytes
		MaxBackups: 10,
		Compress:   true,
	}}, nil
}
