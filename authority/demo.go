package authority

import (
	"context"
	"errors"
)

// startDemo starts the in-process test directory and the org Demo that uses it.
// (The LDAP engineer fills this in.)
func (a *App) startDemo(ctx context.Context) error {
	return errors.New("authority: --demo is not available yet")
}
