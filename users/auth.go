package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/users/roles"
)

// MaxPasswordBytes is bcrypt's limit.
const MaxPasswordBytes = 72

// TokenTTL is how long an API token or console session lasts until an
// administrator sets another tokenLifetime (SetTokenLifetime).
const TokenTTL = 12 * time.Hour

// SetTokenLifetime sets how long the tokens issued from now on last (the
// tokenLifetime security setting); d <= 0 restores TokenTTL. Tokens already
// issued keep their expiry.
func (s *Service) SetTokenLifetime(d time.Duration) { s.tokenLifetime.Store(int64(d)) }

// TokenLifetime returns how long a token issued now lasts.
func (s *Service) TokenLifetime() time.Duration {
	if d := time.Duration(s.tokenLifetime.Load()); d > 0 {
		return d
	}
	return TokenTTL
}

// HashPassword returns the bcrypt hash of a local password.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", apperr.Invalid("password", "is required")
	}
	if len(pw) > MaxPasswordBytes {
		return "", apperr.Invalid("password", "must be at most %d bytes", MaxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("users: hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash makes a failed lookup cost as much as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)

// CheckPassword reports whether pw is u's local password. A user with no
// local password never matches; the time taken does not depend on that.
func CheckPassword(u User, pw string) bool {
	if pw == "" || len(pw) > MaxPasswordBytes {
		return false
	}
	if u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) == nil
}

// BurnPasswordCheck spends the time of one password check, for answers that
// must not reveal that a username does not exist.
func BurnPasswordCheck(pw string) { _ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw)) }

// MinPasswordLength is the shortest local password a change accepts.
const MinPasswordLength = 10

// ChangePassword sets user id's local password on behalf of by: the user
// itself must give its current password; an administrator setting another
// user's need not. Every token of the user is revoked in the same
// transaction (the caller signs in again).
func (s *Service) ChangePassword(ctx context.Context, id int64, by User, current, password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return apperr.Invalid("password", "must be at least %d characters", MinPasswordLength)
	}
	u, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case by.ID == id:
		if !CheckPassword(u, current) {
			return apperr.Invalid("currentPassword", "is not the account's current password")
		}
	case !by.HasRole(roles.Sysadmin):
		return apperr.Forbidden("only an administrator (%s) sets another user's password", roles.Sysadmin)
	}
	return s.setPassword(ctx, id, password)
}

// ResetPassword sets a new local password for the administrator username
// (a user with roles.Sysadmin) and revokes its tokens: the recovery of a
// lost administrator password, from the command line.
func (s *Service) ResetPassword(ctx context.Context, username, password string) (User, error) {
	u, err := s.ByUsername(ctx, username)
	if err != nil {
		return User{}, err
	}
	if !u.HasRole(roles.Sysadmin) {
		return User{}, apperr.Forbidden("user %s is not an administrator (%s): only an administrator's password is reset here", u.Username, roles.Sysadmin)
	}
	if err := s.setPassword(ctx, u.ID, password); err != nil {
		return User{}, err
	}
	return s.Get(ctx, u.ID)
}

// setPassword stores password's hash for user id and revokes its tokens.
// An administrator's change is recorded (audit.UserPassword), the password
// only as "(changed)".
func (s *Service) setPassword(ctx context.Context, id int64, password string) error {
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	return sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, h, s.stamp(), id); err != nil {
			return fmt.Errorf("users: set password of %d: %w", id, err)
		}
		if err := revokeTokens(ctx, tx, id); err != nil || !audit.Active(ctx) {
			return err
		}
		u, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.UserPassword, Target(u), []audit.Change{audit.Secret("password")})
	})
}

// IssueToken returns a new random bearer token for user id, valid for TokenLifetime.
// Only its SHA-256 is stored.
func (s *Service) IssueToken(ctx context.Context, id int64) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("users: token: %w", err)
	}
	tok := hex.EncodeToString(b)
	now := s.Now().UTC()
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO api_tokens(token_hash, user_id, created_at, expires_at) VALUES(?, ?, ?, ?)`,
		hashToken(tok), id, now.Format(time.RFC3339), now.Add(s.TokenLifetime()).Format(time.RFC3339)); err != nil {
		return "", fmt.Errorf("users: token: %w", err)
	}
	_, _ = s.DB.ExecContext(ctx, `DELETE FROM api_tokens WHERE expires_at < ?`, now.Format(time.RFC3339))
	return tok, nil
}

// UserForToken returns the active user a live token belongs to.
func (s *Service) UserForToken(ctx context.Context, tok string) (User, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `SELECT user_id FROM api_tokens WHERE token_hash = ? AND expires_at > ?`, hashToken(tok), s.stamp())
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.Unauthorized("the token is unknown or expired: sign in again")
	}
	if err != nil {
		return User{}, fmt.Errorf("users: token: %w", err)
	}
	u, err := s.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	if u.Status != StatusActive {
		return User{}, apperr.Unauthorized("the account is %s", u.Status)
	}
	return u, nil
}

// RevokeToken ends a token (sign-out).
func (s *Service) RevokeToken(ctx context.Context, tok string) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM api_tokens WHERE token_hash = ?`, hashToken(tok)); err != nil {
		return fmt.Errorf("users: revoke token: %w", err)
	}
	return nil
}

// HasRole reports whether u holds role (case-insensitive).
func (u User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
