package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// coreRoutes: orgs, users, devices, legal holds, roles (admin only).
func (s *Server) coreRoutes(r chi.Router) {
	r.Get("/orgs", s.handleListOrgs)
	r.Post("/orgs", s.handleCreateOrg)
	r.Get("/orgs/{id}", s.handleGetOrg)
	r.Patch("/orgs/{id}", s.handlePatchOrg)

	r.Get("/users", s.handleListUsers)
	r.Post("/users", s.handleCreateUser)
	r.Get("/users/{id}", s.handleGetUser)
	r.Patch("/users/{id}", s.handlePatchUser)
	r.Post("/users/{id}/deactivate", s.userAction(func(r *http.Request, id int64) (users.User, error) {
		return s.Users.Deactivate(r.Context(), id, users.ReasonAdmin)
	}))
	r.Post("/users/{id}/reactivate", s.userAction(func(r *http.Request, id int64) (users.User, error) {
		return s.Users.Reactivate(r.Context(), id)
	}))
	r.Post("/users/{id}/block", s.userAction(func(r *http.Request, id int64) (users.User, error) {
		return s.Users.Block(r.Context(), id)
	}))
	r.Post("/users/{id}/unblock", s.userAction(func(r *http.Request, id int64) (users.User, error) {
		return s.Users.Unblock(r.Context(), id)
	}))
	r.Post("/users/{id}/move", s.handleMoveUser)
	r.Put("/users/{id}/roles", s.handleSetRoles)
	r.Post("/users/{id}/password", s.handleSetPassword)
	r.Get("/users/{id}/devices", s.handleDevices)
	r.Post("/users/{id}/devices/{guid}/replace", s.handleReplaceDevice)

	r.Get("/legal-holds", s.handleListHolds)
	r.Post("/legal-holds", s.handleCreateHold)
	r.Get("/legal-holds/{id}", s.handleGetHold)
	r.Post("/legal-holds/{id}/custodians", s.handleAddCustodian)
	r.Delete("/legal-holds/{id}/custodians/{userId}", s.handleReleaseCustodian)
	r.Post("/legal-holds/{id}/deactivate", s.handleCloseHold)

	r.Get("/roles", s.handleRoles)
	r.Get("/settings/role-mapping", s.handleGetRoleMapping)
	r.Put("/settings/role-mapping", s.handlePutRoleMapping)
}

// handleToken signs an administrator in: {"username","password"} → {"token"}.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	_, tok, err := s.SignIn.AdminSignIn(r.Context(), in.Username, in.Password, s.clientAddr(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresIn": int(s.Users.TokenLifetime().Seconds())})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.Users.RevokeToken(r.Context(), bearer(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListOrgs(w http.ResponseWriter, r *http.Request) {
	list, err := s.Orgs.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetOrg(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	o, err := s.Orgs.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleCreateOrg(w http.ResponseWriter, r *http.Request) {
	var in orgs.Input
	if !s.decodeJSON(w, r, &in) {
		return
	}
	o, err := s.Orgs.Create(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, o)
}

func (s *Server) handlePatchOrg(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in orgs.Input
	if !s.decodeJSON(w, r, &in) {
		return
	}
	o, err := s.Orgs.Update(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := users.Filter{Username: q.Get("username"), Search: q.Get("search"), Status: users.Status(q.Get("status"))}
	switch f.Status {
	case "", users.StatusActive, users.StatusBlocked, users.StatusDeactivated:
	default:
		s.fail(w, r, apperr.Invalid("status", "must be active, blocked or deactivated, not %q", f.Status))
		return
	}
	if v := q.Get("orgId"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.fail(w, r, apperr.Invalid("orgId", "%q is not an id", v))
			return
		}
		f.OrgID = n
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &f.Limit, 10000}, {"offset", &f.Offset, 1 << 40}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				s.fail(w, r, apperr.Invalid(p.name, "must be a whole number from 0 to %d", p.max))
				return
			}
			*p.dst = n
		}
	}
	list, err := s.Users.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	u, err := s.Users.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var in users.NewUser
	if !s.decodeJSON(w, r, &in) {
		return
	}
	u, err := s.Users.Create(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, u)
}

// userAction wraps a lifecycle call on /users/{id}/... that answers the user.
func (s *Server) userAction(fn func(r *http.Request, id int64) (users.User, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.pathID(w, r, "id")
		if !ok {
			return
		}
		u, err := fn(r, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, u)
	}
}

// handlePatchUser changes a local user's profile (users.ProfilePatch); the
// profile of a directory user is its directory's (409).
func (s *Server) handlePatchUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in users.ProfilePatch
	if !s.decodeJSON(w, r, &in) {
		return
	}
	u, err := s.Users.UpdateProfile(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleMoveUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		OrgID int64 `json:"orgId"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if in.OrgID <= 0 {
		s.fail(w, r, apperr.Invalid("orgId", "is required"))
		return
	}
	u, err := s.Users.Move(r.Context(), id, in.OrgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, u)
}

// handleSetRoles sets a user's roles by hand: {"roles":[...]} → the user.
func (s *Server) handleSetRoles(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		Roles *[]string `json:"roles"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if in.Roles == nil {
		s.fail(w, r, apperr.Invalid("roles", "is required (a list; [] takes every role away)"))
		return
	}
	u, err := s.Users.SetRoles(r.Context(), id, *in.Roles)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, u)
}

// handleSetPassword changes a local password: {"currentPassword","password"}
// (an administrator setting another user's needs no current password) → 204.
func (s *Server) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		CurrentPassword string `json:"currentPassword"`
		Password        string `json:"password"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if err := s.Users.ChangePassword(r.Context(), id, admin(r), in.CurrentPassword, in.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	ds, err := s.Users.Devices(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ds)
}

func (s *Server) handleReplaceDevice(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		NewDeviceGUID string `json:"newDeviceGuid"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	d, err := s.Users.ReplaceDevice(r.Context(), id, chi.URLParam(r, "guid"), strings.TrimSpace(in.NewDeviceGUID))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleListHolds(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Holds.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ms)
}

func (s *Server) handleGetHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	m, err := s.Holds.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleCreateHold(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	m, err := s.Holds.Create(r.Context(), in.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, m)
}

func (s *Server) handleAddCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		UserID int64 `json:"userId"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if in.UserID <= 0 {
		s.fail(w, r, apperr.Invalid("userId", "is required"))
		return
	}
	m, err := s.Holds.AddCustodian(r.Context(), id, in.UserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleReleaseCustodian(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	uid, ok := s.pathID(w, r, "userId")
	if !ok {
		return
	}
	m, err := s.Holds.ReleaseCustodian(r.Context(), id, uid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleCloseHold(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r, "id")
	if !ok {
		return
	}
	m, err := s.Holds.Deactivate(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleRoles(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Users.Roles(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, rs)
}

func (s *Server) handleGetRoleMapping(w http.ResponseWriter, r *http.Request) {
	names, err := s.Users.RoleMapping(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"roles": names})
}

func (s *Server) handlePutRoleMapping(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Roles *[]string `json:"roles"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if in.Roles == nil {
		s.fail(w, r, apperr.Invalid("roles", "is required (an empty list lets LDAP manage no role)"))
		return
	}
	names, err := s.Users.SetRoleMapping(r.Context(), *in.Roles)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"roles": names})
}
