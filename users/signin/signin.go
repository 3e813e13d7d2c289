// Package signin is the desktop app's sign-in and registration flow (docs/rules.md
// section 5): authenticate an existing user by the method of the user's org
// (local bcrypt or LDAP search-then-bind), register a new user under the org
// named by a registration key, and register the device.
//
// Every failed credential gets the same ErrInvalidCredentials, whatever the
// cause, so that answers never reveal whether a username exists.
package signin

import (
	"context"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// ErrInvalidCredentials is the one answer for an unknown user, a user not in
// the directory (policy deny), a wrong password (locally, or one the
// directory refused: ldapauth.ErrCredentialsRefused), an unknown
// registration key and an empty password. It is the only definition of this
// answer: the API and the console show its message or their own.
var ErrInvalidCredentials = &apperr.Error{Kind: apperr.KindUnauthorized, Message: "invalid username, password or registration key"}

// ErrScriptsFailed is the answer to a person whose registration the
// directory scripts could not decide: a script threw, timed out or returned
// the wrong type for that person's entry, or the server's scripts do not
// compile. It is the administrator's problem, not the person's: an apperr
// Unavailable (503) with one fixed message. No user is created; the cause
// (username and the script's message) goes to the server log.
var ErrScriptsFailed = &apperr.Error{Kind: apperr.KindUnavailable, Message: "the directory scripts failed for this account; ask your administrator"}

// Request is what the desktop app sends.
type Request struct {
	Username        string `json:"username"`
	Password        string `json:"password"`
	RegistrationKey string `json:"registrationKey"`
	DeviceGUID      string `json:"deviceGuid"`
	DeviceName      string `json:"deviceName"`
}

// Result is a successful sign-in.
type Result struct {
	User   users.User
	Device *users.Device // nil when no device was given
}

// StatusError is the 403 for a user who is known and authenticated but blocked,
// deactivated or found inactive by the directory.
type StatusError struct {
	Status users.Status
	Reason string
}

func (e *StatusError) Error() string {
	if e.Reason == "" {
		return "the account is " + string(e.Status)
	}
	return "the account is " + string(e.Status) + " (" + e.Reason + ")"
}

// Service signs users in.
type Service struct {
	DB    *sqlx.DB
	Orgs  *orgs.Service
	Users *users.Service
	// LDAP authenticates and registers users of orgs that use LDAP; nil means
	// LDAP sign-in is not available (every LDAP org user gets 503).
	LDAP LDAPFlow
}

// LDAPFlow is the LDAP half of sign-in, implemented over package ldapauth.
type LDAPFlow interface {
	// Verify authenticates an existing LDAP user with the servers of its org.
	Verify(ctx context.Context, u users.User, org orgs.Org, password string) error
	// Register authenticates a new user against org's servers and runs the
	// active, org name and role name scripts, returning the user to create
	// (OrgID set to the org it belongs in, created if the org name script named
	// a new one; roles already limited to the Role Mapping list). found is false
	// when the username is not in the directory. Register writes no user. A
	// script that fails for the entry is ErrScriptsFailed (logged by Register).
	Register(ctx context.Context, org orgs.Org, req Request) (nu users.NewUser, found bool, err error)
	// NotFoundOrg returns the org for registrants not found in LDAP, or false for "deny".
	NotFoundOrg(ctx context.Context) (int64, bool, error)
}

// Login runs the whole flow.
func (s *Service) Login(ctx context.Context, req Request) (Result, error) {
	if req.Password == "" || strings.TrimSpace(req.Username) == "" {
		return Result{}, ErrInvalidCredentials
	}
	u, err := s.Users.ByUsername(ctx, strings.TrimSpace(req.Username))
	switch {
	case err == nil:
		if err := s.verify(ctx, u, req.Password); err != nil {
			return Result{}, err
		}
		if u.Status != users.StatusActive {
			return Result{}, &StatusError{Status: u.Status, Reason: string(u.StatusReason)}
		}
		if req.DeviceGUID == "" {
			return Result{User: u}, nil
		}
		return s.withDevice(ctx, u.ID, req)
	case !apperr.Is(err, apperr.KindNotFound):
		return Result{}, err
	}
	return s.register(ctx, req)
}

// Verify authenticates an existing user by the method of its org, whatever
// its status (callers decide what status allows).
func (s *Service) Verify(ctx context.Context, username, password string) (users.User, error) {
	if password == "" || strings.TrimSpace(username) == "" {
		return users.User{}, ErrInvalidCredentials
	}
	u, err := s.Users.ByUsername(ctx, strings.TrimSpace(username))
	if err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			users.BurnPasswordCheck(password)
			return users.User{}, ErrInvalidCredentials
		}
		return users.User{}, err
	}
	return u, s.verify(ctx, u, password)
}

func (s *Service) verify(ctx context.Context, u users.User, password string) error {
	org, err := s.Orgs.Get(ctx, u.OrgID)
	if err != nil {
		return err
	}
	if org.UsesLDAP() && (u.LDAPDN != "" || u.PasswordHash == "") {
		if s.LDAP == nil {
			return apperr.Unavailable(nil, "LDAP sign-in is not configured on this server")
		}
		return s.LDAP.Verify(ctx, u, org, password)
	}
	if !users.CheckPassword(u, password) {
		return ErrInvalidCredentials
	}
	return nil
}

func (s *Service) register(ctx context.Context, req Request) (Result, error) {
	if strings.TrimSpace(req.RegistrationKey) == "" {
		users.BurnPasswordCheck(req.Password)
		return Result{}, ErrInvalidCredentials
	}
	if users.ValidateUsername(strings.TrimSpace(req.Username)) != nil {
		// A username that cannot exist gets the same answer as one that does not.
		users.BurnPasswordCheck(req.Password)
		return Result{}, ErrInvalidCredentials
	}
	org, err := s.Orgs.ByRegistrationKey(ctx, req.RegistrationKey)
	if err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			users.BurnPasswordCheck(req.Password)
			return Result{}, ErrInvalidCredentials
		}
		return Result{}, err
	}
	nu := users.NewUser{Username: strings.TrimSpace(req.Username), Password: req.Password, OrgID: org.ID}
	if org.UsesLDAP() {
		if s.LDAP == nil {
			return Result{}, apperr.Unavailable(nil, "LDAP sign-in is not configured on this server")
		}
		found := false
		nu, found, err = s.LDAP.Register(ctx, org, req)
		if err != nil {
			return Result{}, err
		}
		if !found {
			target, ok, err := s.LDAP.NotFoundOrg(ctx)
			if err != nil {
				return Result{}, err
			}
			if !ok {
				return Result{}, ErrInvalidCredentials
			}
			nu = users.NewUser{Username: strings.TrimSpace(req.Username), Password: req.Password, OrgID: target}
		}
	}
	if req.DeviceGUID != "" {
		if err := users.ValidateDevice(req.DeviceGUID, req.DeviceName); err != nil {
			return Result{}, err // before the user is created
		}
	}
	var id int64
	err = s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		id, err = s.Users.CreateTx(ctx, tx, nu)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return s.withDevice(ctx, id, req)
}

func (s *Service) withDevice(ctx context.Context, userID int64, req Request) (Result, error) {
	var res Result
	if req.DeviceGUID != "" {
		d, err := s.Users.RegisterDevice(ctx, userID, req.DeviceGUID, req.DeviceName)
		if err != nil {
			return Result{}, err
		}
		res.Device = &d
	}
	u, err := s.Users.Get(ctx, userID)
	if err != nil {
		return Result{}, err
	}
	res.User = u
	return res, nil
}

// IsInvalidCredentials reports whether err is the uniform credential failure.
func IsInvalidCredentials(err error) bool { return errors.Is(err, ErrInvalidCredentials) }
