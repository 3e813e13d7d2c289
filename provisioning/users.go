package provisioning

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// UserInput is what a provider says of one of its users (a SCIM User
// resource, already read by package scimapi).
type UserInput struct {
	UserName   string
	ExternalID string
	Active     bool
	Attrs      users.ProvisionedAttrs
	// OrgName is the orgName extension attribute ("": none); it places the
	// user only with the attribute organization mapping.
	OrgName string
}

// CreateUser makes a user of provider p, in the org its mapping gives,
// with its org's default roles. A userName held by anyone else is a
// Conflict; a userName that p deleted before brings that user back.
func (s *Service) CreateUser(ctx context.Context, p Provider, in UserInput) (users.Provisioned, error) {
	orgID, err := s.orgFor(ctx, p, in.OrgName, 0)
	if err != nil {
		return users.Provisioned{}, err
	}
	var id int64
	err = s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		deleted, err := users.DeletedProvisionedID(ctx, tx, p.ID, in.UserName)
		if err != nil {
			return err
		}
		if deleted != 0 {
			id = deleted
			if err := s.Users.SetProvisioningStateTx(ctx, tx, id, false, time.Time{}); err != nil {
				return err
			}
			log.add(id, "restored")
			return s.update(ctx, tx, p, log, id, in)
		}
		if id, err = s.Users.CreateProvisionedTx(ctx, tx, p.ID, in.UserName, in.ExternalID, orgID, nil, in.Attrs); err != nil {
			return err
		}
		log.add(id, "created")
		if in.Active {
			return nil // created active: nothing to undo or schedule
		}
		return s.setActive(ctx, tx, p, log, id, in.Active)
	})
	if err != nil {
		return users.Provisioned{}, err
	}
	return users.GetProvisioned(ctx, s.DB, p.ID, id)
}

// UpdateUser makes user id of provider p what in says (a PUT, or a PATCH
// applied to the user as it was): attributes, active, and with the
// attribute organization mapping its org.
func (s *Service) UpdateUser(ctx context.Context, p Provider, id int64, in UserInput) (users.Provisioned, error) {
	if p.OrgMapping.Method == OrgAttribute {
		// Make a missing org first (its own transaction, like an administrator would).
		if _, err := s.orgFor(ctx, p, in.OrgName, id); err != nil {
			return users.Provisioned{}, err
		}
	}
	err := s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		if _, err := users.GetProvisioned(ctx, tx, p.ID, id); err != nil {
			return err
		}
		return s.update(ctx, tx, p, log, id, in)
	})
	if err != nil {
		return users.Provisioned{}, err
	}
	return users.GetProvisioned(ctx, s.DB, p.ID, id)
}

func (s *Service) update(ctx context.Context, tx *sqlx.Tx, p Provider, log *changeLog, id int64, in UserInput) error {
	before, err := users.GetProvisioned(ctx, tx, p.ID, id)
	if err != nil {
		return err
	}
	changed, err := s.Users.SetProvisionedTx(ctx, tx, id, in.UserName, in.ExternalID, in.Attrs)
	if err != nil {
		return err
	}
	if changed {
		log.add(id, "updated "+attrDiff(before, in))
	}
	if p.OrgMapping.Method == OrgAttribute {
		tree, err := orgs.LoadTx(ctx, tx)
		if err != nil {
			return err
		}
		orgID := p.OrgMapping.OrgID
		if strings.TrimSpace(in.OrgName) != "" {
			o, ok := tree.ByName(strings.TrimSpace(in.OrgName))
			if !ok {
				return apperr.Invalid("orgName", "org %q does not exist", in.OrgName)
			}
			orgID = o.ID
		}
		if err := s.move(ctx, tx, log, id, orgID); err != nil {
			return err
		}
	}
	return s.setActive(ctx, tx, p, log, id, in.Active)
}

// setActive carries out active: false blocks at once and makes the
// deactivation due after the provider's delay (at once for a delay of 0);
// true within the delay unblocks, later it reactivates.
func (s *Service) setActive(ctx context.Context, tx *sqlx.Tx, p Provider, log *changeLog, id int64, active bool) error {
	u, err := users.GetProvisioned(ctx, tx, p.ID, id)
	if err != nil {
		return err
	}
	if active {
		if u.DeactivateAt != "" {
			if err := s.Users.SetProvisioningStateTx(ctx, tx, id, false, time.Time{}); err != nil {
				return err
			}
		}
		t, err := s.Users.SourceReactivateTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if t.Changed() {
			if t.Before.Status == users.StatusDeactivated {
				log.add(id, "reactivated")
			} else {
				log.add(id, "unblocked")
			}
		}
		return nil
	}
	if u.Status == users.StatusDeactivated || u.DeactivateAt != "" {
		return nil // already deactivated, or on its way
	}
	t, err := s.Users.SourceBlockTx(ctx, tx, id, users.ReasonProvisioning)
	if err != nil {
		return err
	}
	if t.Changed() {
		log.add(id, "blocked")
	}
	return s.deactivateLater(ctx, tx, p, log, id, false)
}

// deactivateLater makes user id's deactivation due after the delay, or
// deactivates it now when the delay is 0.
func (s *Service) deactivateLater(ctx context.Context, tx *sqlx.Tx, p Provider, log *changeLog, id int64, deleted bool) error {
	delay := time.Duration(p.DeactivationDelay)
	if delay <= 0 {
		if err := s.Users.SetProvisioningStateTx(ctx, tx, id, deleted, time.Time{}); err != nil {
			return err
		}
		return s.deactivate(ctx, tx, log, id)
	}
	if err := s.Users.SetProvisioningStateTx(ctx, tx, id, deleted, s.Now().Add(delay)); err != nil {
		return err
	}
	sqltx.AfterCommit(tx, s.Wake)
	return nil
}

func (s *Service) deactivate(ctx context.Context, tx *sqlx.Tx, log *changeLog, id int64) error {
	t, err := s.Users.DeactivateTx(ctx, tx, id, users.ReasonProvisioning)
	if apperr.Is(err, apperr.KindConflict) {
		// The last administrator: it stays blocked; the log says why.
		log.add(id, "not deactivated: "+err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	if t.Changed() {
		if t.After.Status == users.StatusDeactivated {
			log.add(id, "deactivated")
		} else {
			log.add(id, "blocked (on legal hold: deactivated when released)")
		}
	}
	return nil
}

// DeleteUser takes user id away from provider p: blocked at once,
// deactivated after the delay, and kept (for its archives) but invisible
// to the provider. Its group memberships go, and its roles follow.
func (s *Service) DeleteUser(ctx context.Context, p Provider, id int64) error {
	return s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		u, err := users.GetProvisioned(ctx, tx, p.ID, id)
		if err != nil {
			return err
		}
		groups, err := groupsOfUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM scim_group_members WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("provisioning: delete user %d: memberships: %w", id, err)
		}
		for _, g := range groups {
			if err := touchGroup(ctx, tx, s.Now(), g); err != nil {
				return err
			}
		}
		log.add(id, "deleted")
		if u.Status != users.StatusDeactivated {
			t, err := s.Users.SourceBlockTx(ctx, tx, id, users.ReasonProvisioning)
			if err != nil {
				return err
			}
			if t.Changed() {
				log.add(id, "blocked")
			}
		}
		if u.Status == users.StatusDeactivated {
			return s.Users.SetProvisioningStateTx(ctx, tx, id, true, time.Time{})
		}
		if u.DeactivateAt != "" { // keep the deactivation already due
			due, err := time.Parse(time.RFC3339Nano, u.DeactivateAt)
			if err != nil {
				return fmt.Errorf("provisioning: user %d: due %q: %w", id, u.DeactivateAt, err)
			}
			return s.Users.SetProvisioningStateTx(ctx, tx, id, true, due)
		}
		return s.deactivateLater(ctx, tx, p, log, id, true)
	})
}

// RunDue deactivates every user whose deactivation is due now (each in its
// own transaction) and returns how many it handled.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := users.DueDeactivations(ctx, s.DB, s.Now(), 100)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			if err := s.deactivateDue(ctx, id); err != nil {
				return n, err
			}
			n++
		}
	}
}

func (s *Service) deactivateDue(ctx context.Context, id int64) error {
	var provider int64
	if err := s.DB.GetContext(ctx, &provider, `SELECT coalesce(provider_id, 0) FROM users WHERE id = ?`, id); err != nil {
		return fmt.Errorf("provisioning: due deactivation of %d: %w", id, err)
	}
	p := Provider{ID: provider, Name: "(deleted)"}
	if provider != 0 {
		if got, err := s.Get(ctx, provider); err == nil {
			p = got
		}
	}
	return s.run(ctx, p, func(tx *sqlx.Tx, log *changeLog) error {
		var deleted bool
		if err := tx.GetContext(ctx, &deleted, `SELECT scim_deleted FROM users WHERE id = ?`, id); err != nil {
			return fmt.Errorf("provisioning: due deactivation of %d: %w", id, err)
		}
		if err := s.Users.SetProvisioningStateTx(ctx, tx, id, deleted, time.Time{}); err != nil {
			return err
		}
		return s.deactivate(ctx, tx, log, id)
	})
}

// Wake tells Run that a deactivation became due earlier than it planned.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run deactivates due users until ctx ends: at start (what fell due while
// the server was down), when the next is due, and at least every minute.
func (s *Service) Run(ctx context.Context) {
	for {
		if n, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("provisioning: due deactivations failed", "err", err)
		} else if n > 0 {
			s.Log.Info("provisioning: due deactivations", "users", n)
		}
		wait := time.Minute
		if next, err := users.NextDeactivation(ctx, s.DB); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(s.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// orgFor returns the org a user of p named orgName (the extension
// attribute) goes to: the mapping's org, or with the attribute mapping the
// org of that name, created under the provider's org when missing. An org
// of that name elsewhere in the tree is invalidValue (400).
func (s *Service) orgFor(ctx context.Context, p Provider, orgName string, _ int64) (int64, error) {
	name := strings.TrimSpace(orgName)
	if p.OrgMapping.Method != OrgAttribute || name == "" {
		return p.OrgMapping.OrgID, nil
	}
	if err := apperr.CheckLine("orgName", name, orgs.MaxNameLength); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		tree, err := s.Orgs.Load(ctx)
		if err != nil {
			return 0, err
		}
		if o, ok := tree.ByName(name); ok {
			if !under(tree, o.ID, p.OrgMapping.OrgID) {
				return 0, apperr.Invalid("orgName", "org %q is not the provider's org or below it", name)
			}
			return o.ID, nil
		}
		parent := p.OrgMapping.OrgID
		o, err := s.Orgs.Create(ctx, orgs.Input{Name: &name, ParentID: &parent})
		if err == nil {
			s.Log.Info(fmt.Sprintf("SCIM:: created org:%d/%s provider:%d/%s", o.ID, o.Name, p.ID, p.Name))
			return o.ID, nil
		}
		if attempt > 0 || !apperr.Is(err, apperr.KindInvalid) {
			return 0, err
		}
		// Another request made it meanwhile: look again.
	}
}

// move puts user id into org orgID (a no-op when it is there).
func (s *Service) move(ctx context.Context, tx *sqlx.Tx, log *changeLog, id, orgID int64) error {
	from, err := s.Users.MoveTx(ctx, tx, id, orgID)
	if err != nil {
		return err
	}
	if from != orgID {
		log.add(id, fmt.Sprintf("moved from org:%d", from))
	}
	return nil
}

// attrDiff says which attributes in changes, from → to.
func attrDiff(before users.Provisioned, in UserInput) string {
	var parts []string
	add := func(name, from, to string) {
		if from != to {
			parts = append(parts, fmt.Sprintf("%s: %q → %q", name, from, to))
		}
	}
	add("userName", before.Username, in.UserName)
	add("externalId", before.ExternalID, in.ExternalID)
	b, a := before.ProvisionedAttrs, in.Attrs
	add("email", b.Email, a.Email)
	add("givenName", b.FirstName, a.FirstName)
	add("familyName", b.LastName, a.LastName)
	add("title", b.Title, a.Title)
	add("department", b.Department, a.Department)
	add("division", b.Division, a.Division)
	add("employeeType", b.EmployeeType, a.EmployeeType)
	add("employeeNumber", b.EmployeeNumber, a.EmployeeNumber)
	add("city", b.City, a.City)
	add("state", b.State, a.State)
	add("country", b.Country, a.Country)
	add("manager", idText(b.ManagerID), idText(a.ManagerID))
	return strings.Join(parts, ", ")
}

func idText(id *int64) string {
	if id == nil {
		return ""
	}
	return fmt.Sprint(*id)
}
