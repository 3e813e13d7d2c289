package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users/signin"
)

// consoleSaveSecurity saves the sign-in security form of Settings > Security
// > LDAP (the same rules as PUT /api/v1/settings/security).
func (s *Server) consoleSaveSecurity(w http.ResponseWriter, r *http.Request) {
	if s.ldapUnavailable(w, r) {
		return
	}
	ctx := r.Context()
	in, err := s.SignIn.Settings(ctx)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	number := func(field string, dst *int) {
		v := strings.TrimSpace(r.PostFormValue(field))
		if err != nil || v == "" {
			return
		}
		if *dst, err = strconv.Atoi(v); err != nil {
			err = apperr.Invalid(field, "must be a whole number")
		}
	}
	number("maxFailures", &in.MaxFailures)
	number("perAddressFailures", &in.PerAddressFailures)
	for field, dst := range map[string]*string{"failureWindow": &in.FailureWindow, "maxLockout": &in.MaxLockout, "tokenLifetime": &in.TokenLifetime} {
		if v := r.PostFormValue(field); v != "" {
			*dst = v
		}
	}
	var saved signin.Settings
	if err == nil {
		saved, err = s.SignIn.SaveSettings(ctx, in)
	}
	if err != nil {
		d, derr := s.ldapSettingsPage(ctx, nil)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		d.Security = in
		v := &view{Title: "LDAP", Nav: "ldap", Data: d}
		s.render(w, r, s.formError(r, v, err, "maxFailures", "failureWindow", "maxLockout", "perAddressFailures", "tokenLifetime"), "ldap_settings", v)
		return
	}
	s.done(w, r, "/settings/ldap", "ok", "Sign-in security saved: "+strconv.Itoa(saved.MaxFailures)+" failures within "+saved.FailureWindow+
		" lock a username out (up to "+saved.MaxLockout+"); sessions and tokens last "+saved.TokenLifetime+".")
}
