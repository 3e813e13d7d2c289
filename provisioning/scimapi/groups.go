package scimapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/authority-server/authority/provisioning"
)

// groupHandler is the /Groups resource of the calling provider.
type groupHandler struct{ h *Handler }

func groupResource(g provisioning.Group) scim.Resource {
	members := make([]any, 0, len(g.Members))
	for _, m := range g.Members {
		members = append(members, map[string]any{"value": strconv.FormatInt(m, 10), "type": "User"})
	}
	attrs := scim.ResourceAttributes{"displayName": g.DisplayName}
	if len(members) > 0 {
		attrs["members"] = members
	}
	res := scim.Resource{ID: strconv.FormatInt(g.ID, 10), Attributes: attrs, Meta: scim.Meta{Version: etag(attrs)}}
	if g.ExternalID != "" {
		res.ExternalID = optional.NewString(g.ExternalID)
	}
	if t, err := time.Parse(time.RFC3339Nano, g.CreatedAt); err == nil {
		res.Meta.Created = &t
	}
	if t, err := time.Parse(time.RFC3339Nano, g.UpdatedAt); err == nil {
		res.Meta.LastModified = &t
	}
	return res
}

func groupInput(attrs map[string]any) (provisioning.GroupInput, error) {
	var in provisioning.GroupInput
	in.DisplayName, _ = get(attrs, "displayName").(string)
	in.ExternalID, _ = get(attrs, "externalId").(string)
	list, _ := get(attrs, "members").([]any)
	seen := map[int64]bool{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		v := strings.TrimSpace(valueOf(m))
		id, ok := parseID(v)
		if !ok {
			return in, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: "member " + strconv.Quote(v) + " is not a user id of this provider", Status: http.StatusBadRequest}
		}
		if !seen[id] {
			seen[id] = true
			in.Members = append(in.Members, id)
		}
	}
	return in, nil
}

func (g *groupHandler) load(r *http.Request, id string) (provisioning.Group, error) {
	n, ok := parseID(id)
	if !ok {
		return provisioning.Group{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	got, err := g.h.Prov.GetGroup(r.Context(), providerOf(r), n)
	if err != nil {
		return provisioning.Group{}, scimError(r, err, id)
	}
	return got, nil
}

// Create implements scim.ResourceHandler.
func (g *groupHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	in, err := groupInput(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	got, err := g.h.Prov.CreateGroup(r.Context(), providerOf(r), in)
	if err != nil {
		return scim.Resource{}, scimError(r, err, "")
	}
	return groupResource(got), nil
}

// Get implements scim.ResourceHandler.
func (g *groupHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	got, err := g.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	return groupResource(got), nil
}

// GetAll implements scim.ResourceHandler.
func (g *groupHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	f := provisioning.GroupFilter{NoMembers: excludesMembers(r)}
	var check func(map[string]any) bool
	if params.FilterValidator != nil {
		if err := checkDates(params.FilterValidator.GetFilter()); err != nil {
			return scim.Page{}, err
		}
		fast := false
		if e, ok := params.FilterValidator.GetFilter().(*filter.AttributeExpression); ok && e.Operator == filter.EQ &&
			e.AttributePath.SubAttribute == nil && e.AttributePath.URIPrefix == nil {
			if v, ok := e.CompareValue.(string); ok && v != "" {
				switch strings.ToLower(e.AttributePath.AttributeName) {
				case "displayname":
					f.DisplayName, fast = v, true
				case "externalid":
					f.ExternalID, fast = v, true
				case "id":
					n, ok := parseID(v)
					if !ok {
						return scim.Page{Resources: []scim.Resource{}}, nil
					}
					f.IDs, fast = []int64{n}, true
				}
			}
		}
		if !fast {
			v := params.FilterValidator
			f.NoMembers = false
			check = func(m map[string]any) bool { return v.PassesFilter(m) == nil }
		}
	}
	if check == nil {
		f.Offset, f.Limit = max(params.StartIndex-1, 0), max(params.Count, 1)
	}
	list, total, err := g.h.Prov.ListGroups(r.Context(), providerOf(r), f)
	if err != nil {
		return scim.Page{}, scimError(r, err, "")
	}
	res := []scim.Resource{}
	for _, x := range list {
		rs := groupResource(x)
		if check != nil {
			full := map[string]any{"id": rs.ID, "meta": map[string]any{"lastModified": x.UpdatedAt, "created": x.CreatedAt}}
			for k, v := range rs.Attributes {
				full[k] = v
			}
			if rs.ExternalID.Present() {
				full["externalId"] = rs.ExternalID.Value()
			}
			if !check(full) {
				continue
			}
		}
		res = append(res, rs)
	}
	if check != nil {
		total = len(res)
		start := min(max(params.StartIndex-1, 0), len(res))
		res = res[start:min(len(res), start+params.Count)]
	}
	if params.Count == 0 {
		res = []scim.Resource{}
	}
	return scim.Page{TotalResults: total, Resources: res}, nil
}

// excludesMembers reports whether the request leaves members out (Entra ID
// asks so before it changes a group): members are not read then.
func excludesMembers(r *http.Request) bool {
	for _, a := range strings.Split(r.URL.Query().Get("excludedAttributes"), ",") {
		if strings.EqualFold(strings.TrimSpace(a), "members") {
			return true
		}
	}
	return false
}

// Replace implements scim.ResourceHandler.
func (g *groupHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	cur, err := g.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	in, err := groupInput(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	got, err := g.h.Prov.UpdateGroup(r.Context(), providerOf(r), cur.ID, in)
	if err != nil {
		return scim.Resource{}, scimError(r, err, id)
	}
	return groupResource(got), nil
}

// Delete implements scim.ResourceHandler.
func (g *groupHandler) Delete(r *http.Request, id string) error {
	cur, err := g.load(r, id)
	if err != nil {
		return err
	}
	if err := g.h.Prov.DeleteGroup(r.Context(), providerOf(r), cur.ID); err != nil {
		return scimError(r, err, id)
	}
	return nil
}

// Patch implements scim.ResourceHandler.
func (g *groupHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	cur, err := g.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	res := groupResource(cur)
	doc := map[string]any(res.Attributes)
	if res.ExternalID.Present() {
		doc["externalId"] = res.ExternalID.Value()
	}
	for _, op := range ops {
		if err := applyOp(doc, op); err != nil {
			return scim.Resource{}, err
		}
	}
	in, err := groupInput(doc)
	if err != nil {
		return scim.Resource{}, err
	}
	got, err := g.h.Prov.UpdateGroup(r.Context(), providerOf(r), cur.ID, in)
	if err != nil {
		return scim.Resource{}, scimError(r, err, id)
	}
	return groupResource(got), nil
}
