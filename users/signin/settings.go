package signin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/kv"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/internal/throttle"
)

// SettingsKey is the kv key the security settings are stored under.
const SettingsKey = "security.settings"

// Bounds of the security settings.
const (
	MaxMaxFailures        = 100
	MaxPerAddressFailures = 100_000
	MinWindow             = time.Second    // failureWindow, maxLockout
	MaxWindow             = 24 * time.Hour // failureWindow, maxLockout
	MinTokenLifetime      = 5 * time.Minute
	MaxTokenLifetime      = 30 * 24 * time.Hour
)

// Settings are the sign-in security settings (GET/PUT
// /api/v1/settings/security, SPEC section 10): the throttle's limits and how
// long tokens and console sessions last. Durations are Go durations ("15m").
type Settings struct {
	MaxFailures        int    `json:"maxFailures"`        // failures of one username within failureWindow that lock it out (1 to 100)
	FailureWindow      string `json:"failureWindow"`      // 1s to 24h
	MaxLockout         string `json:"maxLockout"`         // the longest lockout, 1s to 24h
	PerAddressFailures int    `json:"perAddressFailures"` // more failures than this from one address within a minute block it (1 to 100,000)
	TokenLifetime      string `json:"tokenLifetime"`      // API tokens and console sessions, 5m to 720h
}

// DefaultSettings are the settings before an administrator saves any.
func DefaultSettings() Settings {
	l := throttle.DefaultLimits()
	return Settings{MaxFailures: l.MaxFailures, FailureWindow: FormatDuration(l.FailureWindow), MaxLockout: FormatDuration(l.MaxLockout),
		PerAddressFailures: l.PerAddressFailures, TokenLifetime: "12h"}
}

// Limits returns the throttle limits of valid settings.
func (st Settings) Limits() throttle.Limits {
	w, _ := time.ParseDuration(st.FailureWindow)
	m, _ := time.ParseDuration(st.MaxLockout)
	return throttle.Limits{MaxFailures: st.MaxFailures, FailureWindow: w, MaxLockout: m, PerAddressFailures: st.PerAddressFailures}
}

// Lifetime returns the token lifetime of valid settings.
func (st Settings) Lifetime() time.Duration {
	d, _ := time.ParseDuration(st.TokenLifetime)
	return d
}

// Settings returns the security settings, the defaults where none are stored.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st := DefaultSettings()
	if _, err := kv.Get(ctx, s.DB, SettingsKey, &st); err != nil {
		return Settings{}, fmt.Errorf("signin: load the security settings: %w", err)
	}
	return st, nil
}

// ApplySettings loads the stored settings and puts them in force (at start).
func (s *Service) ApplySettings(ctx context.Context) error {
	st, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	if st, err = validate(st); err != nil {
		// Stored by an older version or by hand: keep the defaults, say so.
		s.logger().Warn("the stored security settings are not valid; using the defaults until they are saved again", "err", err)
		st = DefaultSettings()
	}
	s.apply(st)
	return nil
}

// SaveSettings validates and stores the security settings and puts them in
// force at once (the throttle's limits, the lifetime of tokens issued from
// now on). It returns them as stored: durations in their short form
// ("1h30m"). Each problem is an *apperr.Error naming the field.
func (s *Service) SaveSettings(ctx context.Context, in Settings) (Settings, error) {
	out, err := validate(in)
	if err != nil {
		return Settings{}, err
	}
	err = sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		before := DefaultSettings()
		if _, err := kv.Get(ctx, tx, SettingsKey, &before); err != nil {
			return err
		}
		if err := kv.Put(ctx, tx, SettingsKey, out); err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.SettingsSecurity, "settings:security", audit.Diff(before, out))
	})
	if err != nil {
		return Settings{}, fmt.Errorf("signin: save the security settings: %w", err)
	}
	s.apply(out)
	s.logger().Info("security settings saved", "maxFailures", out.MaxFailures, "failureWindow", out.FailureWindow,
		"maxLockout", out.MaxLockout, "perAddressFailures", out.PerAddressFailures, "tokenLifetime", out.TokenLifetime)
	return out, nil
}

func (s *Service) apply(st Settings) {
	if s.Throttle != nil {
		s.Throttle.SetLimits(st.Limits())
	}
	if s.Users != nil {
		s.Users.SetTokenLifetime(st.Lifetime())
	}
}

func validate(in Settings) (Settings, error) {
	out := in
	if in.MaxFailures < 1 || in.MaxFailures > MaxMaxFailures {
		return Settings{}, apperr.Invalid("maxFailures", "must be from 1 to %d, not %d", MaxMaxFailures, in.MaxFailures)
	}
	if in.PerAddressFailures < 1 || in.PerAddressFailures > MaxPerAddressFailures {
		return Settings{}, apperr.Invalid("perAddressFailures", "must be from 1 to %d, not %d", MaxPerAddressFailures, in.PerAddressFailures)
	}
	var err error
	if out.FailureWindow, err = durationField("failureWindow", in.FailureWindow, MinWindow, MaxWindow); err != nil {
		return Settings{}, err
	}
	if out.MaxLockout, err = durationField("maxLockout", in.MaxLockout, MinWindow, MaxWindow); err != nil {
		return Settings{}, err
	}
	if out.TokenLifetime, err = durationField("tokenLifetime", in.TokenLifetime, MinTokenLifetime, MaxTokenLifetime); err != nil {
		return Settings{}, err
	}
	return out, nil
}

// durationField parses a duration setting within [lo, hi] and returns its short form.
func durationField(field, v string, lo, hi time.Duration) (string, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return "", apperr.Invalid(field, "%q is not a duration: write e.g. \"15m\", \"1h\" or \"1h30m\"", v)
	}
	if d < lo || d > hi {
		return "", apperr.Invalid(field, "must be from %s to %s, not %s", FormatDuration(lo), FormatDuration(hi), v)
	}
	return FormatDuration(d), nil
}

// FormatDuration writes d in its short form: "15m", "1h", "1h30m", "90s" →
// "1m30s" (time.Duration.String without the zero units at the end).
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
