package web_test

import (
	"testing"
)

// The server fields stableIdAttribute and nestedGroups: defaults (auto,
// off), set by POST, changed by PATCH (other fields kept), returned by GET,
// an unknown stable id attribute refused naming the field.
func TestLDAPServerStableIDAndNestedGroupsAPI(t *testing.T) {
	e, _, body := ldapEnv(t)
	type fields struct {
		ID                int64    `json:"id"`
		StableIDAttribute string   `json:"stableIdAttribute"`
		NestedGroups      bool     `json:"nestedGroups"`
		Fetched           []string `json:"searchAttributes"`
	}
	var created fields
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if created.StableIDAttribute != "auto" || created.NestedGroups {
		t.Errorf("defaults: %+v, want auto and off", created)
	}
	path := "/api/v1/ldap/servers/" + itoa(created.ID)
	var patched fields
	if code := e.Do("PATCH", path, map[string]any{"stableIdAttribute": "nsuniqueid", "nestedGroups": true}, &patched); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	var got fields
	if code := e.Do("GET", path, nil, &got); code != 200 || got.StableIDAttribute != "nsUniqueId" || !got.NestedGroups {
		t.Fatalf("get after patch: %d %+v", code, got)
	}
	has := map[string]bool{}
	for _, a := range got.Fetched {
		has[a] = true
	}
	if !has["nsUniqueId"] || has["objectGUID"] || !has["memberOf"] {
		t.Errorf("searchAttributes %v: want nsUniqueId alone as the stable id, and memberOf", got.Fetched)
	}
	if code := e.Do("PATCH", path, map[string]any{"nestedGroups": false}, &got); code != 200 || got.NestedGroups || got.StableIDAttribute != "nsUniqueId" {
		t.Errorf("patch nestedGroups only: %d %+v", code, got)
	}
	var er ldapErrJSON
	if code := e.Do("PATCH", path, map[string]any{"stableIdAttribute": "uid"}, &er); code != 400 || er.Field != "stableIdAttribute" {
		t.Errorf("unknown stable id attribute: %d %+v", code, er)
	}
}
