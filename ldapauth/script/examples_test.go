package script

// Short names for the documented examples (examples.go).
const (
	uacScript          = ExampleActiveDisabled
	employeeTypeScript = ExampleActiveEmployeeType
	orgScript          = ExampleOrgNameByOU
	roleScriptOrg      = ExampleRolesByGroup
	roleScriptSys      = ExampleRolesServerWide
)
