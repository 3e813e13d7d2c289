package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// scimCall sends a SCIM request with a bearer token and returns the status
// and the decoded answer.
func scimCall(t *testing.T, base, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/scim/v2"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// Settings > Identity management > Provisioning in the browser: add a
// token provider, use the token shown once, see the change in the sync log,
// map a group to an org, regenerate the credentials and delete the provider.
func TestConsoleBrowserProvisioning(t *testing.T) {
	b := startBrowser(t)
	ctx := context.Background()
	root, err := b.app.Orgs.EnsureRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name, parent := "Sales", root.ID
	sales, err := b.app.Orgs.Create(ctx, orgs.Input{Name: &name, ParentID: &parent})
	if err != nil {
		t.Fatal(err)
	}
	b.signIn()

	// Add a provider; the token is on the next page, once.
	b.click("#nav-provisioning")
	b.waitText("h1", "Provisioning")
	b.expectText("#no-providers", "No provisioning providers yet")
	b.fill("#name", "Entra ID")
	b.check("#cred-token")
	b.fill("#orgId", strconv.FormatInt(root.ID, 10))
	b.fill("#deactivationDelay", "30m")
	b.click("#create-provider")
	b.waitText("h1", "Provider Entra ID added")
	b.expectText("#once-warning", "not shown again")
	b.expectText("#credential-base-url", "/scim/v2")
	token := strings.TrimSpace(b.text("#credential-token"))
	if len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	b.shot("prov-01-credentials")

	// The token works from a plain HTTP client.
	code, u := scimCall(t, b.base, "POST", "/Users", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"ann@acme.test","active":true,"name":{"givenName":"Ann","familyName":"Smith"},"emails":[{"type":"work","value":"ann@acme.test"}]}`)
	if code != http.StatusCreated {
		t.Fatalf("SCIM create user: %d %v", code, u)
	}
	userID, _ := u["id"].(string)
	code, g := scimCall(t, b.base, "POST", "/Groups", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales team","members":[{"value":"`+userID+`"}]}`)
	if code != http.StatusCreated {
		t.Fatalf("SCIM create group: %d %v", code, g)
	}
	groupID, _ := g["id"].(string)

	// The provider's page: its sync log has the user.
	b.click("#continue")
	b.waitText("h1", "Entra ID")
	b.expectText("#sync-log", "ann@acme.test")
	if strings.Contains(b.text("main"), token) {
		t.Fatal("the provider's page shows the token")
	}
	b.open("/settings/provisioning")
	b.expectText("#provider-list", "Entra ID")
	b.expectText("#provider-list", "30m")
	b.expectText("#provider-list", "everyone into Default")
	if strings.Contains(b.text("main"), token) {
		t.Fatal("the provider list shows the token")
	}
	b.click("#provider-list a.provider-name")
	b.waitText("h1", "Entra ID")
	providerPage, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	// Org mapping by groups: Sales team → Sales.
	b.fill("#orgMethod", "groups")
	b.fill("#og-0-groupId", groupID)
	b.fill("#og-0-orgId", strconv.FormatInt(sales.ID, 10))
	b.fill("#og-0-priority", "1")
	b.click("#save-provider")
	b.expectText("#flash", "Provider Entra ID saved.")
	b.expectText("#org-groups", "Sales team")
	// A bad row shows its error next to the table, and saves nothing.
	b.fill("#og-1-groupId", "99")
	b.fill("#og-1-priority", "soon")
	b.click("#save-provider")
	b.expectText("#org-mapping .field-error", "priority must be a whole number")
	b.do("reload the provider", chromedp.Navigate(providerPage))
	if b.has("#og-1-remove") {
		t.Fatal("the bad row was saved")
	}
	b.click("#apply-provider")
	b.expectText("#flash", "1 user checked")
	who, err := b.app.Users.ByUsername(ctx, "ann@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if who.OrgID != sales.ID {
		t.Fatalf("after applying, ann is in org %d, want Sales %d", who.OrgID, sales.ID)
	}
	b.expectText("#sync-log", "Sales")
	b.shot("prov-02-provider")

	// Regenerate: the old token stops working, the new one works.
	b.check("#confirm-regenerate")
	b.click("#regenerate-credentials")
	b.waitText("h1", "New credentials of Entra ID")
	newToken := strings.TrimSpace(b.text("#credential-token"))
	if newToken == token || newToken == "" {
		t.Fatalf("new token %q", newToken)
	}
	if code, _ := scimCall(t, b.base, "POST", "/Users", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@acme.test"}`); code != http.StatusUnauthorized {
		t.Fatalf("the old token after regenerating: %d, want 401", code)
	}
	if code, _ := scimCall(t, b.base, "POST", "/Users", newToken, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("the new token: %d, want 201", code)
	}

	// Delete: the users stay, blocked.
	b.click("#continue")
	b.waitText("h1", "Entra ID")
	b.expectText("#provider-actions", "Its users (2) stay")
	b.check("#confirm-delete")
	b.click("#delete-provider")
	b.expectText("#flash", "Provider Entra ID deleted.")
	b.expectText("#no-providers", "No provisioning providers yet")
	who, err = b.app.Users.ByUsername(ctx, "ann@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if who.Status != users.StatusBlocked {
		t.Fatalf("ann after deleting the provider: %s, want blocked", who.Status)
	}
	b.open("/users/" + strconv.FormatInt(who.ID, 10))
	b.expectText("#user-status", "by its provisioning provider")
	if code, _ := scimCall(t, b.base, "GET", "/Users", newToken, ""); code != http.StatusUnauthorized {
		t.Fatalf("the token of a deleted provider: %d, want 401", code)
	}
	b.shot("prov-03-deleted")
}
