// Package users holds the server's users and what belongs to them: roles and
// the Role Mapping list, devices, archives, API tokens, and the lifecycle
// rules of deactivation, blocking and reactivation (legal hold included).
//
// Every lifecycle change is one transaction. Each has a ...Tx form that runs
// inside a caller's transaction, so that a batch (a directory sync) can apply
// many whole changes per commit.
package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users/roles"
)

// Status is a user's status.
type Status string

// The statuses of a user.
const (
	StatusActive      Status = "active"
	StatusBlocked     Status = "blocked"
	StatusDeactivated Status = "deactivated"
)

// Reason records who made a user blocked or deactivated.
type Reason string

// The reasons for a status. A sync only undoes what a sync did (or an
// administrator's deactivation in an LDAP org, which the directory overrides).
const (
	ReasonNone    Reason = ""
	ReasonAdmin   Reason = "admin"
	ReasonDirsync Reason = "dirsync"
	// ReasonProvisioning: a provisioning provider (SCIM) disabled or deleted the user.
	ReasonProvisioning Reason = "provisioning"
	ReasonLegalHold    Reason = "legal-hold-pending" // blocked because on hold; deactivated when released
)

// BuiltinAdmin is the username of the administrator the first start
// creates (with the roles.Sysadmin role and a local password).
const BuiltinAdmin = "admin"

// Length limits of a user's text fields, in characters (docs/rules.md
// section 10).
const (
	MaxUsernameLength = 256 // username
	MaxEmailLength    = 256 // email
	MaxNameLength     = 256 // first and last name
	MaxSearchLength   = 256 // Filter.Search, the search box of the user list
)

// User is a user as the API shows it.
type User struct {
	ID        int64  `json:"id" db:"id"`
	Username  string `json:"username" db:"username"`
	Email     string `json:"email" db:"email"`
	FirstName string `json:"firstName" db:"first_name"`
	LastName  string `json:"lastName" db:"last_name"`
	// The profile attributes (SPEC section 1; Profile).
	Title          string   `json:"title" db:"title"`
	Department     string   `json:"department" db:"department"`
	Division       string   `json:"division" db:"division"`
	EmployeeType   string   `json:"employeeType" db:"employee_type"`
	EmployeeNumber string   `json:"employeeNumber" db:"employee_number"`
	ManagerID      *int64   `json:"managerId" db:"manager_id"`
	City           string   `json:"city" db:"city"`
	State          string   `json:"state" db:"state"`
	Country        string   `json:"country" db:"country"`
	OrgID          int64    `json:"orgId" db:"org_id"`
	OrgName        string   `json:"orgName" db:"org_name"`
	Status         Status   `json:"status" db:"status"`
	StatusReason   Reason   `json:"statusReason" db:"status_reason"`
	Roles          []string `json:"roles" db:"-"`
	OnLegalHold    bool     `json:"onLegalHold" db:"on_hold"`
	LDAPServerID   *int64   `json:"ldapServerId" db:"ldap_server_id"`
	LDAPDN         string   `json:"ldapDN" db:"ldap_dn"`
	LDAPUID        string   `json:"ldapUid" db:"ldap_uid"`
	// StableID is the directory's id of the user (objectGUID, entryUUID), as ldapUid.
	StableID string `json:"stableId" db:"-"`
	// Source is what keeps the user up to date: "local", "ldap" or "provisioning"
	// (then ProviderID says which provider).
	Source     string `json:"source" db:"source"`
	ProviderID *int64 `json:"providerId" db:"provider_id"`
	CreatedAt  string `json:"createdAt" db:"created_at"`

	// PendingReason is who asked for the deactivation a legal hold turned into a block.
	PendingReason Reason `json:"-" db:"pending_reason"`
	// PasswordHash is the bcrypt hash of a local password ("" for none).
	PasswordHash string `json:"-" db:"password_hash"`
}

// Service reads and changes users.
type Service struct {
	DB   *sqlx.DB
	Orgs *orgs.Service
	Now  func() time.Time

	tokenLifetime atomic.Int64 // a time.Duration; 0: TokenTTL
}

// New returns a Service; now defaults to time.Now.
func New(db *sqlx.DB, o *orgs.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{DB: db, Orgs: o, Now: now}
}

const userColumns = `u.id, u.username, u.email, u.first_name, u.last_name, u.title, u.department, u.division,
	u.employee_type, u.employee_number, u.manager_id, u.city, u.state, u.country, u.org_id, o.name AS org_name,
	u.status, u.status_reason, u.pending_reason, u.password_hash, u.ldap_server_id, u.ldap_dn, u.ldap_uid, u.created_at,
	u.provider_id, CASE WHEN u.provider_id IS NOT NULL THEN 'provisioning' WHEN u.ldap_server_id IS NOT NULL AND u.ldap_dn <> '' THEN 'ldap' ELSE 'local' END AS source,
	` + onHoldSQL + ` AS on_hold`

// Filter narrows List. Zero fields match everything.
type Filter struct {
	Username string // exact, ignoring case (casefold.Key)
	Search   string // substring of username, email or names
	OrgID    int64
	OrgIDs   []int64
	Status   Status
	Limit    int
	Offset   int
}

// List returns the users matching f, ordered by id, with their roles.
func (s *Service) List(ctx context.Context, f Filter) ([]User, error) {
	return list(ctx, s.DB, f)
}

func list(ctx context.Context, q sqlx.QueryerContext, f Filter) ([]User, error) {
	if err := apperr.CheckText("username", f.Username, MaxUsernameLength); err != nil {
		return nil, err
	}
	if err := apperr.CheckText("search", f.Search, MaxSearchLength); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.Username != "" {
		where, args = append(where, "u.username_key = ?"), append(args, casefold.Key(f.Username))
	}
	if f.Search != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		like, folded := "%"+esc.Replace(f.Search)+"%", "%"+esc.Replace(casefold.Key(f.Search))+"%"
		where = append(where, `(coalesce(u.username_key, u.username) LIKE ? ESCAPE '\' OR u.email LIKE ? ESCAPE '\' OR u.first_name LIKE ? ESCAPE '\' OR u.last_name LIKE ? ESCAPE '\')`)
		args = append(args, folded, like, like, like)
	}
	if f.OrgID != 0 {
		where, args = append(where, "u.org_id = ?"), append(args, f.OrgID)
	}
	if len(f.OrgIDs) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(f.OrgIDs)), ",")
		where = append(where, "u.org_id IN ("+ph+")")
		for _, id := range f.OrgIDs {
			args = append(args, id)
		}
	}
	if f.Status != "" {
		where, args = append(where, "u.status = ?"), append(args, string(f.Status))
	}
	query := `SELECT ` + userColumns + ` FROM users u JOIN orgs o ON o.id = u.org_id`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY u.id"
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d OFFSET %d", f.Limit, f.Offset)
	}
	var out []User
	if err := sqlx.SelectContext(ctx, q, &out, query, args...); err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	if err := loadRoles(ctx, q, out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []User{}
	}
	return out, nil
}

func loadRoles(ctx context.Context, q sqlx.QueryerContext, us []User) error {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	byID, err := RolesOf(ctx, q, ids)
	if err != nil {
		return err
	}
	for i := range us {
		us[i].Roles = byID[us[i].ID]
		us[i].StableID = us[i].LDAPUID
	}
	return nil
}

// Get returns user id.
func (s *Service) Get(ctx context.Context, id int64) (User, error) { return GetTx(ctx, s.DB, id) }

// GetInTx returns user id, read inside tx through statements prepared once.
func (s *Service) GetInTx(ctx context.Context, tx *sqlx.Tx, id int64) (User, error) {
	return GetTx(ctx, tx, id)
}

// GetTx returns user id, reading through q.
func GetTx(ctx context.Context, q sqlx.QueryerContext, id int64) (User, error) {
	u, err := one(ctx, q, `u.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.NotFound("user %d does not exist", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get %d: %w", id, err)
	}
	return u, nil
}

// ByUsername returns the user with that username, ignoring case
// (casefold.Key).
func (s *Service) ByUsername(ctx context.Context, username string) (User, error) {
	u, err := one(ctx, s.DB, `u.username_key = ?`, casefold.Key(username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.NotFound("no user is named %q", username)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: by username: %w", err)
	}
	return u, nil
}

// roleSeparator separates the roles group_concat joins (no role name has
// a control character: users/roles).
const roleSeparator = "\x1f"

// one reads the user matching where (one assertion on u, with one
// argument) and its roles in one statement: sign-in reads a user per
// request. sql.ErrNoRows when there is none.
func one(ctx context.Context, q sqlx.QueryerContext, where string, arg any) (User, error) {
	var r struct {
		User
		RoleList sql.NullString `db:"role_list"`
	}
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+userColumns+`,
		(SELECT group_concat(role, char(31) ORDER BY role) FROM user_roles WHERE user_id = u.id) AS role_list
		FROM users u JOIN orgs o ON o.id = u.org_id WHERE `+where, arg)
	if err != nil {
		return User{}, err
	}
	u := r.User
	u.Roles = []string{}
	if r.RoleList.String != "" {
		u.Roles = strings.Split(r.RoleList.String, roleSeparator)
	}
	u.StableID = u.LDAPUID
	return u, nil
}

// NewUser is what creates a user. Roles empty means the org's default roles.
type NewUser struct {
	Username       string   `json:"username"`
	Password       string   `json:"password"`
	Email          string   `json:"email"`
	FirstName      string   `json:"firstName"`
	LastName       string   `json:"lastName"`
	Title          string   `json:"title"`
	Department     string   `json:"department"`
	Division       string   `json:"division"`
	EmployeeType   string   `json:"employeeType"`
	EmployeeNumber string   `json:"employeeNumber"`
	ManagerID      *int64   `json:"managerId"`
	City           string   `json:"city"`
	State          string   `json:"state"`
	Country        string   `json:"country"`
	OrgID          int64    `json:"orgId"`
	Roles          []string `json:"roles"`
	LDAPServerID   *int64   `json:"-"`
	LDAPDN         string   `json:"-"`
	LDAPUID        string   `json:"-"`

	provisioned bool // a provider's user: it signs in through its identity provider, no password
}

// Profile returns the profile n creates.
func (n NewUser) Profile() Profile {
	return Profile{Email: n.Email, FirstName: n.FirstName, LastName: n.LastName, Title: n.Title,
		Department: n.Department, Division: n.Division, EmployeeType: n.EmployeeType, EmployeeNumber: n.EmployeeNumber,
		City: n.City, State: n.State, Country: n.Country, ManagerID: copyID(n.ManagerID)}
}

// WithProfile returns n with p's fields.
func (n NewUser) WithProfile(p Profile) NewUser {
	n.Email, n.FirstName, n.LastName, n.Title = p.Email, p.FirstName, p.LastName, p.Title
	n.Department, n.Division, n.EmployeeType, n.EmployeeNumber = p.Department, p.Division, p.EmployeeType, p.EmployeeNumber
	n.City, n.State, n.Country, n.ManagerID = p.City, p.State, p.Country, copyID(p.ManagerID)
	return n
}

// ValidateUsername checks a username's form: not blank, no surrounding
// spaces, UTF-8 of at most MaxUsernameLength characters without control
// characters.
func ValidateUsername(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return apperr.Invalid("username", "is required")
	case name != strings.TrimSpace(name):
		return apperr.Invalid("username", "must not start or end with spaces")
	}
	return apperr.CheckLine("username", name, MaxUsernameLength)
}

// Create makes a user in one transaction (recorded as audit.UserCreate when
// an administrator acts).
func (s *Service) Create(ctx context.Context, n NewUser) (User, error) {
	var id int64
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if id, err = s.CreateTx(ctx, tx, n); err != nil || !audit.Active(ctx) {
			return err
		}
		u, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		changes := audit.Diff(nil, u, auditIgnore)
		if n.Password != "" {
			changes = append(changes, audit.Secret("password"))
		}
		return audit.RecordTx(ctx, tx, audit.UserCreate, Target(u), changes)
	})
	if err != nil {
		return User{}, err
	}
	return s.Get(ctx, id)
}

// CreateTx makes a user inside tx and returns its id. A user of an org that
// signs in with a local password needs one; roles must be known (stored
// spelling kept); no roles means the org's default roles.
func (s *Service) CreateTx(ctx context.Context, tx *sqlx.Tx, n NewUser) (int64, error) {
	if err := ValidateUsername(n.Username); err != nil {
		return 0, err
	}
	p := n.Profile().Trimmed()
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := CheckManagerTx(ctx, tx, 0, p.ManagerID); err != nil {
		return 0, err
	}
	if n.OrgID == 0 {
		return 0, apperr.Invalid("orgId", "is required")
	}
	org, err := orgs.GetTx(ctx, tx, n.OrgID)
	if apperr.Is(err, apperr.KindNotFound) {
		return 0, apperr.Invalid("orgId", "org %d does not exist", n.OrgID)
	}
	if err != nil {
		return 0, fmt.Errorf("users: create: %w", err)
	}
	if !org.UsesLDAP() && n.Password == "" && !n.provisioned {
		return 0, apperr.Invalid("password", "is required: org %q signs its users in with a local password", org.Name)
	}
	names := n.Roles
	if len(names) == 0 {
		names = org.DefaultRoles
	}
	rs, err := roles.Canonical(ctx, tx, "roles", names)
	if err != nil {
		return 0, err
	}
	var exists int
	if err := sqlx.GetContext(ctx, tx, &exists, `SELECT count(*) FROM users WHERE username_key = ?`, casefold.Key(n.Username)); err != nil {
		return 0, fmt.Errorf("users: create: %w", err)
	}
	if exists > 0 {
		return 0, apperr.Invalid("username", "a user named %q already exists; usernames are unique, ignoring case", n.Username)
	}
	hash := ""
	if n.Password != "" {
		if hash, err = HashPassword(n.Password); err != nil {
			return 0, err
		}
	}
	now := s.stamp()
	res, err := tx.ExecContext(ctx, `INSERT INTO users(username, username_key, email, first_name, last_name, title, department,
		division, employee_type, employee_number, city, state, country, manager_id, org_id, password_hash, ldap_server_id,
		ldap_dn, ldap_uid, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.Username, casefold.Key(n.Username), p.Email, p.FirstName, p.LastName, p.Title, p.Department, p.Division,
		p.EmployeeType, p.EmployeeNumber, p.City, p.State, p.Country, p.ManagerID, n.OrgID, hash, n.LDAPServerID,
		n.LDAPDN, n.LDAPUID, now, now)
	if err != nil {
		return 0, fmt.Errorf("users: create %s: %w", n.Username, err)
	}
	id, _ := res.LastInsertId()
	for _, r := range rs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles(user_id, role) VALUES(?, ?)`, id, r); err != nil {
			return 0, fmt.Errorf("users: create %s: role %s: %w", n.Username, r, err)
		}
	}
	return id, nil
}

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Service) InTx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	return sqltx.Run(ctx, s.DB, fn)
}

func (s *Service) stamp() string { return s.Now().UTC().Format(time.RFC3339) }

// apply runs one Tx-form change in its own transaction and returns the user
// after it. When an administrator acts, the change is recorded as action,
// with the user's fields before and after, in the same transaction.
func (s *Service) apply(ctx context.Context, action string, id int64, fn func(tx *sqlx.Tx) error) (User, error) {
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		if !audit.Active(ctx) {
			return fn(tx)
		}
		before, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		after, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		return audit.RecordTx(ctx, tx, action, Target(after), audit.Diff(before, after, auditIgnore))
	})
	if err != nil {
		return User{}, err
	}
	return s.Get(ctx, id)
}

// auditIgnore leaves out of a user's recorded changes what is no change of
// its own (the record's id and creation time).
var auditIgnore = audit.Ignore("id", "createdAt")

// Target names user u in the audit log: user:ID/USERNAME.
func Target(u User) string { return audit.Target("user", u.ID, u.Username) }
