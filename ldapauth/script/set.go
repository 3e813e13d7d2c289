package script

import "strings"

// Set holds the three compiled scripts of one LDAP server. Active is never
// nil when made by CompileSet; OrgName and RoleName are nil when the server
// has no such script. A Set may be shared by goroutines, like its Programs.
type Set struct {
	Active, OrgName, RoleName *Program
}

// CompileSet compiles the three scripts of an LDAP server. An empty (or
// blank) active script is the default DefaultActiveSource; an empty org name
// or role name script gives a nil Program. The first script that does not
// compile is returned as an *apperr.Error with Field "activeScript",
// "orgNameScript" or "roleNameScript" and its Line and Column.
func CompileSet(active, orgName, roleName string) (*Set, error) {
	if strings.TrimSpace(active) == "" {
		active = DefaultActiveSource
	}
	s := &Set{}
	var err error
	if s.Active, err = Compile(FieldActive, active); err != nil {
		return nil, err
	}
	if strings.TrimSpace(orgName) != "" {
		if s.OrgName, err = Compile(FieldOrgName, orgName); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(roleName) != "" {
		if s.RoleName, err = Compile(FieldRoleName, roleName); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Result is what the three scripts of a Set returned for one entry.
//
// When Errors is not empty the entry must be treated as failed as a whole
// (docs/rules.md section 4: the user is left exactly as it was); the other fields
// then hold what the scripts that did succeed returned, for a preview.
// Active is false when the active script failed.
type Result struct {
	Active  bool
	OrgName string   // "" for no org
	Roles   []string // nil or empty for no roles
	Errors  []string // one message per failed script, each starting with the script's name
}

// OK reports whether every script succeeded.
func (res Result) OK() bool { return len(res.Errors) == 0 }

// Run runs the Set's scripts for one entry and collects their results and
// errors. Every script runs even when another fails, so that a preview shows
// everything at once. A nil Set behaves as the default scripts (active, no
// org, no roles).
func (r *Runner) Run(s *Set, dn string, attrs map[string][]string) Result {
	var res Result
	if s == nil {
		res.Active = true
		return res
	}
	var err error
	if res.Active, err = r.Active(s.Active, dn, attrs); err != nil {
		res.Active = false
		res.Errors = append(res.Errors, err.Error())
	}
	if res.OrgName, err = r.OrgName(s.OrgName, dn, attrs); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if res.Roles, err = r.Roles(s.RoleName, dn, attrs); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	return res
}
