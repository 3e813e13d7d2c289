package serverlog

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

var linePrefix = regexp.MustCompile(`^\[\d\d\.\d\d\.\d\d \d\d:\d\d:\d\d\.\d{3} `)

// A value from outside (a username, a DN, a script's message) cannot forge a
// log line or smuggle terminal escapes: control characters in the message,
// the attributes and the prefix are escaped, so every record is one line.
func TestControlCharactersAreEscaped(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelInfo))
	evil := "bob\n[01.02.26 10:00:00.000 INFO    main] DIRSYNC:: forged\r\x1b[31m\x00\u0085\u2028end"
	log.Info("HISTORY:: DIRSYNC:: Deactivated user:7/"+evil+" in org:1/Default simulated:false", "username", evil, "dn", "cn=x\tz")
	log.With(ThreadKey, "t\nx", LoggerKey, "l\rg").With("k", "v\n").Warn("plain", "n", 3)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		if !linePrefix.MatchString(l) {
			t.Errorf("line does not start with the prefix: %q", l)
		}
		if i := strings.IndexFunc(l, func(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' }); i >= 0 {
			t.Errorf("control character at %d: %q", i, l)
		}
	}
	want := `] HISTORY:: DIRSYNC:: Deactivated user:7/bob\n[01.02.26 10:00:00.000 INFO    main] DIRSYNC:: forged\r\x1b[31m\x00\u0085\u2028end in org:1/Default simulated:false username="bob\n[01.02.26 10:00:00.000 INFO    main] DIRSYNC:: forged\r\x1b[31m\x00\u0085\u2028end" dn="cn=x\tz"`
	if !strings.HasSuffix(lines[0], want) {
		t.Errorf("line 1:\n%s\nwant the suffix\n%s", lines[0], want)
	}
	if want := ` WARN    t\nx            l\rg] plain k="v\n" n=3`; !strings.HasSuffix(lines[1], want) {
		t.Errorf("line 2:\n%s\nwant the suffix\n%s", lines[1], want)
	}
}

// Lines without control characters are written exactly as before.
func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelInfo)
	log := slog.New(h).With(ThreadKey, "dirsync-1", LoggerKey, "dirsync.OrgCmd")
	r := slog.NewRecord(time.Date(2014, 7, 10, 13, 27, 33, 217e6, time.UTC), slog.LevelInfo, "DIRSYNC:: Running for org:2/Ärzte \\ cn=Doe\\, John", 0)
	r.AddAttrs(slog.String("user", "ärzte"), slog.String("q", `say "hi"`), slog.Int("n", 1))
	if err := log.Handler().Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := "[07.10.14 13:27:33.217 INFO    dirsync-1       dirsync.OrgCmd] DIRSYNC:: Running for org:2/Ärzte \\ cn=Doe\\, John user=ärzte q=\"say \\\"hi\\\"\" n=1\n"
	if buf.String() != want {
		t.Errorf("line\n%q\nwant\n%q", buf.String(), want)
	}
}
