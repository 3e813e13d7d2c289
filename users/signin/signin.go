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
	"log/slog"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/throttle"
	"github.com/authority-server/authority/ldapauth"
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

// AccountError is the 403 for a person whose directory account may not sign
// in although the password was right (Active Directory's diagnostics,
// docs/rules.md section 5.6): Reason is "passwordExpired", "locked" or
// "disabled".
type AccountError struct {
	Reason  string
	Message string
}

func (e *AccountError) Error() string { return e.Message }

// accountError turns the directory's refusal of the account into the
// person's answer.
func accountError(err error) error {
	var ar *ldapauth.AccountRefused
	if !errors.As(err, &ar) {
		return err
	}
	msg := map[string]string{
		ldapauth.AccountPasswordExpired: "your directory password has expired or must be changed: change your password in the directory, then sign in again",
		ldapauth.AccountLocked:          "your directory account is locked: ask your help desk to unlock it",
		ldapauth.AccountDisabled:        "your directory account is disabled or expired: ask your help desk",
	}[ar.Reason]
	return &AccountError{Reason: ar.Reason, Message: msg}
}

// Service signs users in.
type Service struct {
	DB    *sqlx.DB
	Orgs  *orgs.Service
	Users *users.Service
	// LDAP authenticates and registers users of orgs that use LDAP; nil means
	// LDAP sign-in is not available (every LDAP org user gets 503).
	LDAP LDAPFlow
	// Throttle counts failed sign-ins and refuses attempts over the limits
	// (SPEC section 10); nil: no throttling. SaveSettings sets its limits.
	Throttle *throttle.Throttle
	// Log receives the sign-in log (AUTH:: lines); slog.Default() when nil.
	Log *slog.Logger
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

// Login runs the whole flow for a request from the client address from
// (which the throttle counts and the sign-in log names).
//
// Before any lookup it asks the throttle: a username or address over its
// limits gets a *throttle.Refused (429), without a password check or
// directory traffic. An over-long username is refused at once (uncounted).
// Wrong credentials and unknown usernames count as failures; a right
// password refused because the user is blocked or deactivated does not; a
// success clears the username's count. Every refusal is an AUTH:: log line.
// A refused sign-in costs one bcrypt comparison whether or not the username
// exists (against a dummy hash where no real one is compared) and, in an
// LDAP org, the same directory work.
func (s *Service) Login(ctx context.Context, req Request, from string) (Result, error) {
	name := strings.TrimSpace(req.Username)
	if tooLong(name) {
		s.logRefused(name, from, ReasonUnknownUser)
		return Result{}, ErrInvalidCredentials
	}
	a, err := s.begin(name, from)
	if err != nil {
		return Result{}, err
	}
	defer a.end()
	if name == "" {
		a.fail(ReasonUnknownUser)
		return Result{}, ErrInvalidCredentials
	}
	if req.Password == "" {
		a.fail(ReasonBadPassword)
		return Result{}, ErrInvalidCredentials
	}
	u, err := s.Users.ByUsername(ctx, name)
	switch {
	case err == nil:
		if err := s.verify(ctx, u, req.Password); err != nil {
			var acct *AccountError
			if IsInvalidCredentials(err) {
				a.fail(ReasonBadPassword)
			} else if errors.As(err, &acct) {
				a.refuse(Reason(acct.Reason))
			}
			return Result{}, err
		}
		if u.Status != users.StatusActive {
			a.refuseStatus(u)
			return Result{}, &StatusError{Status: u.Status, Reason: string(u.StatusReason)}
		}
		a.succeed()
		if req.DeviceGUID == "" {
			return Result{User: u}, nil
		}
		return s.withDevice(ctx, u.ID, req)
	case !apperr.Is(err, apperr.KindNotFound):
		return Result{}, err
	}
	return s.register(ctx, req, a)
}

// Verify authenticates an existing user by the method of its org, for a
// client at address from, whatever the user's status (callers decide what
// status allows). It applies the throttle as Login does (a refusal is a
// *throttle.Refused), counts wrong credentials and unknown usernames as
// failures, logs them, and clears the username's count when the password is
// right and the user active.
func (s *Service) Verify(ctx context.Context, username, password, from string) (users.User, error) {
	name := strings.TrimSpace(username)
	if tooLong(name) {
		s.logRefused(name, from, ReasonUnknownUser)
		return users.User{}, ErrInvalidCredentials
	}
	a, err := s.begin(name, from)
	if err != nil {
		return users.User{}, err
	}
	defer a.end()
	if name == "" {
		a.fail(ReasonUnknownUser)
		return users.User{}, ErrInvalidCredentials
	}
	if password == "" {
		a.fail(ReasonBadPassword)
		return users.User{}, ErrInvalidCredentials
	}
	u, err := s.Users.ByUsername(ctx, name)
	if err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			users.BurnPasswordCheck(password)
			a.fail(ReasonUnknownUser)
			return users.User{}, ErrInvalidCredentials
		}
		return users.User{}, err
	}
	if err := s.verify(ctx, u, password); err != nil {
		var acct *AccountError
		if IsInvalidCredentials(err) {
			a.fail(ReasonBadPassword)
		} else if errors.As(err, &acct) {
			a.refuse(Reason(acct.Reason))
			return u, apperr.Forbidden("%s", acct.Message)
		}
		return u, err
	}
	if u.Status == users.StatusActive {
		a.succeed()
	}
	return u, nil
}

// verify checks u's password by the method of its org. A refusal costs one
// bcrypt comparison: the real one for a local password, a dummy one after
// the directory refused an LDAP user (whose refusal would otherwise answer
// far sooner than an unknown username's).
func (s *Service) verify(ctx context.Context, u users.User, password string) error {
	org, err := s.Orgs.Get(ctx, u.OrgID)
	if err != nil {
		return err
	}
	if org.UsesLDAP() && (u.LDAPDN != "" || u.PasswordHash == "") {
		if s.LDAP == nil {
			return apperr.Unavailable(nil, "LDAP sign-in is not configured on this server")
		}
		err := s.LDAP.Verify(ctx, u, org, password)
		if IsInvalidCredentials(err) {
			users.BurnPasswordCheck(password)
		}
		return err
	}
	if !users.CheckPassword(u, password) {
		return ErrInvalidCredentials
	}
	return nil
}

// register creates a new user (SPEC section 5, step 3). Every refusal costs
// one bcrypt comparison, and in an LDAP org the same directory work, whether
// the directory knows the username or not.
func (s *Service) register(ctx context.Context, req Request, a *attempt) (Result, error) {
	name := strings.TrimSpace(req.Username)
	unknown := func() (Result, error) {
		users.BurnPasswordCheck(req.Password)
		a.fail(ReasonUnknownUser)
		return Result{}, ErrInvalidCredentials
	}
	if strings.TrimSpace(req.RegistrationKey) == "" {
		return unknown()
	}
	if users.ValidateUsername(name) != nil {
		// A username that cannot exist gets the same answer as one that does not.
		return unknown()
	}
	org, err := s.Orgs.ByRegistrationKey(ctx, req.RegistrationKey)
	if err != nil {
		if apperr.Is(err, apperr.KindNotFound) {
			return unknown()
		}
		return Result{}, err
	}
	nu := users.NewUser{Username: name, Password: req.Password, OrgID: org.ID}
	if org.UsesLDAP() {
		if s.LDAP == nil {
			return Result{}, apperr.Unavailable(nil, "LDAP sign-in is not configured on this server")
		}
		found := false
		nu, found, err = s.LDAP.Register(ctx, org, req)
		var st *StatusError
		switch {
		case IsInvalidCredentials(err):
			users.BurnPasswordCheck(req.Password)
			a.fail(ReasonBadPassword)
			return Result{}, err
		case errors.Is(err, ErrScriptsFailed):
			a.refuse(ReasonScriptFailed)
			return Result{}, err
		case errors.As(err, new(*AccountError)):
			a.refuse(Reason(err.(*AccountError).Reason))
			return Result{}, err
		case errors.As(err, &st):
			a.refuse(ReasonDeactivated)
			return Result{}, err
		case err != nil:
			return Result{}, err
		}
		if !found {
			target, ok, err := s.LDAP.NotFoundOrg(ctx)
			if err != nil {
				return Result{}, err
			}
			if !ok {
				return unknown()
			}
			nu = users.NewUser{Username: name, Password: req.Password, OrgID: target}
		}
	}
	if req.DeviceGUID != "" {
		if err := users.ValidateDevice(req.DeviceGUID, req.DeviceName); err != nil {
			return Result{}, err // before the user is created
		}
	}
	// The user, its device and what the client gets back: one transaction,
	// so that a registration is whole or absent (a device that belongs to
	// someone else leaves no user behind).
	var res Result
	err = s.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		id, err := s.Users.CreateTx(ctx, tx, nu)
		if err != nil {
			return err
		}
		if req.DeviceGUID != "" {
			d, err := s.Users.RegisterDeviceTx(ctx, tx, id, req.DeviceGUID, req.DeviceName)
			if err != nil {
				return err
			}
			res.Device = &d
		}
		res.User, err = s.Users.GetInTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	a.succeed()
	return res, nil
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
