package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authority-server/authority/ldapauth"
)

// The setup form's stable id select and nested groups checkbox: saved on
// add and on edit (an unticked box turns nested groups off), shown as saved,
// and an unknown stable id attribute refused next to its field.
func TestConsoleStableIDAndNestedGroups(t *testing.T) {
	g := consoleGlauth(t)
	e := startConsole(t)
	e.signIn()
	if body := e.follow("/settings/ldap/servers/new"); !strings.Contains(body, `<select id="stableIdAttribute" name="stableIdAttribute">`) ||
		!strings.Contains(body, `name="nestedGroups"`) {
		t.Fatalf("the new server form has no stable id select or nested groups box")
	}
	form := addServerForm(g)
	form.Set("stableIdAttribute", "entryUUID")
	form.Set("nestedGroups", "1")
	code, loc, body := e.post("/settings/ldap/servers", form, false)
	if code != http.StatusSeeOther {
		t.Fatalf("add server: %d\n%s", code, body)
	}
	list, _ := e.app.LDAP.List(context.Background())
	if len(list) != 1 || list[0].StableIDAttribute != ldapauth.StableIDEntryUUID || !list[0].NestedGroups {
		t.Fatalf("stored: %+v", list)
	}
	body = e.follow(loc)
	if !strings.Contains(body, `<option value="entryUUID" selected>`) || !strings.Contains(body, `id="nestedGroups" checked`) {
		t.Errorf("the setup page does not show the saved stable id attribute and nested groups")
	}
	form.Del("nestedGroups")
	form.Set("stableIdAttribute", "nsUniqueId")
	if code, _, body := e.post(loc, form, false); code != http.StatusSeeOther {
		t.Fatalf("edit server: %d\n%s", code, body)
	}
	srv, _ := e.app.LDAP.Get(context.Background(), list[0].ID)
	if srv.StableIDAttribute != ldapauth.StableIDNsUniqueID || srv.NestedGroups {
		t.Errorf("after the edit: %q %v, want nsUniqueId and nested groups off", srv.StableIDAttribute, srv.NestedGroups)
	}
	form.Set("stableIdAttribute", "uid")
	code, _, body = e.post(loc, form, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "auto, objectGUID, entryUUID, nsUniqueId or ipaUniqueID, not &#34;uid&#34;") {
		t.Errorf("unknown stable id attribute: %d, want 400 with the allowed values\n%s", code, body)
	}
}
