package authority

import (
	"context"
	"fmt"

	"github.com/authority-server/authority/internal/audit"
)

// CommandLineActor is the actor of the audit log entries of changes made
// from the command line (`authority admin ...`).
const CommandLineActor = "(command line)"

// ResetAdminPassword gives the administrator username a new generated local
// password, revokes its tokens and returns the password: the recovery of a
// lost administrator password (`authority admin reset-password`). It works
// on the data directory while a server runs on it, too.
func (a *App) ResetAdminPassword(ctx context.Context, username string) (string, error) {
	pw, err := randomPassword(20)
	if err != nil {
		return "", err
	}
	// Recorded in the audit log as the command line's change.
	ctx = a.Audit.As(ctx, audit.Actor{Username: CommandLineActor})
	u, err := a.Users.ResetPassword(ctx, username, pw)
	if err != nil {
		return "", fmt.Errorf("authority: reset the password of %s: %w", username, err)
	}
	a.Log.Warn("administrator password reset from the command line", "username", u.Username)
	return pw, nil
}
