package audit

// The actions recorded. Names are stable (clients filter on them): a dotted
// path from the area to the verb, so that a filter on a prefix ("user",
// "settings") finds a whole area.
const (
	SettingsLDAP          = "settings.ldap.update"
	SettingsNotifications = "settings.notifications.update"
	SettingsRoleMapping   = "settings.role-mapping.update"
	SettingsSecurity      = "settings.security.update"

	LDAPServerCreate = "ldap.server.create"
	LDAPServerUpdate = "ldap.server.update" // a bind password edit shows as bindPassword: (changed)
	LDAPServerDelete = "ldap.server.delete"

	OrgCreate = "org.create"
	OrgUpdate = "org.update" // a new registration key shows as registrationKey: (changed)

	UserCreate        = "user.create"
	UserDeactivate    = "user.deactivate"
	UserReactivate    = "user.reactivate"
	UserBlock         = "user.block"
	UserUnblock       = "user.unblock"
	UserMove          = "user.move"
	UserRoles         = "user.roles"
	UserPassword      = "user.password"
	UserDeviceReplace = "user.device.replace"
	UserProfile       = "user.profile"

	LegalHoldCreate           = "legalhold.create"
	LegalHoldCustodianAdd     = "legalhold.custodian.add"
	LegalHoldCustodianRelease = "legalhold.custodian.release"
	LegalHoldClose            = "legalhold.close"

	SyncRunStart   = "dirsync.run.start"
	SyncRunConfirm = "dirsync.run.confirm" // started with overrideValve: deactivate past the safety valve
	SyncRunCancel  = "dirsync.run.cancel"

	ProviderCreate      = "provisioning.provider.create"
	ProviderUpdate      = "provisioning.provider.update"
	ProviderDelete      = "provisioning.provider.delete"
	ProviderCredentials = "provisioning.provider.credentials"
	ProviderApply       = "provisioning.provider.apply"
)

// Action is an action with what it means, for the console's filter.
type Action struct {
	Name, Label string
}

// Actions lists the actions in the order the console offers them.
var Actions = []Action{
	{SettingsLDAP, "LDAP settings saved"},
	{SettingsNotifications, "Notification settings saved"},
	{SettingsRoleMapping, "Role Mapping list saved"},
	{SettingsSecurity, "Security settings saved"},
	{LDAPServerCreate, "LDAP server added"},
	{LDAPServerUpdate, "LDAP server changed"},
	{LDAPServerDelete, "LDAP server deleted"},
	{OrgCreate, "Organization created"},
	{OrgUpdate, "Organization changed"},
	{UserCreate, "User created"},
	{UserDeactivate, "User deactivated"},
	{UserReactivate, "User reactivated"},
	{UserBlock, "User blocked"},
	{UserUnblock, "User unblocked"},
	{UserMove, "User moved"},
	{UserRoles, "User's roles set"},
	{UserPassword, "User's password set"},
	{UserDeviceReplace, "Device replaced"},
	{UserProfile, "User profile changed"},
	{LegalHoldCreate, "Legal hold matter opened"},
	{LegalHoldCustodianAdd, "Custodian added"},
	{LegalHoldCustodianRelease, "Custodian released"},
	{LegalHoldClose, "Legal hold matter closed"},
	{SyncRunStart, "Directory sync started"},
	{SyncRunConfirm, "Directory sync started past the safety valve"},
	{SyncRunCancel, "Directory sync cancelled"},
	{ProviderCreate, "Provisioning provider added"},
	{ProviderUpdate, "Provisioning provider changed"},
	{ProviderDelete, "Provisioning provider deleted"},
	{ProviderCredentials, "Provisioning credentials regenerated"},
	{ProviderApply, "Provisioning settings applied"},
}
