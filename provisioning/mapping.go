package provisioning

import (
	"context"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users/roles"
)

// The checks of a provider's organization and role mappings.

func checkOrgMapping(tree *orgs.Tree, m OrgMapping) error {
	switch m.Method {
	case OrgSingle, OrgGroups, OrgAttribute:
	default:
		return apperr.Invalid("orgMapping.method", "must be %q, %q or %q", OrgSingle, OrgGroups, OrgAttribute)
	}
	if _, ok := tree.Get(m.OrgID); !ok {
		return apperr.Invalid("orgMapping.orgId", "org %d does not exist", m.OrgID)
	}
	if len(m.Groups) > MaxMappedGroups {
		return apperr.Invalid("orgMapping.groups", "at most %d groups", MaxMappedGroups)
	}
	seen := map[string]bool{}
	for _, g := range m.Groups {
		if err := checkGroupID("orgMapping.groups", g.GroupID, seen); err != nil {
			return err
		}
		if g.Priority < 0 || g.Priority > MaxPriority {
			return apperr.Invalid("orgMapping.groups", "group %s: priority must be between 0 and %d", g.GroupID, MaxPriority)
		}
		if _, ok := tree.Get(g.OrgID); !ok {
			return apperr.Invalid("orgMapping.groups", "group %s: org %d does not exist", g.GroupID, g.OrgID)
		}
		if !under(tree, g.OrgID, m.OrgID) {
			return apperr.Invalid("orgMapping.groups", "group %s: org %d is not the provider's org %d or below it; a provider places people only there", g.GroupID, g.OrgID, m.OrgID)
		}
	}
	return nil
}

func checkRoleMapping(ctx context.Context, q sqlx.QueryerContext, m *RoleMapping) error {
	switch m.Method {
	case RoleManual, RoleGroups:
	default:
		return apperr.Invalid("roleMapping.method", "must be %q or %q", RoleManual, RoleGroups)
	}
	if len(m.Groups) > MaxMappedGroups {
		return apperr.Invalid("roleMapping.groups", "at most %d groups", MaxMappedGroups)
	}
	if m.Groups == nil {
		m.Groups = []RoleGroup{}
	}
	seen := map[string]bool{}
	for i, g := range m.Groups {
		if err := checkGroupID("roleMapping.groups", g.GroupID, seen); err != nil {
			return err
		}
		if err := roles.RefuseRuling("roleMapping.groups", g.Roles); err != nil {
			return err
		}
		canon, err := roles.Canonical(ctx, q, "roleMapping.groups", g.Roles)
		if err != nil {
			return err
		}
		m.Groups[i].Roles = canon
	}
	return nil
}

// MaxPriority bounds a group's priority in an org mapping.
const MaxPriority = 1_000_000

// checkGroupID checks one groupId of a mapping: a SCIM group's id (this
// server's are numbers), given once.
func checkGroupID(field, id string, seen map[string]bool) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return apperr.Invalid(field, "every group needs a groupId (a SCIM group's id)")
	}
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 || len(id) > 19 {
		return apperr.Invalid(field, "groupId %.40q is not a SCIM group's id (a number, as /scim/v2/Groups shows it)", id)
	}
	if seen[id] {
		return apperr.Invalid(field, "group %s is listed twice", id)
	}
	seen[id] = true
	return nil
}

// under reports whether org id is top or below it.
func under(tree *orgs.Tree, id, top int64) bool {
	for seen := 0; seen < 10000; seen++ {
		if id == top {
			return true
		}
		o, ok := tree.Get(id)
		if !ok || o.ParentID == nil {
			return false
		}
		id = *o.ParentID
	}
	return false
}
