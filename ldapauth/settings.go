package ldapauth

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/kv"
	"github.com/authority-server/authority/internal/sqltx"
)

// SettingsKey is the kv key the LDAP settings are stored under.
const SettingsKey = "ldap.settings"

// Settings defaults (docs/rules.md section 6 and 7).
const (
	RegistrantsDeny      = "deny"
	SyncNever            = "never"
	DefaultSyncInterval  = "12h"
	DefaultValvePercent  = 10
	DefaultValveMinUsers = 10
	// MinSyncInterval is the shortest schedule accepted.
	MinSyncInterval = time.Minute
	// DefaultSyncTimeout cancels a sync run that runs longer.
	DefaultSyncTimeout = "2h"
	// MinSyncTimeout is the shortest syncTimeout accepted.
	MinSyncTimeout = time.Minute
	// MaxSettingLength bounds registrantsNotFound and syncInterval, in characters.
	MaxSettingLength = 64
)

// Settings are the LDAP settings of Settings > Security > LDAP
// (/api/v1/settings/ldap).
type Settings struct {
	// RegistrantsNotFound is "deny", or "org:ID": new users not found in LDAP
	// are placed in org ID (an org that does not use LDAP) with a local
	// password.
	RegistrantsNotFound string `json:"registrantsNotFound"`
	// SyncInterval is a Go duration of at least 1m ("12h"), or "never".
	SyncInterval string `json:"syncInterval"`
	// ValvePercent and ValveMinUsers: a sync that would deactivate more than
	// ValvePercent% of the users in scope and more than ValveMinUsers users
	// deactivates nobody.
	ValvePercent  int `json:"valvePercent"`
	ValveMinUsers int `json:"valveMinUsers"`
	// SyncTimeout is a Go duration of at least 1m ("2h"): a sync run that
	// runs longer is cancelled.
	SyncTimeout string `json:"syncTimeout"`
	// IncrementalInterval is a Go duration of at least 1m ("5m"), or
	// "never": how often incremental runs come between full runs.
	IncrementalInterval string `json:"incrementalInterval"`
	// MissedRunsBeforeDeactivation: a user the directory no longer has is
	// deactivated only once this many runs in a row have missed it (1, the
	// default: the first run that misses it; at most 100).
	MissedRunsBeforeDeactivation int `json:"missedRunsBeforeDeactivation"`
}

// MissedRuns returns the missed-run threshold (1 when unset).
func (s Settings) MissedRuns() int { return max(s.MissedRunsBeforeDeactivation, 1) }

// DefaultIncrementalInterval is how often incremental runs come by default.
const DefaultIncrementalInterval = "5m"

// IncrementalEvery returns the incremental interval, and false for "never"
// (or a value that does not parse).
func (s Settings) IncrementalEvery() (time.Duration, bool) {
	v := strings.TrimSpace(s.IncrementalInterval)
	if v == "" {
		v = DefaultIncrementalInterval
	}
	if strings.EqualFold(v, SyncNever) {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinSyncInterval {
		return 0, false
	}
	return d, true
}

// DefaultSettings are the settings before an administrator saves any.
func DefaultSettings() Settings {
	return Settings{RegistrantsNotFound: RegistrantsDeny, SyncInterval: DefaultSyncInterval,
		ValvePercent: DefaultValvePercent, ValveMinUsers: DefaultValveMinUsers, SyncTimeout: DefaultSyncTimeout,
		IncrementalInterval: DefaultIncrementalInterval, MissedRunsBeforeDeactivation: 1}
}

// Timeout returns how long a sync run may run before it is cancelled: the
// SyncTimeout setting, or the default when it is empty or does not parse
// (SaveSettings never stores such a value).
func (s Settings) Timeout() time.Duration {
	if d, err := time.ParseDuration(strings.TrimSpace(s.SyncTimeout)); err == nil && d > 0 {
		return d
	}
	d, _ := time.ParseDuration(DefaultSyncTimeout)
	return d
}

// Interval returns the sync interval, and false for "never" (or a value that
// does not parse, which SaveSettings never stores).
func (s Settings) Interval() (time.Duration, bool) {
	v := strings.TrimSpace(s.SyncInterval)
	if strings.EqualFold(v, SyncNever) {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinSyncInterval {
		return 0, false
	}
	return d, true
}

// RegistrantsOrg returns the org for registrants not found in LDAP, or false
// for "deny".
func (s Settings) RegistrantsOrg() (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s.RegistrantsNotFound), "org:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// Settings returns the LDAP settings, the defaults where none are stored.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st := DefaultSettings()
	if _, err := kv.Get(ctx, s.db, SettingsKey, &st); err != nil {
		return Settings{}, fmt.Errorf("ldapauth: settings: %w", err)
	}
	return st, nil
}

// SaveSettings validates and stores the LDAP settings and returns them as
// stored (normalised). Each problem is an *apperr.Error naming the field.
func (s *Service) SaveSettings(ctx context.Context, in Settings) (Settings, error) {
	if err := apperr.CheckLine("registrantsNotFound", in.RegistrantsNotFound, MaxSettingLength); err != nil {
		return Settings{}, err
	}
	if err := apperr.CheckLine("syncInterval", in.SyncInterval, MaxSettingLength); err != nil {
		return Settings{}, err
	}
	out := in
	rnf := strings.TrimSpace(in.RegistrantsNotFound)
	switch {
	case rnf == "" || strings.EqualFold(rnf, RegistrantsDeny):
		out.RegistrantsNotFound = RegistrantsDeny
	case strings.HasPrefix(rnf, "org:"):
		id, ok := Settings{RegistrantsNotFound: rnf}.RegistrantsOrg()
		if !ok {
			return Settings{}, apperr.Invalid("registrantsNotFound", "%q: write org:ID with the id of an org, e.g. org:2", rnf)
		}
		o, err := s.orgs.Get(ctx, id)
		if err != nil {
			if apperr.Is(err, apperr.KindNotFound) {
				return Settings{}, apperr.Invalid("registrantsNotFound", "org %d does not exist: choose an org that does not use LDAP, or deny", id)
			}
			return Settings{}, err
		}
		if o.UsesLDAP() {
			return Settings{}, apperr.Invalid("registrantsNotFound", "org %d (%s) uses LDAP: choose an org with local authentication, or deny", id, o.Name)
		}
		out.RegistrantsNotFound = fmt.Sprintf("org:%d", id)
	default:
		return Settings{}, apperr.Invalid("registrantsNotFound", "must be \"deny\" or \"org:ID\", not %q", rnf)
	}
	var err error
	if out.SyncInterval, err = checkInterval("syncInterval", in.SyncInterval, DefaultSyncInterval, `"12h", "30m"`); err != nil {
		return Settings{}, err
	}
	switch st := strings.TrimSpace(in.SyncTimeout); st {
	case "":
		out.SyncTimeout = DefaultSyncTimeout
	default:
		d, err := time.ParseDuration(st)
		if err != nil {
			return Settings{}, apperr.Invalid("syncTimeout", "%q is not a duration: write e.g. \"2h\" or \"90m\"", st)
		}
		if d < MinSyncTimeout {
			return Settings{}, apperr.Invalid("syncTimeout", "%s is too short: at least 1m", st)
		}
		out.SyncTimeout = st
	}
	if err := apperr.CheckLine("incrementalInterval", in.IncrementalInterval, MaxSettingLength); err != nil {
		return Settings{}, err
	}
	if out.IncrementalInterval, err = checkInterval("incrementalInterval", in.IncrementalInterval, DefaultIncrementalInterval, `"5m", "15m"`); err != nil {
		return Settings{}, err
	}
	switch n := in.MissedRunsBeforeDeactivation; {
	case n == 0:
		out.MissedRunsBeforeDeactivation = 1
	case n < 0 || n > 100:
		return Settings{}, apperr.Invalid("missedRunsBeforeDeactivation", "must be from 1 to 100, not %d", n)
	}
	if in.ValvePercent < 0 || in.ValvePercent > 100 {
		return Settings{}, apperr.Invalid("valvePercent", "must be from 0 to 100, not %d", in.ValvePercent)
	}
	if in.ValveMinUsers < 0 {
		return Settings{}, apperr.Invalid("valveMinUsers", "must be 0 or more, not %d", in.ValveMinUsers)
	}
	err = sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		before := DefaultSettings()
		if _, err := kv.Get(ctx, tx, SettingsKey, &before); err != nil {
			return fmt.Errorf("ldapauth: save settings: %w", err)
		}
		if err := kv.Put(ctx, tx, SettingsKey, out); err != nil {
			return fmt.Errorf("ldapauth: save settings: %w", err)
		}
		return audit.RecordTx(ctx, tx, audit.SettingsLDAP, "settings:ldap", audit.Diff(before, out))
	})
	if err != nil {
		return Settings{}, err
	}
	s.log.Info("ldap settings saved", "registrantsNotFound", out.RegistrantsNotFound, "syncInterval", out.SyncInterval,
		"valvePercent", out.ValvePercent, "valveMinUsers", out.ValveMinUsers, "syncTimeout", out.SyncTimeout)
	return out, nil
}

// checkInterval normalises a schedule interval of field: "" is def, "never"
// turns it off, anything else a Go duration of at least MinSyncInterval
// (examples shows a few in the error).
func checkInterval(field, v, def, examples string) (string, error) {
	iv := strings.TrimSpace(v)
	switch {
	case iv == "":
		return def, nil
	case strings.EqualFold(iv, SyncNever):
		return SyncNever, nil
	}
	d, err := time.ParseDuration(iv)
	if err != nil {
		return "", apperr.Invalid(field, "%q is not a duration: write e.g. %s or \"never\"", iv, examples)
	}
	if d < MinSyncInterval {
		return "", apperr.Invalid(field, "%s is too short: at least 1m, or \"never\"", iv)
	}
	return iv, nil
}
