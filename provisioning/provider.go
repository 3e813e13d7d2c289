// Package provisioning holds the provisioning providers of SCIM 2.0 (Entra
// ID, Okta, the directory-sync tool; docs/rules.md section 9): their
// credentials, organization and role mappings and deactivation delay, what
// a provider may do to its own users and groups, the delayed deactivations,
// and each provider's sync log. The SCIM protocol itself is package
// provisioning/scimapi; the lifecycle rules are package users'.
package provisioning

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// Credential types.
const (
	CredentialToken = "token" // an OAuth bearer token (Entra ID, Okta)
	CredentialBasic = "basic" // a username and password (the directory-sync tool)
)

// Organization mapping methods.
const (
	OrgSingle    = "single"    // every new user into one org
	OrgGroups    = "groups"    // SCIM groups → orgs, by priority
	OrgAttribute = "attribute" // the orgName extension attribute; missing orgs are created
)

// Role mapping methods.
const (
	RoleManual = "manual" // roles untouched; a new user gets its org's default roles
	RoleGroups = "groups" // SCIM groups → roles
)

// DefaultDeactivationDelay is how long a user a provider disabled or
// deleted stays blocked before it is deactivated.
const DefaultDeactivationDelay = 15 * time.Minute

// MaxDeactivationDelay bounds the delay (a year).
const MaxDeactivationDelay = 366 * 24 * time.Hour

// MaxNameLength bounds a provider's name, in characters.
const MaxNameLength = 200

// MaxMappedGroups bounds the groups of one mapping.
const MaxMappedGroups = 1000

// Provider is a provisioning provider as the API shows it. Credentials are
// never part of it.
type Provider struct {
	ID             int64       `json:"id"`
	Name           string      `json:"name"`
	CredentialType string      `json:"credentialType"`
	Username       string      `json:"username,omitempty"` // basic credentials' username (not secret)
	OrgMapping     OrgMapping  `json:"orgMapping"`
	RoleMapping    RoleMapping `json:"roleMapping"`
	// DeactivationDelay as Go writes a duration ("15m0s"); the API accepts "15m".
	DeactivationDelay Duration `json:"deactivationDelay"`
	CreatedAt         string   `json:"createdAt"`
	UpdatedAt         string   `json:"updatedAt"`
}

// OrgMapping says where a provider's users go.
type OrgMapping struct {
	Method string `json:"method"`
	// OrgID is the provider's org: new and unmapped users go there, created
	// orgs go under it, and the provider places people only in it and below.
	OrgID  int64      `json:"orgId"`
	Groups []OrgGroup `json:"groups"`
}

// OrgGroup maps a SCIM group to an org; the lowest Priority wins for
// people in several mapped groups (equal priorities: the lowest group id).
type OrgGroup struct {
	GroupID  string `json:"groupId"`
	OrgID    int64  `json:"orgId"`
	Priority int    `json:"priority"`
}

// RoleMapping says which roles a provider's users get.
type RoleMapping struct {
	Method string      `json:"method"`
	Groups []RoleGroup `json:"groups"`
}

// RoleGroup gives the members of a SCIM group roles.
type RoleGroup struct {
	GroupID string   `json:"groupId"`
	Roles   []string `json:"roles"`
}

// Duration is a time.Duration written and read as text ("15m").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return apperr.Invalid("deactivationDelay", "must be a duration such as \"15m\" or \"0s\"")
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return apperr.Invalid("deactivationDelay", "%q is not a duration such as \"15m\" or \"0s\"", s)
	}
	*d = Duration(v)
	return nil
}

// Input creates or changes a provider; a nil field is left as it is (or
// takes its default on create).
type Input struct {
	Name              *string      `json:"name"`
	CredentialType    *string      `json:"credentialType"`
	OrgMapping        *OrgMapping  `json:"orgMapping"`
	RoleMapping       *RoleMapping `json:"roleMapping"`
	DeactivationDelay *Duration    `json:"deactivationDelay"`
}

// Credentials are shown once, when a provider is created or its
// credentials regenerated: a token, or a username and password.
type Credentials struct {
	Token string `json:"token,omitempty"`
	// Username is also the provider's (Provider.Username), which the API shows.
	Username string `json:"-"`
	Password string `json:"password,omitempty"`
}

// Service keeps the providers and carries out what they ask.
type Service struct {
	DB    *sqlx.DB
	Orgs  *orgs.Service
	Users *users.Service
	Log   *slog.Logger
	Now   func() time.Time

	mu    sync.Mutex
	cache map[string]Provider // by credential hash
	gen   uint64              // bumped by every change: a read older than it is not cached
	wake  chan struct{}       // a deactivation became due earlier: see Run
}

// New returns the service.
func New(db *sqlx.DB, o *orgs.Service, u *users.Service, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{DB: db, Orgs: o, Users: u, Log: log, Now: now, wake: make(chan struct{}, 1)}
}

type providerRow struct {
	ID             int64  `db:"id"`
	Name           string `db:"name"`
	CredentialType string `db:"credential_type"`
	SecretHash     string `db:"secret_hash"`
	BasicUsername  string `db:"basic_username"`
	OrgMapping     string `db:"org_mapping"`
	RoleMapping    string `db:"role_mapping"`
	Delay          int64  `db:"deactivation_delay"`
	CreatedAt      string `db:"created_at"`
	UpdatedAt      string `db:"updated_at"`
}

func (r providerRow) provider() (Provider, error) {
	p := Provider{ID: r.ID, Name: r.Name, CredentialType: r.CredentialType, Username: r.BasicUsername,
		DeactivationDelay: Duration(r.Delay), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal([]byte(r.OrgMapping), &p.OrgMapping); err != nil {
		return Provider{}, fmt.Errorf("provisioning: provider %d: org mapping: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.RoleMapping), &p.RoleMapping); err != nil {
		return Provider{}, fmt.Errorf("provisioning: provider %d: role mapping: %w", r.ID, err)
	}
	if p.OrgMapping.Groups == nil {
		p.OrgMapping.Groups = []OrgGroup{}
	}
	if p.RoleMapping.Groups == nil {
		p.RoleMapping.Groups = []RoleGroup{}
	}
	return p, nil
}

const providerColumns = `id, name, credential_type, secret_hash, basic_username, org_mapping, role_mapping, deactivation_delay, created_at, updated_at`

// List returns every provider, by id.
func (s *Service) List(ctx context.Context) ([]Provider, error) {
	var rows []providerRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+providerColumns+` FROM provisioning_providers ORDER BY id`); err != nil {
		return nil, fmt.Errorf("provisioning: list providers: %w", err)
	}
	out := make([]Provider, 0, len(rows))
	for _, r := range rows {
		p, err := r.provider()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Get returns provider id.
func (s *Service) Get(ctx context.Context, id int64) (Provider, error) { return getTx(ctx, s.DB, id) }

func getTx(ctx context.Context, q sqlx.QueryerContext, id int64) (Provider, error) {
	var r providerRow
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+providerColumns+` FROM provisioning_providers WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Provider{}, apperr.NotFound("provisioning provider %d does not exist", id)
	}
	if err != nil {
		return Provider{}, fmt.Errorf("provisioning: get provider %d: %w", id, err)
	}
	return r.provider()
}

// Create adds a provider and returns it with its credentials, shown once.
func (s *Service) Create(ctx context.Context, in Input) (Provider, Credentials, error) {
	p := Provider{CredentialType: CredentialToken, OrgMapping: OrgMapping{Method: OrgSingle}, RoleMapping: RoleMapping{Method: RoleManual},
		DeactivationDelay: Duration(DefaultDeactivationDelay)}
	if in.Name == nil {
		return Provider{}, Credentials{}, apperr.Invalid("name", "is required")
	}
	if in.OrgMapping == nil {
		return Provider{}, Credentials{}, apperr.Invalid("orgMapping", "is required: at least {\"method\":\"single\",\"orgId\":ID}")
	}
	var creds Credentials
	var id int64
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		if err := s.merge(ctx, tx, &p, in); err != nil {
			return err
		}
		var hash string
		var err error
		if creds, hash, err = newCredentials(p.CredentialType); err != nil {
			return err
		}
		now := s.stamp()
		res, err := tx.ExecContext(ctx, `INSERT INTO provisioning_providers(name, credential_type, secret_hash, basic_username, org_mapping, role_mapping, deactivation_delay, created_at, updated_at)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.Name, p.CredentialType, hash, creds.Username, mustJSON(p.OrgMapping), mustJSON(p.RoleMapping), int64(p.DeactivationDelay), now, now)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return apperr.Invalid("name", "a provider named %q exists", p.Name)
			}
			return fmt.Errorf("provisioning: create provider: %w", err)
		}
		id, _ = res.LastInsertId()
		after, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.ProviderCreate, target(after), append(audit.Diff(nil, after, audit.Ignore("id", "createdAt", "updatedAt")), audit.Secret("credentials")))
	})
	if err != nil {
		return Provider{}, Credentials{}, err
	}
	s.forget()
	got, err := s.Get(ctx, id)
	return got, creds, err
}

// Update changes the fields of in that are set. The credential type cannot
// change (regenerate the credentials of a new provider instead).
func (s *Service) Update(ctx context.Context, id int64, in Input) (Provider, error) {
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		before, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if in.CredentialType != nil && *in.CredentialType != before.CredentialType {
			return apperr.Invalid("credentialType", "cannot change (it is %q): add a new provider for other credentials", before.CredentialType)
		}
		p := before
		if err := s.merge(ctx, tx, &p, in); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE provisioning_providers SET name = ?, org_mapping = ?, role_mapping = ?, deactivation_delay = ?, updated_at = ? WHERE id = ?`,
			p.Name, mustJSON(p.OrgMapping), mustJSON(p.RoleMapping), int64(p.DeactivationDelay), s.stamp(), id); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return apperr.Invalid("name", "a provider named %q exists", p.Name)
			}
			return fmt.Errorf("provisioning: update provider %d: %w", id, err)
		}
		after, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, audit.ProviderUpdate, target(after), audit.Diff(before, after, audit.Ignore("id", "createdAt", "updatedAt")))
	})
	if err != nil {
		return Provider{}, err
	}
	s.forget()
	return s.Get(ctx, id)
}

// merge validates in and sets it on p.
func (s *Service) merge(ctx context.Context, tx *sqlx.Tx, p *Provider, in Input) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return apperr.Invalid("name", "is required")
		}
		if err := apperr.CheckLine("name", name, MaxNameLength); err != nil {
			return err
		}
		p.Name = name
	}
	if in.CredentialType != nil {
		switch *in.CredentialType {
		case CredentialToken, CredentialBasic:
			p.CredentialType = *in.CredentialType
		default:
			return apperr.Invalid("credentialType", "must be %q or %q", CredentialToken, CredentialBasic)
		}
	}
	if in.DeactivationDelay != nil {
		d := time.Duration(*in.DeactivationDelay)
		if d < 0 || d > MaxDeactivationDelay {
			return apperr.Invalid("deactivationDelay", "must be between 0s and %v", MaxDeactivationDelay)
		}
		p.DeactivationDelay = *in.DeactivationDelay
	}
	tree, err := orgsTree(ctx, tx)
	if err != nil {
		return err
	}
	if in.OrgMapping != nil {
		m := *in.OrgMapping
		if err := checkOrgMapping(tree, m); err != nil {
			return err
		}
		if m.Groups == nil {
			m.Groups = []OrgGroup{}
		}
		p.OrgMapping = m
	}
	if in.RoleMapping != nil {
		m := *in.RoleMapping
		if err := checkRoleMapping(ctx, tx, &m); err != nil {
			return err
		}
		p.RoleMapping = m
	}
	return nil
}

// Delete removes provider id. Its users stay, blocked (reason
// provisioning; devices and archives kept), for an administrator to decide
// what becomes of them; its groups go.
func (s *Service) Delete(ctx context.Context, id int64) error {
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		before, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		ids, err := users.ProviderUserIDs(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, uid := range ids {
			if _, err := s.Users.SourceBlockTx(ctx, tx, uid, users.ReasonProvisioning); err != nil && !apperr.Is(err, apperr.KindConflict) {
				return err
			}
			if err := s.Users.SetProvisioningStateTx(ctx, tx, uid, false, time.Time{}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM provisioning_providers WHERE id = ?`, id); err != nil {
			return fmt.Errorf("provisioning: delete provider %d: %w", id, err)
		}
		return audit.RecordTx(ctx, tx, audit.ProviderDelete, target(before), audit.Diff(before, nil, audit.Ignore("id", "createdAt", "updatedAt")))
	})
	s.forget()
	return err
}

// Regenerate gives provider id new credentials, shown once; the old ones
// stop working at once.
func (s *Service) Regenerate(ctx context.Context, id int64) (Credentials, error) {
	var creds Credentials
	err := sqltx.Run(ctx, s.DB, func(tx *sqlx.Tx) error {
		p, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		var hash string
		if creds, hash, err = newCredentials(p.CredentialType); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE provisioning_providers SET secret_hash = ?, basic_username = ?, updated_at = ? WHERE id = ?`,
			hash, creds.Username, s.stamp(), id); err != nil {
			return fmt.Errorf("provisioning: regenerate credentials of %d: %w", id, err)
		}
		return audit.RecordTx(ctx, tx, audit.ProviderCredentials, target(p), []audit.Change{audit.Secret("credentials")})
	})
	s.forget()
	return creds, err
}

func target(p Provider) string { return audit.Target("provider", p.ID, p.Name) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (s *Service) stamp() string { return s.Now().UTC().Format(time.RFC3339) }

func orgsTree(ctx context.Context, q sqlx.QueryerContext) (*orgs.Tree, error) {
	return orgs.LoadTx(ctx, q)
}
