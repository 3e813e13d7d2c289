package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/users/signin"
)

// Console: Settings > Security > LDAP, the settings and sync part.

// intervalOption is a choice of the sync schedule.
type intervalOption struct {
	Value, Label string
}

var syncIntervals = []intervalOption{
	{"never", "Never"}, {"15m", "15 minutes"}, {"30m", "30 minutes"}, {"1h", "1 hour"}, {"2h", "2 hours"},
	{"4h", "4 hours"}, {"6h", "6 hours"}, {"12h", "12 hours"}, {"24h", "24 hours"}, {"168h", "7 days"},
}

type ldapSettingsData struct {
	Servers   []ldapauth.Server
	UsedBy    map[int64][]string // server id → names of the orgs that use it
	Settings  ldapauth.Settings
	LocalOrgs []orgRow
	Intervals []intervalOption
	Sync      *syncPanel
	// StaleRegistrants is the saved registrants-not-found org when it is no
	// longer a choice (it uses LDAP now, or is gone), so that it stays visible.
	StaleRegistrants *intervalOption

	// Security is the sign-in security form's (console_security.go).
	Security signin.Settings
}

func (s *Server) ldapSettingsPage(ctx context.Context, st *ldapauth.Settings) (*ldapSettingsData, error) {
	d := &ldapSettingsData{UsedBy: map[int64][]string{}}
	var err error
	if d.Security, err = s.SignIn.Settings(ctx); err != nil {
		return nil, err
	}
	if d.Servers, err = s.LDAP.List(ctx); err != nil {
		return nil, err
	}
	if st != nil {
		d.Settings = *st
	} else if d.Settings, err = s.LDAP.Settings(ctx); err != nil {
		return nil, err
	}
	rows, err := s.orgTree(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range rows {
		if !o.UsesLDAP() {
			d.LocalOrgs = append(d.LocalOrgs, o)
		}
		for _, id := range o.LDAPServerIDs {
			d.UsedBy[id] = append(d.UsedBy[id], o.Name)
		}
	}
	if id, ok := d.Settings.RegistrantsOrg(); ok {
		found := false
		for _, o := range d.LocalOrgs {
			found = found || o.ID == id
		}
		if !found {
			label := fmt.Sprintf("Place them in org %d (no longer a choice: it uses LDAP or is gone)", id)
			for _, o := range rows {
				if o.ID == id {
					label = "Place them in " + o.Name + " (no longer a choice: it uses LDAP now)"
				}
			}
			d.StaleRegistrants = &intervalOption{Value: d.Settings.RegistrantsNotFound, Label: label}
		}
	}
	d.Intervals = append([]intervalOption(nil), syncIntervals...)
	known := false
	for _, o := range d.Intervals {
		if o.Value == d.Settings.SyncInterval {
			known = true
		}
	}
	if !known && d.Settings.SyncInterval != "" {
		d.Intervals = append(d.Intervals, intervalOption{d.Settings.SyncInterval, d.Settings.SyncInterval})
	}
	d.Sync = s.syncPanel(ctx)
	return d, nil
}

func (s *Server) consoleLDAPSettings(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	d, err := s.ldapSettingsPage(r.Context(), nil)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ldap_settings", &view{Title: "LDAP", Nav: "ldap", Data: d})
}

func (s *Server) consoleSaveLDAPSettings(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	ctx := r.Context()
	cur, err := s.LDAP.Settings(ctx)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	in := cur
	in.RegistrantsNotFound = r.PostFormValue("registrantsNotFound")
	in.SyncInterval = r.PostFormValue("syncInterval")
	if v := r.PostFormValue("valvePercent"); v != "" {
		if in.ValvePercent, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			err = apperr.Invalid("valvePercent", "must be a whole number from 0 to 100")
		}
	}
	if v := r.PostFormValue("valveMinUsers"); v != "" && err == nil {
		if in.ValveMinUsers, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			err = apperr.Invalid("valveMinUsers", "must be a whole number of users")
		}
	}
	var saved ldapauth.Settings
	if err == nil {
		saved, err = s.LDAP.SaveSettings(ctx, in)
	}
	if err != nil {
		d, derr := s.ldapSettingsPage(ctx, &in)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		v := &view{Title: "LDAP", Nav: "ldap", Data: d}
		s.render(w, r, s.formError(r, v, err, "registrantsNotFound", "syncInterval", "valvePercent", "valveMinUsers"), "ldap_settings", v)
		return
	}
	msg := "LDAP settings saved. "
	if _, on := saved.Interval(); on {
		msg += "Directory sync runs every " + intervalLabel(saved.SyncInterval) + "."
	} else {
		msg += "Scheduled directory sync is off; sign-in still asks the directory."
	}
	s.done(w, r, "/settings/ldap", "ok", msg)
}

func intervalLabel(v string) string {
	for _, o := range syncIntervals {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}
