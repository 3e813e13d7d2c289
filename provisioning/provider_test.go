package provisioning_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/provisioning"
)

func ptr[T any](v T) *T { return &v }

// A provider's mappings are checked when saved: orgs in its subtree only,
// group ids that can be a SCIM group's, each once, priorities in range,
// known roles and never SYSADMIN.
func TestProviderMappingsAreChecked(t *testing.T) {
	env := authoritytest.Start(t)
	ctx := context.Background()
	root, _ := env.App.Orgs.EnsureRoot(ctx)
	a, err := env.App.Orgs.Create(ctx, orgs.Input{Name: ptr("A")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.App.Orgs.Create(ctx, orgs.Input{Name: ptr("B")})
	if err != nil {
		t.Fatal(err)
	}
	aChild, err := env.App.Orgs.Create(ctx, orgs.Input{Name: ptr("A child"), ParentID: &a.ID})
	if err != nil {
		t.Fatal(err)
	}
	prov := env.App.Prov
	p, creds, err := prov.Create(ctx, provisioning.Input{Name: ptr("Entra"), OrgMapping: &provisioning.OrgMapping{Method: provisioning.OrgSingle, OrgID: a.ID}})
	if err != nil || creds.Token == "" || p.DeactivationDelay != provisioning.Duration(provisioning.DefaultDeactivationDelay) {
		t.Fatalf("create: %+v %+v %v", p, creds, err)
	}
	bad := []struct {
		field string
		in    provisioning.Input
	}{
		{"orgMapping.groups", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "groups", OrgID: a.ID, Groups: []provisioning.OrgGroup{{GroupID: "1", OrgID: b.ID}}}}},
		{"orgMapping.groups", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "groups", OrgID: a.ID, Groups: []provisioning.OrgGroup{{GroupID: "x' OR 1=1", OrgID: aChild.ID}}}}},
		{"orgMapping.groups", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "groups", OrgID: a.ID, Groups: []provisioning.OrgGroup{{GroupID: "1", OrgID: aChild.ID}, {GroupID: "1", OrgID: a.ID}}}}},
		{"orgMapping.groups", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "groups", OrgID: a.ID, Groups: []provisioning.OrgGroup{{GroupID: "1", OrgID: aChild.ID, Priority: -1}}}}},
		{"orgMapping.orgId", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "single", OrgID: 9999}}},
		{"orgMapping.method", provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "everyone", OrgID: a.ID}}},
		{"roleMapping.groups", provisioning.Input{RoleMapping: &provisioning.RoleMapping{Method: "groups", Groups: []provisioning.RoleGroup{{GroupID: "1", Roles: []string{"sysadmin"}}}}}},
		{"roleMapping.groups", provisioning.Input{RoleMapping: &provisioning.RoleMapping{Method: "groups", Groups: []provisioning.RoleGroup{{GroupID: "1", Roles: []string{"No Such Role"}}}}}},
		{"deactivationDelay", provisioning.Input{DeactivationDelay: ptr(provisioning.Duration(-1))}},
		{"name", provisioning.Input{Name: ptr(strings.Repeat("n", 201))}},
		{"credentialType", provisioning.Input{CredentialType: ptr("basic")}},
	}
	for _, tt := range bad {
		_, err := prov.Update(ctx, p.ID, tt.in)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Field != tt.field {
			t.Errorf("%+v: %v, want 400 on %s", tt.in, err, tt.field)
		}
	}
	good, err := prov.Update(ctx, p.ID, provisioning.Input{OrgMapping: &provisioning.OrgMapping{Method: "groups", OrgID: a.ID,
		Groups: []provisioning.OrgGroup{{GroupID: "7", OrgID: aChild.ID, Priority: 2}}},
		RoleMapping: &provisioning.RoleMapping{Method: "groups", Groups: []provisioning.RoleGroup{{GroupID: "7", Roles: []string{"org manager"}}}}})
	if err != nil || good.RoleMapping.Groups[0].Roles[0] != "Org Manager" {
		t.Fatalf("good update: %+v %v", good.RoleMapping, err)
	}
	_ = root

	// Regenerated credentials: the old token stops at once (also when it was
	// just used, and so kept by Authenticate).
	if _, err := prov.Authenticate(ctx, creds.Token, "", ""); err != nil {
		t.Fatalf("token: %v", err)
	}
	fresh, err := prov.Regenerate(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Authenticate(ctx, creds.Token, "", ""); !apperr.Is(err, apperr.KindUnauthorized) {
		t.Fatalf("old token after regenerate: %v", err)
	}
	if got, err := prov.Authenticate(ctx, fresh.Token, "", ""); err != nil || got.ID != p.ID {
		t.Fatalf("new token: %+v %v", got, err)
	}
	if err := prov.Delete(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Authenticate(ctx, fresh.Token, "", ""); !apperr.Is(err, apperr.KindUnauthorized) {
		t.Fatalf("token of a deleted provider: %v", err)
	}
}
