package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/audit"
)

// consoleAuditRoutes: Settings > Security > Audit log.
func (s *Server) consoleAuditRoutes(r chi.Router) {
	r.Get("/settings/audit", s.consoleAudit)
}

// auditPageSize is how many entries a page of the audit log shows.
const auditPageSize = 50

type auditData struct {
	Actor, Action    string
	Actions          []audit.Action
	Entries          []auditRow
	Total            int
	Page, Pages      int
	First, Last      int
	PrevURL, NextURL string
	Filtered         bool
}

// auditRow is an entry with its changes ready to show.
type auditRow struct {
	audit.Entry
	Changes []changeRow
}

// changeRow is one change as the page shows it: values as text (a string
// without its quotes unless empty, anything else as JSON), long ones folded
// away.
type changeRow struct {
	Field         string
	Secret        bool
	Before, After valueText
}

type valueText struct {
	Text  string
	None  bool   // no value: the field did not exist before or after
	Short string // the start of a long value ("" when Text is short)
}

// auditValueRunes is the length from which a value is folded in a <details>.
const auditValueRunes = 160

func newValueText(raw json.RawMessage) valueText {
	if len(raw) == 0 || string(raw) == "null" {
		return valueText{None: true}
	}
	v := valueText{Text: string(raw)}
	var str string
	if json.Unmarshal(raw, &str) == nil && str != "" {
		v.Text = str // an empty string stays ""
	}
	if utf8.RuneCountInString(v.Text) > auditValueRunes {
		v.Short = string([]rune(v.Text)[:auditValueRunes/2]) + "…"
	}
	return v
}

func (s *Server) consoleAudit(w http.ResponseWriter, r *http.Request) {
	if s.Audit == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "The audit log is not available on this server.")
		return
	}
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Page: 1, Actions: audit.Actions}
	if len(d.Actor) > maxFilterLength {
		d.Actor = d.Actor[:maxFilterLength]
	}
	if len(d.Action) > maxFilterLength {
		d.Action = d.Action[:maxFilterLength]
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	d.Filtered = d.Actor != "" || d.Action != ""
	p, err := s.Audit.List(r.Context(), audit.Filter{Actor: d.Actor, Action: d.Action, Page: d.Page, PageSize: auditPageSize})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	d.Total = p.Total
	d.Pages = max(1, (p.Total+auditPageSize-1)/auditPageSize)
	for _, e := range p.Entries {
		row := auditRow{Entry: e}
		for _, c := range e.Changes {
			row.Changes = append(row.Changes, changeRow{Field: c.Field, Secret: c.Secret, Before: newValueText(c.Before), After: newValueText(c.After)})
		}
		d.Entries = append(d.Entries, row)
	}
	if len(p.Entries) > 0 {
		d.First = (d.Page-1)*auditPageSize + 1
		d.Last = d.First + len(p.Entries) - 1
	}
	pageURL := func(page int) string {
		v := url.Values{}
		if d.Actor != "" {
			v.Set("actor", d.Actor)
		}
		if d.Action != "" {
			v.Set("action", d.Action)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if len(v) == 0 {
			return "/settings/audit"
		}
		return "/settings/audit?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Nav: "audit", Data: d})
}
