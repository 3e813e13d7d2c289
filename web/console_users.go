package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/users"
)

// Console pages: Users.

// usersPageSize is how many users a page of the user list shows.
const usersPageSize = 50

type usersData struct {
	Search, Status   string
	OrgID            int64
	Users            []users.User
	Orgs             []orgRow
	Page             int
	PrevURL, NextURL string
	Filtered         bool
}

func (s *Server) consoleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := usersData{Search: strings.TrimSpace(q.Get("search")), Status: q.Get("status"), Page: 1}
	switch users.Status(d.Status) {
	case "", users.StatusActive, users.StatusBlocked, users.StatusDeactivated:
	default:
		d.Status = ""
	}
	if n, err := strconv.ParseInt(q.Get("orgId"), 10, 64); err == nil && n > 0 {
		d.OrgID = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	d.Filtered = d.Search != "" || d.Status != "" || d.OrgID != 0
	list, err := s.Users.List(r.Context(), users.Filter{Search: d.Search, Status: users.Status(d.Status), OrgID: d.OrgID,
		Limit: usersPageSize + 1, Offset: (d.Page - 1) * usersPageSize})
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	pageURL := func(p int) string {
		v := url.Values{}
		if d.Search != "" {
			v.Set("search", d.Search)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if d.OrgID != 0 {
			v.Set("orgId", strconv.FormatInt(d.OrgID, 10))
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		if len(v) == 0 {
			return "/users"
		}
		return "/users?" + v.Encode()
	}
	if len(list) > usersPageSize {
		list = list[:usersPageSize]
		d.NextURL = pageURL(d.Page + 1)
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	d.Users = list
	if d.Orgs, err = s.orgTree(r.Context()); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "users", &view{Title: "Users", Nav: "users", Data: d})
}

type userData struct {
	User       users.User
	Devices    []users.Device
	Holds      []legalhold.Matter
	Orgs       []orgRow
	ServerName string
	Manager    *users.User // the user's manager (nil: none)
}

func (s *Server) consoleUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	d, err := s.userPage(r.Context(), id)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user", &view{Title: d.User.Username, Nav: "users", Data: d})
}

func (s *Server) userPage(ctx context.Context, id int64) (*userData, error) {
	u, err := s.Users.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &userData{User: u}
	if d.Devices, err = s.Users.Devices(ctx, id); err != nil {
		return nil, err
	}
	ms, err := s.Holds.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		for _, c := range m.Custodians {
			if c == id {
				d.Holds = append(d.Holds, m)
			}
		}
	}
	if d.Orgs, err = s.orgTree(ctx); err != nil {
		return nil, err
	}
	if d.Manager, err = s.managerOf(ctx, u); err != nil {
		return nil, err
	}
	if u.LDAPServerID != nil {
		servers, _ := s.ldapServerOptions(ctx)
		for _, sv := range servers {
			if sv.ID == *u.LDAPServerID {
				d.ServerName = sv.Name
			}
		}
		if d.ServerName == "" {
			d.ServerName = "server " + strconv.FormatInt(*u.LDAPServerID, 10)
		}
	}
	return d, nil
}

func (s *Server) consoleUserAction(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	var (
		u   users.User
		err error
		msg string
	)
	switch chi.URLParam(r, "action") {
	case "deactivate":
		u, err = s.Users.Deactivate(ctx, id, users.ReasonAdmin)
		msg = "%s is deactivated: its devices are deactivated and its archives are in cold storage."
		if err == nil && u.Status == users.StatusBlocked {
			msg = "%s is on legal hold, so it was blocked instead of deactivated. It will be deactivated when its last hold is released."
		}
	case "reactivate":
		u, err = s.Users.Reactivate(ctx, id)
		msg = "%s is active again: its devices are reactivated and its archives still in cold storage are back to normal."
	case "block":
		u, err = s.Users.Block(ctx, id)
		msg = "%s is blocked: it cannot sign in, and its devices keep backing up."
	case "unblock":
		u, err = s.Users.Unblock(ctx, id)
		msg = "%s is unblocked and active."
	}
	dest := "/users/" + strconv.FormatInt(id, 10)
	if err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	s.done(w, r, dest, "ok", strings.Replace(msg, "%s", u.Username, 1))
}

func (s *Server) consoleMoveUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pagePathID(w, r, "id")
	if !ok {
		return
	}
	dest := "/users/" + strconv.FormatInt(id, 10)
	org, err := strconv.ParseInt(r.PostFormValue("orgId"), 10, 64)
	if err != nil || org <= 0 {
		s.done(w, r, dest, "error", "Choose the organization to move the user to.")
		return
	}
	u, err := s.Users.Move(r.Context(), id, org)
	if err != nil {
		_, m := s.explain(r, err)
		s.done(w, r, dest, "error", m)
		return
	}
	s.done(w, r, dest, "ok", u.Username+" moved to "+u.OrgName+".")
}

type newUserForm struct {
	users.NewUser
	Orgs []orgRow
}

var newUserFields = []string{"username", "password", "email", "firstName", "lastName", "orgId"}

func (s *Server) consoleNewUser(w http.ResponseWriter, r *http.Request) {
	f := &newUserForm{}
	if n, err := strconv.ParseInt(r.URL.Query().Get("orgId"), 10, 64); err == nil {
		f.OrgID = n
	}
	var err error
	if f.Orgs, err = s.orgTree(r.Context()); err != nil {
		s.failPage(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user_new", &view{Title: "Add a user", Nav: "users", Data: f})
}

func (s *Server) consoleCreateUser(w http.ResponseWriter, r *http.Request) {
	f := &newUserForm{NewUser: users.NewUser{
		Username:  strings.TrimSpace(r.PostFormValue("username")),
		Password:  r.PostFormValue("password"),
		Email:     strings.TrimSpace(r.PostFormValue("email")),
		FirstName: strings.TrimSpace(r.PostFormValue("firstName")),
		LastName:  strings.TrimSpace(r.PostFormValue("lastName")),
	}}
	ctx := r.Context()
	var err error
	f.OrgID, err = strconv.ParseInt(r.PostFormValue("orgId"), 10, 64)
	if err != nil || f.OrgID <= 0 {
		err = apperr.Invalid("orgId", "choose an organization")
	}
	var u users.User
	if err == nil {
		u, err = s.Users.Create(ctx, f.NewUser)
	}
	if err != nil {
		f.Password = ""
		v := &view{Title: "Add a user", Nav: "users", Data: f}
		status := s.formError(r, v, err, newUserFields...)
		if f.Orgs, err = s.orgTree(ctx); err != nil {
			s.failPage(w, r, err)
			return
		}
		s.render(w, r, status, "user_new", v)
		return
	}
	s.done(w, r, "/users/"+strconv.FormatInt(u.ID, 10), "ok", "User "+u.Username+" created in "+u.OrgName+".")
}
