package signin

import (
	"context"
	"fmt"

	"github.com/authority-server/authority/users"
)

// AdminSignIn signs an administrator in to the API or the console: it
// authenticates username and password by the method of the user's org (as
// Verify), requires an active user with the roles.Sysadmin role, and issues
// a token (users.Service.IssueToken) that the API takes as a bearer token
// and the console as its session. from is the client's address: the
// throttle counts by it (see Verify) and the sign-in log names it; a
// successful sign-in is the log line `AUTH:: admin signed in user:U from:A`.
//
// Errors: a *throttle.Refused while the username or address is throttled;
// ErrInvalidCredentials for wrong credentials and for a user who is
// blocked or deactivated (an administrator's sign-in does not tell which);
// the apperr Forbidden of users.RequireAdmin, naming the role, for an active
// user who is not an administrator — returned with that user, so that the
// answer can name the account; an apperr Unavailable when the user's
// directory cannot be reached; other errors when the user or the token
// cannot be read or written. Every error but the Forbidden one comes with the
// zero User.
func (s *Service) AdminSignIn(ctx context.Context, username, password, from string) (users.User, string, error) {
	u, err := s.Verify(ctx, username, password, from)
	if err != nil {
		return users.User{}, "", err
	}
	if u.Status != users.StatusActive {
		s.logRefused(u.Username, from, statusReason(u))
		return users.User{}, "", ErrInvalidCredentials
	}
	if err := users.RequireAdmin(u); err != nil {
		s.logRefused(u.Username, from, ReasonNotAdmin)
		return u, "", err
	}
	tok, err := s.Users.IssueToken(ctx, u.ID)
	if err != nil {
		return users.User{}, "", fmt.Errorf("signin: issue a token for administrator %s: %w", u.Username, err)
	}
	s.logger().Info(fmt.Sprintf("AUTH:: admin signed in user:%s from:%s", LogValue(u.Username), LogValue(from)))
	return u, tok, nil
}
