package authority

import (
	"github.com/authority-server/authority/internal/serverlog"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/provisioning/scimapi"
)

// wireProvisioning builds the SCIM provisioning service and its /scim/v2
// handler (docs/rules.md section 9).
func (a *App) wireProvisioning() error {
	a.Prov = provisioning.New(a.DB, a.Orgs, a.Users, a.Log.With(serverlog.ThreadKey, "scim", serverlog.LoggerKey, "provisioning"), a.Config.Now)
	h, err := scimapi.New(a.Prov, a.Log.With(serverlog.ThreadKey, "scim", serverlog.LoggerKey, "scim"))
	if err != nil {
		return err
	}
	a.Web.Prov = a.Prov
	a.Web.SCIM = h
	return nil
}
