package users

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/orgs"
)

// MaxProfileLength bounds each text field of a profile (title, department,
// division, employeeType, employeeNumber, city, state, country), in
// characters, as MaxEmailLength and MaxNameLength bound the others.
const MaxProfileLength = 256

// Profile is a user's profile (SPEC section 1): one model whatever the user's
// source (local, an LDAP server, a provisioning provider). Its source keeps
// it up to date; an administrator edits a local user's. ManagerID names
// another user (nil: none).
type Profile struct {
	Email          string `db:"email"`
	FirstName      string `db:"first_name"`
	LastName       string `db:"last_name"`
	Title          string `db:"title"`
	Department     string `db:"department"`
	Division       string `db:"division"`
	EmployeeType   string `db:"employee_type"`
	EmployeeNumber string `db:"employee_number"`
	City           string `db:"city"`
	State          string `db:"state"`
	Country        string `db:"country"`
	ManagerID      *int64 `db:"manager_id"`
}

// ProfileOf returns u's profile.
func ProfileOf(u User) Profile {
	return Profile{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Title: u.Title,
		Department: u.Department, Division: u.Division, EmployeeType: u.EmployeeType,
		EmployeeNumber: u.EmployeeNumber, City: u.City, State: u.State, Country: u.Country,
		ManagerID: copyID(u.ManagerID)}
}

// Fields returns the text fields of p by their JSON names, in the API's order.
func (p *Profile) Fields() []ProfileField {
	out := make([]ProfileField, len(profileFields))
	for i, v := range p.fields() {
		out[i] = ProfileField{profileFields[i].name, v, profileFields[i].max}
	}
	return out
}

// profileFields are the JSON names and length limits of a Profile's text
// fields, in the order of texts (and of Fields).
var profileFields = [11]struct {
	name string
	max  int
}{
	{"email", MaxEmailLength}, {"firstName", MaxNameLength},
	{"lastName", MaxNameLength}, {"title", MaxProfileLength},
	{"department", MaxProfileLength}, {"division", MaxProfileLength},
	{"employeeType", MaxProfileLength}, {"employeeNumber", MaxProfileLength},
	{"city", MaxProfileLength}, {"state", MaxProfileLength}, {"country", MaxProfileLength},
}

// ProfileField is one text field of a Profile: its JSON name, the value and
// its length limit in characters.
type ProfileField struct {
	Name  string
	Value *string
	Max   int
}

// Equal reports whether p and q are the same profile.
func (p Profile) Equal(q Profile) bool {
	if !sameID(p.ManagerID, q.ManagerID) {
		return false
	}
	p.ManagerID, q.ManagerID = nil, nil
	return p == q
}

// Trimmed returns p with surrounding spaces removed from every text field.
func (p Profile) Trimmed() Profile {
	for _, f := range p.Fields() {
		*f.Value = strings.TrimSpace(*f.Value)
	}
	return p
}

// Validate checks a profile's form: each text field one line (no control
// characters) of at most its limit (MaxEmailLength, MaxNameLength,
// MaxProfileLength); errors name the field by its JSON name. A positive
// ManagerID is checked against the users by CheckManagerTx.
func (p Profile) Validate() error {
	for _, f := range p.Fields() {
		if err := apperr.CheckLine(f.Name, *f.Value, f.Max); err != nil {
			return err
		}
	}
	if p.ManagerID != nil && *p.ManagerID <= 0 {
		return apperr.Invalid("managerId", "must be the id of a user, not %d", *p.ManagerID)
	}
	return nil
}

// CheckManagerTx checks that manager (nil: none) names an existing user other
// than user id (0: a user not created yet); else apperr Invalid on
// "managerId".
func CheckManagerTx(ctx context.Context, q sqlx.QueryerContext, id int64, manager *int64) error {
	if manager == nil {
		return nil
	}
	if *manager == id {
		return apperr.Invalid("managerId", "a user cannot be its own manager")
	}
	var n int
	if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM users WHERE id = ?`, *manager); err != nil {
		return fmt.Errorf("users: check manager %d: %w", *manager, err)
	}
	if n == 0 {
		return apperr.Invalid("managerId", "user %d does not exist", *manager)
	}
	return nil
}

// UpdateProfileTx sets every field of user id's profile to p's, reporting
// whether anything changed. p is validated (Validate, CheckManagerTx) first.
func (s *Service) UpdateProfileTx(ctx context.Context, tx *sqlx.Tx, id int64, p Profile) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if err := CheckManagerTx(ctx, tx, id, p.ManagerID); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, first_name = ?, last_name = ?, title = ?, department = ?,
		division = ?, employee_type = ?, employee_number = ?, city = ?, state = ?, country = ?, manager_id = ?, updated_at = ?
		WHERE id = ? AND (email <> ? OR first_name <> ? OR last_name <> ? OR title <> ? OR department <> ? OR division <> ?
		OR employee_type <> ? OR employee_number <> ? OR city <> ? OR state <> ? OR country <> ? OR manager_id IS NOT ?)`,
		p.Email, p.FirstName, p.LastName, p.Title, p.Department, p.Division, p.EmployeeType, p.EmployeeNumber,
		p.City, p.State, p.Country, p.ManagerID, s.stamp(), id,
		p.Email, p.FirstName, p.LastName, p.Title, p.Department, p.Division, p.EmployeeType, p.EmployeeNumber,
		p.City, p.State, p.Country, p.ManagerID)
	if err != nil {
		return false, fmt.Errorf("users: update profile of %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ProfilePatch is the body of PATCH /users/{id}: the fields present change,
// the others keep their values. "managerId": null clears the manager.
type ProfilePatch struct {
	Email          *string    `json:"email"`
	FirstName      *string    `json:"firstName"`
	LastName       *string    `json:"lastName"`
	Title          *string    `json:"title"`
	Department     *string    `json:"department"`
	Division       *string    `json:"division"`
	EmployeeType   *string    `json:"employeeType"`
	EmployeeNumber *string    `json:"employeeNumber"`
	City           *string    `json:"city"`
	State          *string    `json:"state"`
	Country        *string    `json:"country"`
	ManagerID      OptionalID `json:"managerId"`
}

// Apply returns p with the fields present in patch set.
func (patch ProfilePatch) Apply(p Profile) Profile {
	for _, c := range []struct {
		dst *string
		v   *string
	}{{&p.Email, patch.Email}, {&p.FirstName, patch.FirstName}, {&p.LastName, patch.LastName}, {&p.Title, patch.Title},
		{&p.Department, patch.Department}, {&p.Division, patch.Division}, {&p.EmployeeType, patch.EmployeeType},
		{&p.EmployeeNumber, patch.EmployeeNumber}, {&p.City, patch.City}, {&p.State, patch.State}, {&p.Country, patch.Country}} {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	if patch.ManagerID.Set {
		p.ManagerID = copyID(patch.ManagerID.ID)
	}
	return p
}

// OptionalID is a JSON id that may be absent (Set false), null (Set, ID nil)
// or a number.
type OptionalID struct {
	Set bool
	ID  *int64
}

// UnmarshalJSON implements json.Unmarshaler (also called for null).
func (o *OptionalID) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.ID = nil
		return nil
	}
	var id int64
	if err := json.Unmarshal(b, &id); err != nil {
		return apperr.Invalid("managerId", "must be the id of a user (a number) or null")
	}
	o.ID = &id
	return nil
}

// UpdateProfile changes the profile of a local user as an administrator
// (recorded as audit.UserProfile). The profile of a user whose org uses
// LDAP belongs to the directory (DIRSYNC would overwrite it): apperr
// Conflict, nothing changes.
func (s *Service) UpdateProfile(ctx context.Context, id int64, patch ProfilePatch) (User, error) {
	return s.apply(ctx, audit.UserProfile, id, func(tx *sqlx.Tx) error {
		u, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := ProfileOwnedBySource(ctx, tx, u); err != nil {
			return err
		}
		_, err = s.UpdateProfileTx(ctx, tx, id, patch.Apply(ProfileOf(u)).Trimmed())
		return err
	})
}

// ProfileOwnedBySource returns an apperr Conflict when u's profile belongs
// to a source other than the administrator: a provisioning provider's user
// (the provider keeps its profile), or a user of an org whose effective
// authentication method is LDAP (DIRSYNC keeps it).
func ProfileOwnedBySource(ctx context.Context, q sqlx.QueryerContext, u User) error {
	var provider int64
	if err := sqlx.GetContext(ctx, q, &provider, `SELECT coalesce(provider_id, 0) FROM users WHERE id = ?`, u.ID); err != nil {
		return fmt.Errorf("users: the source of %d: %w", u.ID, err)
	}
	if provider != 0 {
		return apperr.Conflict("source", "the profile of %s comes from its provisioning provider %d: change it in the identity provider, which sends it here", u.Username, provider)
	}
	o, err := orgs.GetTx(ctx, q, u.OrgID)
	if err != nil {
		return err
	}
	if o.UsesLDAP() {
		return apperr.Conflict("source", "the profile of %s comes from the directory (org %s uses LDAP): change it there, and the next sync brings it here", u.Username, o.Name)
	}
	return nil
}

// DNKey is the form in which two DNs that name the same entry compare
// equal: attribute types and values case-folded, spaces around separators
// ignored. A string that is not a DN is only trimmed and case-folded.
func DNKey(dn string) string {
	dn = strings.TrimSpace(dn)
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return casefold.Key(dn)
	}
	var b strings.Builder
	for i, rdn := range parsed.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(ldap.EscapeDN(casefold.Key(a.Value)))
		}
	}
	return b.String()
}

// ManagerByDNTx returns the id of the user whose stored LDAP DN is dn
// (DNKey), preferring one of server serverID; nil when no user (or more
// than one of no preference) has it. The DN is compared in Go, never put in
// a query.
func ManagerByDNTx(ctx context.Context, q sqlx.QueryerContext, serverID int64, dn string) (*int64, error) {
	if strings.TrimSpace(dn) == "" {
		return nil, nil
	}
	// The DN as stored, ignoring ASCII case, is the usual form; only when no
	// user has that are the DNs compared in full.
	idx, err := loadDNIndex(ctx, q, ` AND ldap_dn = ? COLLATE NOCASE`, strings.TrimSpace(dn))
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		if idx, err = LoadDNIndex(ctx, q); err != nil {
			return nil, err
		}
	}
	return idx.Resolve(serverID, dn), nil
}

// DNIndex finds users by their LDAP DN (DNKey).
type DNIndex map[string][]DNHolder

// DNHolder is a user holding a DN.
type DNHolder struct {
	ID, ServerID int64
	Username     string
}

// LoadDNIndex reads the stored LDAP DN of every user that has one.
func LoadDNIndex(ctx context.Context, q sqlx.QueryerContext) (DNIndex, error) {
	return loadDNIndex(ctx, q, "")
}

func loadDNIndex(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (DNIndex, error) {
	rows, err := q.QueryxContext(ctx, `SELECT id, username, coalesce(ldap_server_id, 0), ldap_dn FROM users WHERE ldap_dn <> ''`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("users: read the LDAP DNs: %w", err)
	}
	defer rows.Close()
	idx := DNIndex{}
	for rows.Next() {
		var h DNHolder
		var dn string
		if err := rows.Scan(&h.ID, &h.Username, &h.ServerID, &dn); err != nil {
			return nil, fmt.Errorf("users: read the LDAP DNs: %w", err)
		}
		idx.Add(dn, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: read the LDAP DNs: %w", err)
	}
	return idx, nil
}

// Add records that h holds dn (once: a user already holding it is replaced).
func (idx DNIndex) Add(dn string, h DNHolder) {
	k := DNKey(dn)
	for i, o := range idx[k] {
		if o.ID == h.ID {
			idx[k][i] = h
			return
		}
	}
	idx[k] = append(idx[k], h)
}

// Remove forgets that user id holds dn.
func (idx DNIndex) Remove(dn string, id int64) {
	k := DNKey(dn)
	hs := idx[k]
	for i, h := range hs {
		if h.ID == id {
			idx[k] = append(hs[:i:i], hs[i+1:]...)
			break
		}
	}
	if len(idx[k]) == 0 {
		delete(idx, k)
	}
}

// Lookup returns the user holding dn, preferring one of server serverID;
// false when none does, or several do and none (or several) of serverID.
func (idx DNIndex) Lookup(serverID int64, dn string) (DNHolder, bool) {
	hs := idx[DNKey(dn)]
	if len(hs) == 1 {
		return hs[0], true
	}
	var found DNHolder
	n := 0
	for _, h := range hs {
		if h.ServerID == serverID {
			found, n = h, n+1
		}
	}
	return found, n == 1
}

// Resolve is Lookup's user id, nil when not found.
func (idx DNIndex) Resolve(serverID int64, dn string) *int64 {
	if strings.TrimSpace(dn) == "" {
		return nil
	}
	if h, ok := idx.Lookup(serverID, dn); ok {
		id := h.ID
		return &id
	}
	return nil
}

func copyID(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func sameID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Overlay returns p with each text field that dir has (not empty once
// trimmed) set from dir: what a directory entry holds replaces the stored
// value, and a field the entry lacks (or does not map) keeps it. A value
// Validate would refuse (over its length limit, a control character) is not
// taken: the stored value stays and the problem is returned, naming the
// field. ManagerID is p's (a manager is resolved by the caller).
func (p Profile) Overlay(dir Profile) (Profile, []error) {
	var bad []error
	dst := p.fields() // an array: no allocation for a sync's every user
	for i, v := range dir.texts() {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if err := apperr.CheckLine(profileFields[i].name, v, profileFields[i].max); err != nil {
			bad = append(bad, err)
			continue
		}
		*dst[i] = v
	}
	return p, bad
}
