package ldapauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/secret"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/internal/stamped"
	"github.com/authority-server/authority/orgs"
)

// Service is the LDAP server list (bind passwords sealed with the Box) and
// the LDAP settings.
type Service struct {
	db   *sqlx.DB
	box  *secret.Box
	log  *slog.Logger
	orgs *orgs.Service
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Pool keeps sign-in connections open (NewPool; closed by Close).
	Pool *Pool
}

// NewService returns the service over db; box seals bind passwords; log
// gets one line per change (never a password).
func NewService(db *sqlx.DB, box *secret.Box, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, box: box, log: log, orgs: orgs.New(db, time.Now), Now: time.Now, Pool: NewPool()}
}

// Authenticate is the package's Authenticate on the service's kept-open
// connections (see Pool).
func (s *Service) Authenticate(ctx context.Context, srv Server, username, password string) (*Entry, error) {
	return s.Pool.Authenticate(ctx, srv, username, password)
}

// Close closes the kept-open connections.
func (s *Service) Close() error {
	s.Pool.Close()
	return nil
}

type serverRow struct {
	ID                  int64  `db:"id"`
	Name                string `db:"name"`
	URL                 string `db:"url"`
	StartTLS            bool   `db:"start_tls"`
	CACertificate       string `db:"ca_certificate"`
	AllowUnsafeCerts    bool   `db:"allow_unsafe_certs"`
	BindAnonymously     bool   `db:"bind_anonymously"`
	BindDN              string `db:"bind_dn"`
	BindPasswordSealed  string `db:"bind_password_sealed"`
	SearchFilter        string `db:"search_filter"`
	EmailAttribute      string `db:"email_attribute"`
	FirstNameAttribute  string `db:"first_name_attribute"`
	LastNameAttribute   string `db:"last_name_attribute"`
	TimeoutSeconds      int    `db:"timeout_seconds"`
	PageSize            int    `db:"page_size"`
	FollowReferrals     bool   `db:"follow_referrals"`
	ActiveScript        string `db:"active_script"`
	OrgNameScript       string `db:"org_name_script"`
	RoleNameScript      string `db:"role_name_script"`
	SensitiveAttributes string `db:"sensitive_attributes"`
	ChangeTracking      string `db:"change_tracking"`
	StableIDAttribute   string `db:"stable_id_attribute"`
	NestedGroups        bool   `db:"nested_groups"`
	ProfileMapping
}

const serverColumns = `id, name, url, start_tls, ca_certificate, allow_unsafe_certs, bind_anonymously, bind_dn,
	bind_password_sealed, search_filter, email_attribute, first_name_attribute, last_name_attribute,
	timeout_seconds, page_size, follow_referrals, active_script, org_name_script, role_name_script,
	sensitive_attributes, title_attribute, department_attribute, division_attribute, employee_type_attribute,
	manager_attribute, city_attribute, state_attribute, country_attribute, change_tracking, stable_id_attribute,
	nested_groups`

func (s *Service) fromRow(r serverRow) (Server, error) {
	srv := Server{
		ID: r.ID, Name: r.Name, URL: r.URL, StartTLS: r.StartTLS, CACertificate: r.CACertificate,
		AllowUnsafeCerts: r.AllowUnsafeCerts, BindAnonymously: r.BindAnonymously, BindDN: r.BindDN,
		HasBindPassword: r.BindPasswordSealed != "", SearchFilter: r.SearchFilter,
		EmailAttribute: r.EmailAttribute, FirstNameAttribute: r.FirstNameAttribute, LastNameAttribute: r.LastNameAttribute,
		TimeoutSeconds: r.TimeoutSeconds, PageSize: r.PageSize, FollowReferrals: r.FollowReferrals,
		ActiveScript: r.ActiveScript, OrgNameScript: r.OrgNameScript, RoleNameScript: r.RoleNameScript,
		SensitiveAttributes: []string{}, ProfileMapping: r.ProfileMapping, ChangeTracking: r.ChangeTracking,
		StableIDAttribute: r.StableIDAttribute, NestedGroups: r.NestedGroups,
	}
	if r.SensitiveAttributes != "" {
		if err := json.Unmarshal([]byte(r.SensitiveAttributes), &srv.SensitiveAttributes); err != nil {
			return Server{}, fmt.Errorf("ldapauth: server %d: stored sensitiveAttributes: %w", r.ID, err)
		}
	}
	if r.BindPasswordSealed != "" {
		pw, err := s.box.Open(r.BindPasswordSealed)
		if err != nil {
			// The message of secret.Open never contains the secret.
			return Server{}, fmt.Errorf("ldapauth: server %d: bind password: %w", r.ID, err)
		}
		srv.BindPassword = pw
	}
	srv.Fetched = srv.SearchAttributes()
	return srv, nil
}

// List returns every server, ordered by id, with the bind password opened
// into Server.BindPassword (in memory only: it is never marshalled).
func (s *Service) List(ctx context.Context) ([]Server, error) {
	all, err := s.servers(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("ldapauth: list servers: %w", err)
	}
	if len(all.broken) > 0 {
		return nil, all.broken[all.brokenIDs[0]]
	}
	out := make([]Server, len(all.sorted))
	for i, srv := range all.sorted {
		out[i] = srv.clone()
	}
	return out, nil
}

// Get returns server id (with its bind password opened), or an
// apperr NotFound error.
func (s *Service) Get(ctx context.Context, id int64) (Server, error) {
	return s.get(ctx, s.db, id)
}

func (s *Service) get(ctx context.Context, q sqlx.QueryerContext, id int64) (Server, error) {
	all, err := s.servers(ctx, q)
	if err != nil {
		return Server{}, fmt.Errorf("ldapauth: get server %d: %w", id, err)
	}
	if err, ok := all.broken[id]; ok {
		return Server{}, err
	}
	i, ok := all.byID[id]
	if !ok {
		return Server{}, apperr.NotFound("LDAP server %d does not exist", id)
	}
	return all.sorted[i].clone(), nil
}

// serverSet is every server, built (fromRow) once per version of the
// table and shared: never changed, handed out as clones.
type serverSet struct {
	sorted []Server      // by id
	byID   map[int64]int // index in sorted
	// broken are the servers whose stored row could not be built (a bind
	// password that does not open): their Get fails, and List.
	broken    map[int64]error
	brokenIDs []int64 // ordered
}

// keptServers are the servers last read, kept while the ldap_servers_stamp
// row is unchanged (migration 0016: every write to ldap_servers changes it).
var keptServers = stamped.New[*serverSet](`SELECT stamp FROM ldap_servers_stamp WHERE id = 1`)

// servers returns every server as q sees it, read and built afresh only
// when one changed since they were last read.
func (s *Service) servers(ctx context.Context, q sqlx.QueryerContext) (*serverSet, error) {
	return keptServers.Get(ctx, q, func(q sqlx.QueryerContext) (*serverSet, error) {
		var rows []serverRow
		if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+serverColumns+` FROM ldap_servers ORDER BY id`); err != nil {
			return nil, err
		}
		set := &serverSet{sorted: make([]Server, 0, len(rows)), byID: make(map[int64]int, len(rows)), broken: map[int64]error{}}
		for _, r := range rows {
			srv, err := s.fromRow(r)
			if err != nil {
				set.broken[r.ID] = err
				set.brokenIDs = append(set.brokenIDs, r.ID)
				continue
			}
			set.byID[srv.ID] = len(set.sorted)
			set.sorted = append(set.sorted, srv)
		}
		return set, nil
	})
}

// clone is srv with slices of its own, so that a caller changing them
// leaves the kept servers alone.
func (srv Server) clone() Server {
	srv.SensitiveAttributes = slices.Clone(srv.SensitiveAttributes)
	srv.Fetched = slices.Clone(srv.Fetched)
	return srv
}

// ServerInput is the body of POST and PATCH /ldap/servers: a nil field is
// left as it is (PATCH) or takes its default (POST). BindPassword is the
// explicit "edit password" action: absent keeps the stored password (and is
// refused when the scheme, host, port, StartTLS or bind DN changes), ""
// clears it. ID and HasBindPassword are read-only; they are accepted (so a
// client may send back what it got) and ignored.
type ServerInput struct {
	Name                *string   `json:"name"`
	URL                 *string   `json:"url"`
	StartTLS            *bool     `json:"startTLS"`
	CACertificate       *string   `json:"caCertificate"`
	AllowUnsafeCerts    *bool     `json:"allowUnsafeCerts"`
	BindAnonymously     *bool     `json:"bindAnonymously"`
	BindDN              *string   `json:"bindDN"`
	BindPassword        *string   `json:"bindPassword"`
	SearchFilter        *string   `json:"searchFilter"`
	EmailAttribute      *string   `json:"emailAttribute"`
	FirstNameAttribute  *string   `json:"firstNameAttribute"`
	LastNameAttribute   *string   `json:"lastNameAttribute"`
	TimeoutSeconds      *int      `json:"timeoutSeconds"`
	PageSize            *int      `json:"pageSize"`
	FollowReferrals     *bool     `json:"followReferrals"`
	ActiveScript        *string   `json:"activeScript"`
	OrgNameScript       *string   `json:"orgNameScript"`
	RoleNameScript      *string   `json:"roleNameScript"`
	SensitiveAttributes *[]string `json:"sensitiveAttributes"`
	ChangeTracking      *string   `json:"changeTracking"`
	StableIDAttribute   *string   `json:"stableIdAttribute"`
	NestedGroups        *bool     `json:"nestedGroups"`
	ProfileMappingInput

	ID              *int64 `json:"id,omitempty"`
	HasBindPassword *bool  `json:"hasBindPassword,omitempty"`
}

// InputOf returns the input that creates srv as it is, bind password
// included (for tests, the demo and copying a server).
func InputOf(srv Server) ServerInput {
	sens := append([]string(nil), srv.SensitiveAttributes...)
	return ServerInput{
		Name: &srv.Name, URL: &srv.URL, StartTLS: &srv.StartTLS, CACertificate: &srv.CACertificate,
		AllowUnsafeCerts: &srv.AllowUnsafeCerts, BindAnonymously: &srv.BindAnonymously, BindDN: &srv.BindDN,
		BindPassword: &srv.BindPassword, SearchFilter: &srv.SearchFilter, EmailAttribute: &srv.EmailAttribute,
		FirstNameAttribute: &srv.FirstNameAttribute, LastNameAttribute: &srv.LastNameAttribute,
		TimeoutSeconds: &srv.TimeoutSeconds, PageSize: &srv.PageSize, FollowReferrals: &srv.FollowReferrals,
		ActiveScript: &srv.ActiveScript, OrgNameScript: &srv.OrgNameScript, RoleNameScript: &srv.RoleNameScript,
		SensitiveAttributes: &sens, ProfileMappingInput: srv.ProfileMapping.inputOf(), ChangeTracking: &srv.ChangeTracking,
		StableIDAttribute: &srv.StableIDAttribute, NestedGroups: &srv.NestedGroups,
	}
}

// apply sets the fields present in in on srv.
func (in ServerInput) apply(srv *Server) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setB := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&srv.Name, in.Name)
	set(&srv.URL, in.URL)
	setB(&srv.StartTLS, in.StartTLS)
	set(&srv.CACertificate, in.CACertificate)
	setB(&srv.AllowUnsafeCerts, in.AllowUnsafeCerts)
	setB(&srv.BindAnonymously, in.BindAnonymously)
	set(&srv.BindDN, in.BindDN)
	set(&srv.BindPassword, in.BindPassword)
	set(&srv.SearchFilter, in.SearchFilter)
	set(&srv.EmailAttribute, in.EmailAttribute)
	set(&srv.FirstNameAttribute, in.FirstNameAttribute)
	set(&srv.LastNameAttribute, in.LastNameAttribute)
	setI(&srv.TimeoutSeconds, in.TimeoutSeconds)
	setI(&srv.PageSize, in.PageSize)
	setB(&srv.FollowReferrals, in.FollowReferrals)
	set(&srv.ActiveScript, in.ActiveScript)
	set(&srv.OrgNameScript, in.OrgNameScript)
	set(&srv.RoleNameScript, in.RoleNameScript)
	if in.SensitiveAttributes != nil {
		srv.SensitiveAttributes = append([]string{}, (*in.SensitiveAttributes)...)
	}
	in.ProfileMappingInput.apply(&srv.ProfileMapping)
	set(&srv.ChangeTracking, in.ChangeTracking)
	set(&srv.StableIDAttribute, in.StableIDAttribute)
	setB(&srv.NestedGroups, in.NestedGroups)
}

// Create validates and stores a new server. Unset fields take their
// defaults (timeout 30 s, page size 500, mail/givenName/sn, the default
// active script). Each problem is an *apperr.Error of kind KindInvalid
// naming the field (and, for a script, the line and column).
func (s *Service) Create(ctx context.Context, in ServerInput) (Server, error) {
	srv := newServerDefaults()
	in.apply(&srv)
	if err := normalize(&srv); err != nil {
		return Server{}, err
	}
	sealed, err := s.box.Seal(srv.BindPassword)
	if err != nil {
		return Server{}, fmt.Errorf("ldapauth: seal bind password: %w", err)
	}
	now := s.Now().UTC().Format(time.RFC3339)
	sens, _ := json.Marshal(srv.SensitiveAttributes)
	var id int64
	err = sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO ldap_servers(name, url, start_tls, ca_certificate, allow_unsafe_certs,
			bind_anonymously, bind_dn, bind_password_sealed, search_filter, email_attribute, first_name_attribute,
			last_name_attribute, timeout_seconds, page_size, follow_referrals, active_script, org_name_script,
			role_name_script, sensitive_attributes, title_attribute, department_attribute, division_attribute,
			employee_type_attribute, manager_attribute, city_attribute, state_attribute, country_attribute, created_at, updated_at)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			srv.Name, srv.URL, srv.StartTLS, srv.CACertificate, srv.AllowUnsafeCerts, srv.BindAnonymously, srv.BindDN,
			sealed, srv.SearchFilter, srv.EmailAttribute, srv.FirstNameAttribute, srv.LastNameAttribute,
			srv.TimeoutSeconds, srv.PageSize, srv.FollowReferrals, srv.ActiveScript, srv.OrgNameScript,
			srv.RoleNameScript, string(sens), srv.TitleAttribute, srv.DepartmentAttribute, srv.DivisionAttribute,
			srv.EmployeeTypeAttribute, srv.ManagerAttribute, srv.CityAttribute, srv.StateAttribute, srv.CountryAttribute, now, now)
		if err != nil {
			return fmt.Errorf("ldapauth: create server: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ldap_servers SET change_tracking = ?, stable_id_attribute = ?, nested_groups = ? WHERE id = ?`,
			srv.ChangeTracking, srv.StableIDAttribute, srv.NestedGroups, id); err != nil {
			return fmt.Errorf("ldapauth: create server: %w", err)
		}
		srv.ID, srv.HasBindPassword = id, srv.BindPassword != ""
		return recordServer(ctx, tx, audit.LDAPServerCreate, nil, &srv, srv.BindPassword != "")
	})
	if err != nil {
		return Server{}, err
	}
	s.log.Info("ldap server created", "id", id, "name", srv.Name, "url", srv.URL)
	return s.Get(ctx, id)
}

// Draft returns server id with the fields present in in applied and
// validated, without storing anything (id 0: a new server with the
// defaults), so that an administrator can test or preview unsaved settings.
// A draft of a stored server keeps its bind password unless in sets one,
// and is refused as Update refuses a change of where the password goes.
func (s *Service) Draft(ctx context.Context, id int64, in ServerInput) (Server, error) {
	srv := newServerDefaults()
	if id != 0 {
		var err error
		if srv, err = s.Get(ctx, id); err != nil {
			return Server{}, err
		}
	}
	old := srv
	in.apply(&srv)
	if err := normalize(&srv); err != nil {
		return Server{}, err
	}
	if id != 0 {
		if _, err := checkPasswordFollows(old, &srv, in); err != nil {
			return Server{}, err
		}
	}
	srv.HasBindPassword = srv.BindPassword != ""
	return srv, nil
}

// checkPasswordFollows keeps a stored bind password with the connection it
// was entered for: when an update changes the scheme, host, port, StartTLS
// or bind DN of a server that binds with its stored password, and in does
// not set a new one, it is refused (apperr Invalid on "bindPassword"), so
// that whoever can edit these settings cannot make the server send the
// service password to another host, over a weaker transport, or for another
// account. A server that binds anonymously does not send the password: the
// change is allowed and the stale password is dropped from updated
// (dropped is true), so that turning bindAnonymously off later needs a new
// one. Base DN, filter, scripts and the rest keep the password.
func checkPasswordFollows(old Server, updated *Server, in ServerInput) (dropped bool, err error) {
	if in.BindPassword != nil || updated.BindPassword == "" {
		return false, nil
	}
	change := passwordTargetChange(old, *updated)
	if change == "" {
		return false, nil
	}
	if updated.BindAnonymously {
		updated.BindPassword = ""
		return true, nil
	}
	return false, apperr.Invalid("bindPassword", "enter the bind password again: %s, and a stored password is only sent to the server, over the transport and for the bind DN it was entered for", change)
}

// passwordTargetChange says how updated changes where, how or as whom the
// bind password is sent compared with old: scheme, host, port, StartTLS or
// bind DN; "" when none changes (host names and DNs compare
// case-insensitively, a default port equals the port written out).
func passwordTargetChange(old, updated Server) string {
	ou, err1 := parseServerURL(old.URL)
	nu, err2 := parseServerURL(updated.URL)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("the URL changes from %q to %q", old.URL, updated.URL)
	}
	var changes []string
	if ou.scheme != nu.scheme || !strings.EqualFold(ou.host, nu.host) || ou.port != nu.port {
		changes = append(changes, fmt.Sprintf("the server moves from %s://%s to %s://%s", ou.scheme, ou.addr(), nu.scheme, nu.addr()))
	}
	if old.StartTLS != updated.StartTLS {
		changes = append(changes, fmt.Sprintf("startTLS changes from %t to %t", old.StartTLS, updated.StartTLS))
	}
	if !sameDN(old.BindDN, updated.BindDN) {
		changes = append(changes, fmt.Sprintf("the bind DN changes from %q to %q", old.BindDN, updated.BindDN))
	}
	return strings.Join(changes, "; ")
}

// sameDN reports whether a and b name the same entry (case-insensitively,
// spaces around separators ignored); strings that are not DNs must be equal.
func sameDN(a, b string) bool {
	if strings.TrimSpace(a) == strings.TrimSpace(b) {
		return true
	}
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

func newServerDefaults() Server {
	return Server{
		EmailAttribute: DefaultEmailAttribute, FirstNameAttribute: DefaultFirstNameAttr, LastNameAttribute: DefaultLastNameAttr,
		TimeoutSeconds: DefaultTimeoutSeconds, PageSize: DefaultPageSize, ActiveScript: DefaultActiveScript,
		SensitiveAttributes: []string{}, ChangeTracking: TrackingAuto, StableIDAttribute: StableIDAuto,
	}
}

// Update validates and applies the fields present in in to server id. The
// bind password changes only when in.BindPassword is set ("" clears it).
// A change of the scheme, host, port, StartTLS or bind DN without a new
// bind password is refused on "bindPassword" (see checkPasswordFollows).
func (s *Service) Update(ctx context.Context, id int64, in ServerInput) (Server, error) {
	var out Server
	var passwordDropped bool
	err := sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		srv, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		old := srv
		in.apply(&srv)
		if err := normalize(&srv); err != nil {
			return err
		}
		dropped, err := checkPasswordFollows(old, &srv, in)
		if err != nil {
			return err
		}
		passwordDropped = dropped
		sens, _ := json.Marshal(srv.SensitiveAttributes)
		if _, err := tx.ExecContext(ctx, `UPDATE ldap_servers SET name = ?, url = ?, start_tls = ?, ca_certificate = ?,
			allow_unsafe_certs = ?, bind_anonymously = ?, bind_dn = ?, search_filter = ?, email_attribute = ?,
			first_name_attribute = ?, last_name_attribute = ?, timeout_seconds = ?, page_size = ?, follow_referrals = ?,
			active_script = ?, org_name_script = ?, role_name_script = ?, sensitive_attributes = ?, title_attribute = ?,
			department_attribute = ?, division_attribute = ?, employee_type_attribute = ?, manager_attribute = ?,
			city_attribute = ?, state_attribute = ?, country_attribute = ?, updated_at = ?
			WHERE id = ?`,
			srv.Name, srv.URL, srv.StartTLS, srv.CACertificate, srv.AllowUnsafeCerts, srv.BindAnonymously, srv.BindDN,
			srv.SearchFilter, srv.EmailAttribute, srv.FirstNameAttribute, srv.LastNameAttribute, srv.TimeoutSeconds,
			srv.PageSize, srv.FollowReferrals, srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript, string(sens),
			srv.TitleAttribute, srv.DepartmentAttribute, srv.DivisionAttribute, srv.EmployeeTypeAttribute,
			srv.ManagerAttribute, srv.CityAttribute, srv.StateAttribute, srv.CountryAttribute, s.Now().UTC().Format(time.RFC3339), id); err != nil {
			return fmt.Errorf("ldapauth: update server %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ldap_servers SET change_tracking = ?, stable_id_attribute = ?, nested_groups = ? WHERE id = ?`,
			srv.ChangeTracking, srv.StableIDAttribute, srv.NestedGroups, id); err != nil {
			return fmt.Errorf("ldapauth: update server %d: %w", id, err)
		}
		if in.BindPassword != nil || dropped {
			sealed, err := s.box.Seal(srv.BindPassword)
			if err != nil {
				return fmt.Errorf("ldapauth: seal bind password: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE ldap_servers SET bind_password_sealed = ? WHERE id = ?`, sealed, id); err != nil {
				return fmt.Errorf("ldapauth: update server %d: %w", id, err)
			}
		}
		if out, err = s.get(ctx, tx, id); err != nil {
			return err
		}
		return recordServer(ctx, tx, audit.LDAPServerUpdate, &old, &out, in.BindPassword != nil && (*in.BindPassword != "" || old.BindPassword != ""))
	})
	if err != nil {
		return Server{}, err
	}
	s.Pool.Forget(id) // its connections were made with the old settings
	s.log.Info("ldap server updated", "id", id, "name", out.Name, "url", out.URL, "bindPasswordChanged", in.BindPassword != nil,
		"bindPasswordDropped", passwordDropped)
	return out, nil
}

// Delete removes server id. A server that an org uses is refused with an
// apperr Conflict naming the orgs.
func (s *Service) Delete(ctx context.Context, id int64) error {
	err := sqltx.Run(ctx, s.db, func(tx *sqlx.Tx) error {
		old, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		var names []string
		if err := tx.SelectContext(ctx, &names, `SELECT o.name FROM org_ldap_servers ols JOIN orgs o ON o.id = ols.org_id
			WHERE ols.server_id = ? ORDER BY o.name`, id); err != nil {
			return fmt.Errorf("ldapauth: delete server %d: %w", id, err)
		}
		if len(names) > 0 {
			return apperr.Conflict("id", "LDAP server %d is used by org(s) %s: choose another server for them first", id, quoteList(names))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ldap_servers WHERE id = ?`, id); err != nil {
			return fmt.Errorf("ldapauth: delete server %d: %w", id, err)
		}
		return recordServer(ctx, tx, audit.LDAPServerDelete, &old, nil, false)
	})
	if err != nil {
		return err
	}
	s.Pool.Forget(id)
	s.log.Info("ldap server deleted", "id", id)
	return nil
}

// recordServer records an administrator's change of an LDAP server in the
// audit log, inside tx: every field before and after (before nil: created,
// after nil: deleted), the bind password only as "(changed)" when one was
// entered (passwordSet).
func recordServer(ctx context.Context, tx *sqlx.Tx, action string, before, after *Server, passwordSet bool) error {
	if !audit.Active(ctx) {
		return nil
	}
	var b, a any
	named := before
	if before != nil {
		b = *before
	}
	if after != nil {
		a, named = *after, after
	}
	changes := audit.Diff(b, a, audit.Ignore("id"))
	if passwordSet {
		changes = append(changes, audit.Secret("bindPassword"))
	}
	return audit.RecordTx(ctx, tx, action, audit.Target("ldap-server", named.ID, named.Name), changes)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
