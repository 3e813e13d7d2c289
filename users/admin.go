package users

import (
	"context"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/users/roles"
)

// IsAdmin reports whether u is an administrator: a holder of the
// roles.Sysadmin role, who may use the API and the console.
func (u User) IsAdmin() bool { return u.HasRole(roles.Sysadmin) }

// RequireAdmin returns nil when u is an administrator, else an apperr
// Forbidden that names u and the role it lacks. It does not look at u's
// status: callers refuse inactive users first, with their own answer.
func RequireAdmin(u User) error {
	if u.IsAdmin() {
		return nil
	}
	return apperr.Forbidden("user %s is not an administrator (needs the %s role)", u.Username, roles.Sysadmin)
}

// AdminForToken returns the administrator a live token belongs to: the
// token's user, active, with the roles.Sysadmin role.
//
// Errors: an apperr Unauthorized for an unknown or expired token or a user
// who is no longer active (as UserForToken); an apperr Forbidden (from
// RequireAdmin) for an active user who is not an administrator; other
// errors when the token cannot be looked up.
func (s *Service) AdminForToken(ctx context.Context, token string) (User, error) {
	u, err := s.UserForToken(ctx, token)
	if err != nil {
		return User{}, err
	}
	if err := RequireAdmin(u); err != nil {
		return User{}, err
	}
	return u, nil
}
