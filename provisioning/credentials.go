package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/authority-server/authority/internal/apperr"
)

// A provider's credentials: made, hashed and checked.

// Authenticate returns the provider whose credentials these are: a bearer
// token, or a basic username and password (pass the token empty). Wrong,
// old or missing credentials are Unauthorized.
func (s *Service) Authenticate(ctx context.Context, token, username, password string) (Provider, error) {
	secret := token
	if secret == "" {
		secret = password
	}
	if secret == "" || len(secret) > 512 || len(username) > 512 {
		return Provider{}, apperr.Unauthorized("missing or wrong provisioning credentials")
	}
	h := hashSecret(secret)
	s.mu.Lock()
	p, ok := s.cache[h]
	s.mu.Unlock()
	if !ok {
		s.mu.Lock()
		gen := s.gen
		s.mu.Unlock()
		var r providerRow
		err := s.DB.GetContext(ctx, &r, `SELECT `+providerColumns+` FROM provisioning_providers WHERE secret_hash = ?`, h)
		if errors.Is(err, sql.ErrNoRows) {
			return Provider{}, apperr.Unauthorized("missing or wrong provisioning credentials")
		}
		if err != nil {
			return Provider{}, fmt.Errorf("provisioning: authenticate: %w", err)
		}
		if p, err = r.provider(); err != nil {
			return Provider{}, err
		}
		s.mu.Lock()
		if s.gen == gen { // no change since the read: it may be kept
			if s.cache == nil {
				s.cache = map[string]Provider{}
			}
			s.cache[h] = p
		}
		s.mu.Unlock()
	}
	wantBasic := token == ""
	if wantBasic != (p.CredentialType == CredentialBasic) ||
		(wantBasic && subtle.ConstantTimeCompare([]byte(username), []byte(p.Username)) != 1) {
		return Provider{}, apperr.Unauthorized("missing or wrong provisioning credentials")
	}
	return p, nil
}

// forget drops the providers kept by Authenticate (after any change).
func (s *Service) forget() {
	s.mu.Lock()
	s.cache = nil
	s.gen++
	s.mu.Unlock()
}

// newCredentials makes random credentials of kind and the hash to store.
func newCredentials(kind string) (Credentials, string, error) {
	secret, err := randomText(32)
	if err != nil {
		return Credentials{}, "", err
	}
	if kind == CredentialBasic {
		user, err := randomText(9)
		if err != nil {
			return Credentials{}, "", err
		}
		return Credentials{Username: "scim-" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(user)), Password: secret}, hashSecret(secret), nil
	}
	return Credentials{Token: secret}, hashSecret(secret), nil
}

func randomText(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("provisioning: make credentials: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is SHA-256: the secrets are 256 random bits, so a slow hash
// would add nothing but cost on every SCIM request.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
