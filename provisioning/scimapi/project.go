package scimapi

import (
	"encoding/json"
	"strings"
)

// project applies the attributes and excludedAttributes parameters (RFC
// 7644 3.4.2.5) to a GET answer: a resource or a list of them. id and
// schemas are always returned.
func project(body []byte, attributes, excluded string) []byte {
	keep, drop := names(attributes), names(excluded)
	if len(keep) == 0 && len(drop) == 0 {
		return body
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return body
	}
	shape := func(r map[string]any) {
		if len(keep) > 0 {
			out := map[string]any{}
			for k, v := range r {
				if k == "id" || k == "schemas" {
					out[k] = v
				}
			}
			for _, n := range keep {
				copyPath(r, out, n)
			}
			for k := range r {
				delete(r, k)
			}
			for k, v := range out {
				r[k] = v
			}
		}
		for _, n := range drop {
			dropPath(r, n)
		}
	}
	if list, ok := doc["Resources"].([]any); ok {
		for _, e := range list {
			if r, ok := e.(map[string]any); ok {
				shape(r)
			}
		}
	} else {
		shape(doc)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

func names(param string) []string {
	var out []string
	for _, n := range strings.Split(param, ",") {
		if n = strings.TrimSpace(n); n != "" && len(out) < 100 {
			out = append(out, n)
		}
	}
	return out
}

// split turns "name.givenName" or "urn:...:User:department" into the keys
// of the JSON object that hold it.
func split(path string) []string {
	if strings.HasPrefix(strings.ToLower(path), "urn:") {
		for _, c := range coreURNs {
			if len(path) > len(c)+1 && strings.EqualFold(path[:len(c)], c) && path[len(c)] == ':' {
				return split(path[len(c)+1:])
			}
		}
		if i := strings.LastIndex(path, ":"); i > 0 {
			urn, rest := path[:i], path[i+1:]
			if knownURN(urn) {
				return append([]string{urn}, strings.Split(rest, ".")...)
			}
		}
		return []string{path}
	}
	return strings.Split(path, ".")
}

func copyPath(src, dst map[string]any, path string) {
	keys := split(path)
	for i, k := range keys {
		key := keyOf(src, k)
		v, ok := src[key]
		if !ok {
			return
		}
		if i == len(keys)-1 {
			dst[key] = v
			return
		}
		next, ok := v.(map[string]any)
		if !ok {
			dst[key] = v
			return
		}
		d, _ := dst[key].(map[string]any)
		if d == nil {
			d = map[string]any{}
			dst[key] = d
		}
		src, dst = next, d
	}
}

func dropPath(doc map[string]any, path string) {
	keys := split(path)
	for i, k := range keys {
		key := keyOf(doc, k)
		if key == "id" || key == "schemas" {
			return
		}
		if i == len(keys)-1 {
			delete(doc, key)
			return
		}
		next, ok := doc[key].(map[string]any)
		if !ok {
			return
		}
		doc = next
	}
}
