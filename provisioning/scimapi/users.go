package scimapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/users"
)

// userHandler is the /Users resource of the calling provider.
type userHandler struct{ h *Handler }

// userAttrs is user u as a SCIM User (without id, externalId and meta,
// which elimity adds from the Resource).
func userAttrs(u users.Provisioned, groups []provisioning.Group) scim.ResourceAttributes {
	a := u.ProvisionedAttrs
	out := scim.ResourceAttributes{"userName": u.Username, "active": u.ProviderActive()}
	name := map[string]any{}
	putStr(name, "givenName", a.FirstName)
	putStr(name, "familyName", a.LastName)
	if full := strings.TrimSpace(a.FirstName + " " + a.LastName); full != "" {
		name["formatted"] = full
		out["displayName"] = full
	}
	if len(name) > 0 {
		out["name"] = name
	}
	if a.Email != "" {
		out["emails"] = []any{map[string]any{"value": a.Email, "type": "work", "primary": true}}
	}
	putStr(out, "title", a.Title)
	addr := map[string]any{}
	putStr(addr, "locality", a.City)
	putStr(addr, "region", a.State)
	putStr(addr, "country", a.Country)
	if len(addr) > 0 {
		addr["type"], addr["primary"] = "work", true
		out["addresses"] = []any{addr}
	}
	if len(groups) > 0 {
		gs := make([]any, 0, len(groups))
		for _, g := range groups {
			gs = append(gs, map[string]any{"value": strconv.FormatInt(g.ID, 10), "display": g.DisplayName, "type": "direct"})
		}
		out["groups"] = gs
	}
	ent := map[string]any{}
	putStr(ent, "employeeNumber", a.EmployeeNumber)
	putStr(ent, "department", a.Department)
	putStr(ent, "division", a.Division)
	if a.ManagerID != nil {
		ent["manager"] = map[string]any{"value": strconv.FormatInt(*a.ManagerID, 10)}
	}
	if len(ent) > 0 {
		out[EnterpriseExtension] = ent
	}
	ext := map[string]any{"orgName": u.OrgName}
	putStr(ext, "employeeType", a.EmployeeType)
	out[AuthorityExtension] = ext
	return out
}

func putStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// resource is user u as elimity returns it.
func userResource(u users.Provisioned, groups []provisioning.Group) scim.Resource {
	attrs := userAttrs(u, groups)
	res := scim.Resource{ID: strconv.FormatInt(u.ID, 10), Attributes: attrs, Meta: scim.Meta{Version: etag(attrs)}}
	if u.ExternalID != "" {
		res.ExternalID = optional.NewString(u.ExternalID)
	}
	if t, err := time.Parse(time.RFC3339Nano, u.CreatedAt); err == nil {
		res.Meta.Created = &t
	}
	if t, err := time.Parse(time.RFC3339Nano, u.UpdatedAt); err == nil {
		res.Meta.LastModified = &t
	}
	return res
}

// input reads a SCIM User into what provisioning takes. active defaults to
// true; attributes absent are empty (a PUT clears what it omits).
func userInput(attrs map[string]any, externalID string) (provisioning.UserInput, error) {
	in := provisioning.UserInput{Active: true, ExternalID: externalID}
	in.UserName, _ = get(attrs, "userName").(string)
	if strings.TrimSpace(in.UserName) == "" {
		return in, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: "userName is required", Status: http.StatusBadRequest}
	}
	if v := get(attrs, "externalId"); v != nil {
		in.ExternalID, _ = v.(string)
	}
	if v, ok := asBool(get(attrs, "active")); ok {
		in.Active = v
	}
	if name, ok := get(attrs, "name").(map[string]any); ok {
		in.Attrs.FirstName, _ = get(name, "givenName").(string)
		in.Attrs.LastName, _ = get(name, "familyName").(string)
	}
	in.Attrs.Email = pick(get(attrs, "emails"), "value")
	in.Attrs.Title, _ = get(attrs, "title").(string)
	if addr := pickElement(get(attrs, "addresses")); addr != nil {
		in.Attrs.City, _ = get(addr, "locality").(string)
		in.Attrs.State, _ = get(addr, "region").(string)
		in.Attrs.Country, _ = get(addr, "country").(string)
	}
	if ent, ok := get(attrs, EnterpriseExtension).(map[string]any); ok {
		in.Attrs.EmployeeNumber, _ = get(ent, "employeeNumber").(string)
		in.Attrs.Department, _ = get(ent, "department").(string)
		in.Attrs.Division, _ = get(ent, "division").(string)
		var mgr string
		switch m := get(ent, "manager").(type) {
		case map[string]any:
			mgr, _ = get(m, "value").(string)
		case string:
			mgr = m
		}
		if mgr = strings.TrimSpace(mgr); mgr != "" {
			id, err := strconv.ParseInt(mgr, 10, 64)
			if err != nil || id <= 0 {
				return in, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Detail: fmt.Sprintf("manager %q is not a user id of this provider", mgr), Status: http.StatusBadRequest}
			}
			in.Attrs.ManagerID = &id
		}
	}
	if ext, ok := get(attrs, AuthorityExtension).(map[string]any); ok {
		in.OrgName, _ = get(ext, "orgName").(string)
		in.Attrs.EmployeeType, _ = get(ext, "employeeType").(string)
	}
	return in, nil
}

// get is m[key], ignoring the key's case (SCIM attribute names are
// case-insensitive).
func get(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func asBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// pickElement returns the element of a multi-valued attribute to use: type
// work, else the primary one, else the first.
func pickElement(v any) map[string]any {
	list, _ := v.([]any)
	var primary, first map[string]any
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if t, _ := get(m, "type").(string); strings.EqualFold(t, "work") {
			return m
		}
		if p, _ := asBool(get(m, "primary")); p && primary == nil {
			primary = m
		}
		if first == nil {
			first = m
		}
	}
	if primary != nil {
		return primary
	}
	return first
}

func pick(v any, sub string) string {
	if m := pickElement(v); m != nil {
		s, _ := get(m, sub).(string)
		return s
	}
	return ""
}

// checkDates refuses a filter that compares meta.created or
// meta.lastModified with something that is not a dateTime (RFC 7643 2.3.5),
// which would otherwise match nothing, silently.
func checkDates(e filter.Expression) error {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		p := x.AttributePath
		if strings.EqualFold(p.AttributeName, "meta") && p.SubAttribute != nil && x.Operator != filter.PR &&
			(strings.EqualFold(*p.SubAttribute, "lastModified") || strings.EqualFold(*p.SubAttribute, "created")) {
			s, ok := x.CompareValue.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
				return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidFilter, Status: http.StatusBadRequest,
					Detail: fmt.Sprintf("meta.%s compares with a dateTime such as \"2026-01-05T09:00:00Z\", not %v", *p.SubAttribute, x.CompareValue)}
			}
		}
	case *filter.LogicalExpression:
		if err := checkDates(x.Left); err != nil {
			return err
		}
		return checkDates(x.Right)
	case *filter.NotExpression:
		return checkDates(x.Expression)
	case *filter.ValuePath:
		if x.ValueFilter != nil {
			return checkDates(x.ValueFilter)
		}
	}
	return nil
}

func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

func (u *userHandler) load(r *http.Request, id string) (users.Provisioned, []provisioning.Group, error) {
	n, ok := parseID(id)
	if !ok {
		return users.Provisioned{}, nil, scimerrors.ScimErrorResourceNotFound(id)
	}
	p := providerOf(r)
	got, err := users.GetProvisioned(r.Context(), u.h.Prov.DB, p.ID, n)
	if err != nil {
		return users.Provisioned{}, nil, scimError(r, err, id)
	}
	gs, err := u.h.Prov.GroupsOf(r.Context(), []int64{n})
	if err != nil {
		return users.Provisioned{}, nil, scimError(r, err, id)
	}
	return got, gs[n], nil
}

// Create implements scim.ResourceHandler.
func (u *userHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	in, err := userInput(attrs, "")
	if err != nil {
		return scim.Resource{}, err
	}
	got, err := u.h.Prov.CreateUser(r.Context(), providerOf(r), in)
	if err != nil {
		return scim.Resource{}, scimError(r, err, "")
	}
	return userResource(got, nil), nil
}

// Get implements scim.ResourceHandler.
func (u *userHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	got, gs, err := u.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	return userResource(got, gs), nil
}

// GetAll implements scim.ResourceHandler: the common exact filters
// (userName, externalId, id eq "...") are a query; any other filter is
// checked on each of the provider's users.
func (u *userHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	p := providerOf(r)
	f := users.ProvisionedFilter{}
	var check func(map[string]any) bool
	if params.FilterValidator != nil {
		if err := checkDates(params.FilterValidator.GetFilter()); err != nil {
			return scim.Page{}, err
		}
		fast := false
		if e, ok := params.FilterValidator.GetFilter().(*filter.AttributeExpression); ok && e.Operator == filter.EQ &&
			e.AttributePath.SubAttribute == nil && e.AttributePath.URIPrefix == nil {
			if v, ok := e.CompareValue.(string); ok {
				switch strings.ToLower(e.AttributePath.AttributeName) {
				case "username":
					f.Username, fast = v, true
				case "externalid":
					f.ExternalID, fast = v, true
				case "id":
					if n, ok := parseID(v); ok {
						f.IDs, fast = []int64{n}, true
					} else {
						return scim.Page{Resources: []scim.Resource{}}, nil
					}
				}
				if fast && v == "" {
					return scim.Page{Resources: []scim.Resource{}}, nil
				}
			}
		}
		if !fast {
			v := params.FilterValidator
			check = func(m map[string]any) bool { return v.PassesFilter(m) == nil }
		}
	}
	if check == nil {
		f.Offset, f.Limit = max(params.StartIndex-1, 0), params.Count
		if params.Count == 0 {
			f.Limit = 1 // only the total is wanted
		}
	}
	list, total, err := users.ListProvisioned(r.Context(), u.h.Prov.DB, p.ID, f)
	if err != nil {
		return scim.Page{}, scimError(r, err, "")
	}
	ids := make([]int64, len(list))
	for i, x := range list {
		ids[i] = x.ID
	}
	gs, err := u.h.Prov.GroupsOf(r.Context(), ids)
	if err != nil {
		return scim.Page{}, scimError(r, err, "")
	}
	var res []scim.Resource
	for _, x := range list {
		rs := userResource(x, gs[x.ID])
		if check != nil {
			full := map[string]any{}
			for k, v := range rs.Attributes {
				full[k] = v
			}
			full["id"] = rs.ID
			if rs.ExternalID.Present() {
				full["externalId"] = rs.ExternalID.Value()
			}
			full["meta"] = map[string]any{"lastModified": x.UpdatedAt, "created": x.CreatedAt}
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
		res = nil
	}
	if res == nil {
		res = []scim.Resource{}
	}
	return scim.Page{TotalResults: total, Resources: res}, nil
}

// Replace implements scim.ResourceHandler (PUT: what is omitted is cleared).
func (u *userHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	cur, _, err := u.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	in, err := userInput(attrs, "")
	if err != nil {
		return scim.Resource{}, err
	}
	return u.update(r, cur.ID, id, in)
}

func (u *userHandler) update(r *http.Request, n int64, id string, in provisioning.UserInput) (scim.Resource, error) {
	got, err := u.h.Prov.UpdateUser(r.Context(), providerOf(r), n, in)
	if err != nil {
		return scim.Resource{}, scimError(r, err, id)
	}
	gs, err := u.h.Prov.GroupsOf(r.Context(), []int64{n})
	if err != nil {
		return scim.Resource{}, scimError(r, err, id)
	}
	return userResource(got, gs[n]), nil
}

// Delete implements scim.ResourceHandler.
func (u *userHandler) Delete(r *http.Request, id string) error {
	n, ok := parseID(id)
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	if err := u.h.Prov.DeleteUser(r.Context(), providerOf(r), n); err != nil {
		return scimError(r, err, id)
	}
	return nil
}

// Patch implements scim.ResourceHandler: the operations are applied to the
// user as it is, and the result saved like a PUT (so a PATCH changes what
// it names and nothing else).
func (u *userHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	cur, gs, err := u.load(r, id)
	if err != nil {
		return scim.Resource{}, err
	}
	res := userResource(cur, gs)
	doc := map[string]any(res.Attributes)
	if res.ExternalID.Present() {
		doc["externalId"] = res.ExternalID.Value()
	}
	for _, op := range ops {
		if err := applyOp(doc, op); err != nil {
			return scim.Resource{}, err
		}
	}
	in, err := userInput(doc, "")
	if err != nil {
		return scim.Resource{}, err
	}
	return u.update(r, cur.ID, id, in)
}
