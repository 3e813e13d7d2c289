package scimapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"
)

// coreURNs are the core schemas: an attribute path with one of these
// prefixes names a top-level attribute.
var coreURNs = []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group"}

// applyOp applies one PATCH operation (RFC 7644 3.5.2) to doc, a resource
// as a JSON object.
func applyOp(doc map[string]any, op scim.PatchOperation) error {
	kind := strings.ToLower(op.Op)
	if op.Path == nil {
		value, ok := op.Value.(map[string]any)
		if !ok || kind == "remove" {
			return noTarget("an operation without a path needs an object of attributes as its value")
		}
		for k, v := range value {
			if isExtension(k) {
				if m, ok := v.(map[string]any); ok {
					ext := child(doc, k)
					for ek, ev := range m {
						setAttr(ext, ek, ev, kind)
					}
					continue
				}
			}
			setAttr(doc, k, v, kind)
		}
		return nil
	}
	path := *op.Path
	container := doc
	if path.AttributePath.URIPrefix != nil && isExtension(*path.AttributePath.URIPrefix) {
		container = child(doc, *path.AttributePath.URIPrefix)
	}
	name := path.AttributePath.AttributeName
	if path.ValueExpression == nil {
		if sub := path.AttributePath.SubAttribute; sub != nil {
			parent := child(container, name)
			if kind == "remove" {
				deleteKey(parent, *sub)
				return nil
			}
			setAttr(parent, *sub, op.Value, kind)
			return nil
		}
		if kind == "remove" {
			removeAttr(container, name, op.Value)
			return nil
		}
		setAttr(container, name, op.Value, kind)
		return nil
	}
	// A filtered path: emails[type eq "work"].value, members[value eq "ID"].
	key := keyOf(container, name)
	list, _ := container[key].([]any)
	matched := false
	var kept []any
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || !matches(path.ValueExpression, m) {
			kept = append(kept, e)
			continue
		}
		matched = true
		switch {
		case kind == "remove" && path.SubAttribute == nil:
			continue // the element goes
		case kind == "remove":
			deleteKey(m, *path.SubAttribute)
		case path.SubAttribute != nil:
			m[*path.SubAttribute] = op.Value
		default:
			if v, ok := op.Value.(map[string]any); ok {
				for k, x := range v {
					m[k] = x
				}
			}
		}
		kept = append(kept, m)
	}
	if !matched && kind != "remove" {
		// Entra ID adds a work email or address this way: make the element.
		elem := equalities(path.ValueExpression)
		if path.SubAttribute != nil {
			elem[*path.SubAttribute] = op.Value
		} else if v, ok := op.Value.(map[string]any); ok {
			for k, x := range v {
				elem[k] = x
			}
		}
		kept = append(kept, elem)
	}
	if kept == nil {
		delete(container, key)
		return nil
	}
	container[key] = kept
	return nil
}

func noTarget(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeNoTarget, Detail: detail, Status: http.StatusBadRequest}
}

func isExtension(s string) bool {
	if !strings.HasPrefix(strings.ToLower(s), "urn:") {
		return false
	}
	for _, c := range coreURNs {
		if strings.EqualFold(s, c) {
			return false
		}
	}
	return true
}

// keyOf returns the key of doc that names attribute name (any case), or
// name itself.
func keyOf(doc map[string]any, name string) string {
	if _, ok := doc[name]; ok {
		return name
	}
	for k := range doc {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// child returns doc's object attribute name, made when missing.
func child(doc map[string]any, name string) map[string]any {
	k := keyOf(doc, name)
	if m, ok := doc[k].(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	doc[k] = m
	return m
}

func deleteKey(doc map[string]any, name string) { delete(doc, keyOf(doc, name)) }

// setAttr adds or replaces attribute name of doc: a multi-valued attribute
// gets the added elements (add) or the new list (replace); a complex one
// gets the sub-attributes given, the others kept.
func setAttr(doc map[string]any, name string, v any, kind string) {
	k := keyOf(doc, name)
	switch cur := doc[k].(type) {
	case []any:
		add, isList := v.([]any)
		if !isList {
			add = []any{v}
		}
		if kind == "replace" {
			doc[k] = add
			return
		}
		for _, e := range add {
			if !containsValue(cur, e) {
				cur = append(cur, e)
			}
		}
		doc[k] = cur
	case map[string]any:
		if m, ok := v.(map[string]any); ok {
			for sk, sv := range m {
				cur[keyOf(cur, sk)] = sv
			}
			return
		}
		doc[k] = v
	default:
		doc[k] = v
	}
}

// removeAttr removes attribute name; with a value, only the elements of a
// multi-valued attribute whose value is listed (Entra ID removes group
// members this way, and means only those).
func removeAttr(doc map[string]any, name string, v any) {
	k := keyOf(doc, name)
	cur, isList := doc[k].([]any)
	gone, hasValue := v.([]any)
	if !isList || !hasValue {
		delete(doc, k)
		return
	}
	var kept []any
	for _, e := range cur {
		if !containsValue(gone, e) {
			kept = append(kept, e)
		}
	}
	if kept == nil {
		delete(doc, k)
		return
	}
	doc[k] = kept
}

// containsValue reports whether list has an element with e's "value" (or
// equal to e when it has none).
func containsValue(list []any, e any) bool {
	ev := valueOf(e)
	for _, x := range list {
		if valueOf(x) == ev {
			return true
		}
	}
	return false
}

func valueOf(e any) string {
	if m, ok := e.(map[string]any); ok {
		if v := get(m, "value"); v != nil {
			return fmt.Sprint(v)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	return fmt.Sprint(e)
}

// matches evaluates a value filter on one element of a multi-valued
// attribute.
func matches(e filter.Expression, m map[string]any) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		name := x.AttributePath.AttributeName
		if x.AttributePath.SubAttribute != nil {
			name = *x.AttributePath.SubAttribute
		}
		v := get(m, name)
		if x.Operator == filter.PR {
			return v != nil && v != ""
		}
		if v == nil {
			return x.Operator == filter.NE
		}
		have, want := strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(x.CompareValue))
		switch x.Operator {
		case filter.EQ:
			return have == want
		case filter.NE:
			return have != want
		case filter.CO:
			return strings.Contains(have, want)
		case filter.SW:
			return strings.HasPrefix(have, want)
		case filter.EW:
			return strings.HasSuffix(have, want)
		case filter.GT:
			return have > want
		case filter.GE:
			return have >= want
		case filter.LT:
			return have < want
		case filter.LE:
			return have <= want
		}
	case *filter.LogicalExpression:
		if x.Operator == filter.AND {
			return matches(x.Left, m) && matches(x.Right, m)
		}
		return matches(x.Left, m) || matches(x.Right, m)
	case *filter.NotExpression:
		return !matches(x.Expression, m)
	}
	return false
}

// equalities returns the attr eq "value" conditions of a value filter, as
// the element they describe.
func equalities(e filter.Expression) map[string]any {
	out := map[string]any{}
	var walk func(filter.Expression)
	walk = func(e filter.Expression) {
		switch x := e.(type) {
		case *filter.AttributeExpression:
			if x.Operator == filter.EQ {
				out[x.AttributePath.AttributeName] = x.CompareValue
			}
		case *filter.LogicalExpression:
			if x.Operator == filter.AND {
				walk(x.Left)
				walk(x.Right)
			}
		}
	}
	walk(e)
	return out
}

// normalise rewrites what Entra ID sends and elimity would refuse, before
// elimity reads it: string booleans of active, and path-less operations
// whose value has dotted ("name.givenName") or URN-qualified
// ("urn:...:User:department") keys, which become nested objects.
func normalise(body []byte) []byte {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return body // elimity answers invalidSyntax
	}
	changed := false
	if ops, ok := get(doc, "Operations").([]any); ok {
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			path, _ := get(op, "path").(string)
			value := get(op, "value")
			if strings.EqualFold(strings.TrimSpace(path), "active") {
				if b, ok := asBool(value); ok {
					op[keyOf(op, "value")] = b
					changed = true
				}
			}
			if str, ok := value.(string); ok && strings.HasSuffix(strings.ToLower(strings.TrimSpace(path)), ":manager") {
				op[keyOf(op, "value")] = map[string]any{"value": str} // Entra ID sends the manager's id alone
				changed = true
			}
			if m, ok := value.(map[string]any); ok && strings.TrimSpace(path) == "" {
				op[keyOf(op, "value")] = nest(m)
				changed = true
			}
		}
	} else if v := get(doc, "active"); v != nil {
		if b, ok := asBool(v); ok {
			doc[keyOf(doc, "active")] = b
			changed = true
		}
	}
	if !changed {
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// nest turns dotted and URN-qualified keys into nested objects.
func nest(m map[string]any) map[string]any {
	out := map[string]any{}
	put := func(dst map[string]any, key string, v any) {
		if head, tail, ok := strings.Cut(key, "."); ok && head != "" && tail != "" {
			sub, _ := dst[head].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				dst[head] = sub
			}
			sub[tail] = v
			return
		}
		if strings.EqualFold(key, "active") {
			if b, ok := asBool(v); ok {
				v = b
			}
		}
		if str, ok := v.(string); ok && strings.EqualFold(key, "manager") {
			v = map[string]any{"value": str}
		}
		if existing, ok := dst[key].(map[string]any); ok {
			if vm, ok := v.(map[string]any); ok {
				for k, x := range vm {
					existing[k] = x
				}
				return
			}
		}
		dst[key] = v
	}
	for k, v := range m {
		if strings.HasPrefix(strings.ToLower(k), "urn:") {
			// urn:...:User:department → {"urn:...:User": {"department": v}}
			if i := strings.LastIndex(k, ":"); i > 0 {
				urn, attr := k[:i], k[i+1:]
				if _, isObj := v.(map[string]any); !isObj && knownURN(urn) {
					for _, c := range coreURNs {
						if strings.EqualFold(urn, c) {
							put(out, attr, v)
							goto next
						}
					}
					ext, _ := out[urn].(map[string]any)
					if ext == nil {
						ext = map[string]any{}
						out[urn] = ext
					}
					put(ext, attr, v)
					continue
				}
			}
		}
		put(out, k, v)
	next:
	}
	return out
}

func knownURN(urn string) bool {
	for _, u := range append([]string{EnterpriseExtension, AuthorityExtension}, coreURNs...) {
		if strings.EqualFold(urn, u) {
			return true
		}
	}
	return false
}
