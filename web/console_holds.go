package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// Console pages: Legal hold and Role Mapping.

// holdRow is a matter with its custodians' users.
type holdRow struct {
	legalhold.Matter
	Users []users.User
}

type holdsData struct {
	Holds []legalhold.Matter
	Name  string
}

func (s *Server) consoleHolds(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Holds.List(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "holds", &view{Title: "Legal hold", Nav: "holds", Data: holdsData{Holds: ms}})
}

func (s *Server) consoleCreateHold(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	m, err := s.Holds.Create(r.Context(), name)
	if err != nil {
		ms, lerr := s.Holds.List(r.Context())
		if lerr != nil {
			s.failPage(w, r, lerr)
			return
		}
		v := &view{Title: "Legal hold", Nav: "holds", Data: holdsData{Holds: ms, Name: name}}
		s.render(w, r, s.formError(r, v, err, "name"), "holds", v)
		return
	}
	s.done(w, r, "/legal-holds/"+strconv.FormatInt(m.ID, 10), "ok", "Legal hold matter "+m.Name+" opened. Add its custodians below.")
}

type holdData struct {
	Hold     holdRow
	Username string
}

func (s *Server) holdPage(ctx context.Context, id int64) (*holdData, error) {
	m, err := s.Holds.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &holdData{Hold: holdRow{Matter: m}}
	for _, uid := range m.Custodians {
		u, err := s.Users.Get(ctx, uid)
		if err != nil {
			if apperr.Is(err, apperr.KindNotFound) {
				continue
			}
			return nil, err
		}
		d.Hold.Users = append(d.Hold.Users, u)
	}
	return d, nil
}

func (s *Server) consoleHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	d, err := s.holdPage(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "hold", &view{Title: d.Hold.Name, Nav: "holds", Data: d})
}

func (s *Server) consoleAddCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	username := strings.TrimSpace(r.PostFormValue("username"))
	var err error
	var u users.User
	if username == "" {
		err = apperr.Invalid("username", "enter the username of the custodian")
	} else if err = users.ValidateUsername(username); err == nil { // else: no user can have that name; say why
		if u, err = s.Users.ByUsername(ctx, username); apperr.Is(err, apperr.KindNotFound) {
			err = apperr.Invalid("username", "no user is named %q", username)
		}
	}
	if err == nil {
		_, err = s.Holds.AddCustodian(ctx, id, u.ID)
	}
	if err != nil {
		d, derr := s.holdPage(ctx, id)
		if derr != nil {
			s.failPage(w, r, derr)
			return
		}
		d.Username = username
		v := &view{Title: d.Hold.Name, Nav: "holds", Data: d}
		s.render(w, r, s.formError(r, v, err, "username"), "hold", v)
		return
	}
	s.done(w, r, "/legal-holds/"+strconv.FormatInt(id, 10), "ok", u.Username+" is now a custodian of this matter: while on hold it is blocked instead of deactivated.")
}

func (s *Server) consoleReleaseCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	uid, ok := s.pagePathID(w, r, "userId")
	if !ok {
		return
	}
	dest := "/legal-holds/" + strconv.FormatInt(id, 10)
	if _, err := s.Holds.ReleaseCustodian(r.Context(), id, uid); err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	msg := "Custodian released."
	if u, err := s.Users.Get(r.Context(), uid); err == nil {
		msg = u.Username + " released from this matter."
		if u.Status == users.StatusDeactivated && !u.OnLegalHold {
			msg += " Its deactivation was pending, so it is now deactivated."
		}
	}
	s.done(w, r, dest, "ok", msg)
}

func (s *Server) consoleCloseHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	dest := "/legal-holds/" + strconv.FormatInt(id, 10)
	m, err := s.Holds.Deactivate(r.Context(), id)
	if err != nil {
		_, msg := s.explain(r, err)
		s.done(w, r, dest, "error", msg)
		return
	}
	s.done(w, r, dest, "ok", "Matter "+m.Name+" closed: every custodian is released, and those whose deactivation was pending are deactivated.")
}

type roleMappingData struct {
	Roles []roles.Role
}

func (s *Server) consoleRoleMapping(w http.ResponseWriter, r *http.Request) {
	roles, err := s.Users.Roles(r.Context())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "role_mapping", &view{Title: "Role Mapping", Nav: "roles", Data: roleMappingData{Roles: roles}})
}

func (s *Server) consoleSaveRoleMapping(w http.ResponseWriter, r *http.Request) {
	names, err := s.Users.SetRoleMapping(r.Context(), r.PostForm["roles"])
	if err != nil {
		roles, rerr := s.Users.Roles(r.Context())
		if rerr != nil {
			s.failPage(w, r, rerr)
			return
		}
		v := &view{Title: "Role Mapping", Nav: "roles", Data: roleMappingData{Roles: roles}}
		s.render(w, r, s.formError(r, v, err, "roles"), "role_mapping", v)
		return
	}
	msg := "Role Mapping saved: LDAP scripts may manage " + strings.Join(names, ", ") + "."
	if len(names) == 0 {
		msg = "Role Mapping saved: LDAP scripts manage no role."
	}
	s.done(w, r, "/settings/role-mapping", "ok", msg)
}
