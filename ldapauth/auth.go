package ldapauth

import (
	"context"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/casefold"
)

// ErrCredentialsRefused is Authenticate's one answer when the directory does
// not sign these credentials in: no entry for the username, several entries,
// an entry that does not hold the username, a bind the directory refused, or
// an empty password (refused before asking). It says what happened in
// directory terms; the answer a person sees is sign-in's
// (signin.ErrCredentialsRefused), which does not tell these cases apart.
var ErrCredentialsRefused = &apperr.Error{Kind: apperr.KindUnauthorized, Message: "the directory refused the credentials"}

// Authenticate checks username and password against srv: bind as the
// service account, search with the filter (%u → the username, escaped once),
// require exactly one entry, then bind as that entry's DN with the password
// on a separate connection. It returns the entry (sensitive attributes
// removed).
//
// Errors: ErrCredentialsRefused for an empty password (refused before any
// network traffic: an empty password would be an unauthenticated bind, which
// servers accept as anonymous, and glauth accepts for users without a
// password hash), an empty username, zero or several entries, an entry whose
// username attribute does not hold the username (a server that matched
// loosely), or a refused bind; an *apperr.Error of kind KindUnavailable when
// the server cannot be reached, refuses the service account, or fails the
// search. A whitespace-only password is a real password and is sent as it
// is.
//
// A person found only through a followed referral to another server
// (another scheme, host or port) gets ErrCredentialsRefused: their password
// is sent to the configured server only, never where a referral points.
//
// A disabled account that the directory still lets bind (glauth; AD refuses
// the bind itself) is not refused here: the active script decides who is
// active, and sign-in and sync run it after authentication.
func Authenticate(ctx context.Context, srv Server, username, password string) (*Entry, error) {
	if password == "" || strings.TrimSpace(username) == "" {
		return nil, ErrCredentialsRefused
	}
	c, err := Dial(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	entries, err := c.FindUsers(ctx, username)
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 {
		return nil, ErrCredentialsRefused
	}
	e := entries[0]
	if strings.TrimSpace(e.DN) == "" || !holdsUsername(srv, e, username) {
		return nil, ErrCredentialsRefused
	}
	// Bind as the user on the connection that found it (it is closed right
	// after, so the service bind it loses does not matter): one TCP and TLS
	// handshake per sign-in instead of two.
	uc := c
	if e.foreign {
		// Found through a referral to another server: the password was
		// entered for the configured server only, and is not sent there.
		return nil, ErrCredentialsRefused
	}
	if e.origin != "" {
		// Found through a followed referral to the configured server itself
		// (another subtree): bind on the connection that has it.
		target := srv
		target.URL = e.origin
		target.StartTLS = srv.StartTLS && strings.HasPrefix(e.origin, "ldap://")
		if uc, err = connect(ctx, target); err != nil {
			return nil, err
		}
		defer uc.Close()
	}
	return bindResult(srv, e, uc.bindAs(ctx, e.DN, password))
}

// holdsUsername reports whether e's username attribute has the value
// username (case-insensitively, ignoring surrounding spaces), so that a
// directory that evaluates the filter loosely never signs in someone else.
func holdsUsername(srv Server, e *Entry, username string) bool {
	want := strings.TrimSpace(username)
	for _, u := range srv.Person(e).Usernames {
		if casefold.Equal(u, want) {
			return true
		}
	}
	return false
}
