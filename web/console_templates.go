package web

import (
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authority-server/authority/users"
)

// Console: the page templates and their functions.

// pageTemplates parses every page once: each page file with the layout and
// the shared partials.
var pageTemplates = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		t := template.New("layout").Funcs(templateFuncs)
		t = template.Must(t.ParseFS(templateFiles, "templates/layout.html", "templates/_*.html", n))
		out[strings.TrimSuffix(base, ".html")] = t
	}
	return out
})

var templateFuncs = template.FuncMap{
	"join": strings.Join,
	"list": func(items ...string) []string { return items },
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if strings.EqualFold(x, s) {
				return true
			}
		}
		return false
	},
	"hasID": func(list []int64, id int64) bool {
		for _, x := range list {
			if x == id {
				return true
			}
		}
		return false
	},
	"indent": func(n int) string { return strings.Repeat("\u00a0\u00a0\u00a0", n) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"authLabel": func(m string) string {
		switch m {
		case "ldap":
			return "LDAP"
		case "local":
			return "Local password"
		}
		return m
	},
	"when":   when,
	"ago":    ago,
	"agoT":   agoTime,
	"reason": reasonText,
	"add":    func(a, b int) int { return a + b },
	"plural": plural,
	"depthClass": func(d int) string {
		if d > 8 {
			d = 8
		}
		return "depth-" + strconv.Itoa(d)
	},
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"derefB": func(p *bool) bool { return p != nil && *p },
	"derefS": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
}

// parseStamp reads the RFC 3339 timestamps the services store.
func parseStamp(stamp string) (time.Time, bool) {
	if stamp == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, stamp); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// when formats a stored timestamp for people (UTC, to the minute).
func when(stamp string) string {
	t, ok := parseStamp(stamp)
	if !ok {
		return stamp
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long before now a stored timestamp was.
func ago(now time.Time, stamp string) string {
	t, ok := parseStamp(stamp)
	if !ok {
		return "never"
	}
	return agoTime(now, t)
}

func agoTime(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in less than a minute"
		}
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// reasonText explains why a user has its status.
func reasonText(st users.Status, r users.Reason) string {
	switch {
	case st == users.StatusActive:
		return ""
	case r == users.ReasonLegalHold:
		return "on legal hold: deactivation pending until the hold is released"
	case r == users.ReasonDirsync:
		return "by directory sync"
	case r == users.ReasonAdmin:
		return "by an administrator"
	case r == users.ReasonProvisioning:
		return "by its provisioning provider (SCIM)"
	}
	return ""
}
