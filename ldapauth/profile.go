package ldapauth

import (
	"strings"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// ProfileMapping is a server's optional profile attribute mapping (SPEC
// section 3, the directory-sync tool's ldap.attrib.*): the attribute each
// profile field is read from, "" when the field is not mapped (then a sync
// and a registration leave it as it is). The manager attribute holds a DN,
// resolved to the user whose stored LDAP DN it is.
type ProfileMapping struct {
	TitleAttribute        string `json:"titleAttribute" db:"title_attribute"`
	DepartmentAttribute   string `json:"departmentAttribute" db:"department_attribute"`
	DivisionAttribute     string `json:"divisionAttribute" db:"division_attribute"`
	EmployeeTypeAttribute string `json:"employeeTypeAttribute" db:"employee_type_attribute"`
	ManagerAttribute      string `json:"managerAttribute" db:"manager_attribute"`
	CityAttribute         string `json:"cityAttribute" db:"city_attribute"`
	StateAttribute        string `json:"stateAttribute" db:"state_attribute"`
	CountryAttribute      string `json:"countryAttribute" db:"country_attribute"`
}

// ProfileMappingInput is ProfileMapping in ServerInput: a nil field is left
// as it is (PATCH) or not mapped (POST); "" unmaps it.
type ProfileMappingInput struct {
	TitleAttribute        *string `json:"titleAttribute"`
	DepartmentAttribute   *string `json:"departmentAttribute"`
	DivisionAttribute     *string `json:"divisionAttribute"`
	EmployeeTypeAttribute *string `json:"employeeTypeAttribute"`
	ManagerAttribute      *string `json:"managerAttribute"`
	CityAttribute         *string `json:"cityAttribute"`
	StateAttribute        *string `json:"stateAttribute"`
	CountryAttribute      *string `json:"countryAttribute"`
}

// mappingField is one field of a ProfileMapping: its JSON name and value.
type mappingField struct {
	field string
	value *string
}

func (m *ProfileMapping) fields() []mappingField {
	return []mappingField{
		{"titleAttribute", &m.TitleAttribute}, {"departmentAttribute", &m.DepartmentAttribute},
		{"divisionAttribute", &m.DivisionAttribute}, {"employeeTypeAttribute", &m.EmployeeTypeAttribute},
		{"managerAttribute", &m.ManagerAttribute}, {"cityAttribute", &m.CityAttribute},
		{"stateAttribute", &m.StateAttribute}, {"countryAttribute", &m.CountryAttribute},
	}
}

func (in *ProfileMappingInput) values() []*string {
	return []*string{in.TitleAttribute, in.DepartmentAttribute, in.DivisionAttribute, in.EmployeeTypeAttribute,
		in.ManagerAttribute, in.CityAttribute, in.StateAttribute, in.CountryAttribute}
}

// inputOf returns the input that sets m as it is.
func (m ProfileMapping) inputOf() ProfileMappingInput {
	return ProfileMappingInput{TitleAttribute: &m.TitleAttribute, DepartmentAttribute: &m.DepartmentAttribute,
		DivisionAttribute: &m.DivisionAttribute, EmployeeTypeAttribute: &m.EmployeeTypeAttribute,
		ManagerAttribute: &m.ManagerAttribute, CityAttribute: &m.CityAttribute, StateAttribute: &m.StateAttribute,
		CountryAttribute: &m.CountryAttribute}
}

// apply sets the fields present in in on m.
func (in ProfileMappingInput) apply(m *ProfileMapping) {
	for i, f := range m.fields() {
		if v := in.values()[i]; v != nil {
			*f.value = *v
		}
	}
}

// checkLengths refuses a mapped attribute name over MaxAttributeNameLength
// or with control characters.
func (m *ProfileMapping) checkLengths() error {
	for _, f := range m.fields() {
		if err := apperr.CheckLine(f.field, *f.value, MaxAttributeNameLength); err != nil {
			return err
		}
	}
	return nil
}

// normalize trims the mapping and checks each mapped attribute as the email
// and name attributes are checked: an attribute description, not a
// sensitive attribute. Empty stays empty (not mapped).
func (m *ProfileMapping) normalize(sensitive []string) error {
	for _, f := range m.fields() {
		*f.value = strings.TrimSpace(*f.value)
		if *f.value == "" {
			continue
		}
		if err := checkAttributeName(*f.value); err != nil {
			return apperr.Invalid(f.field, "%v", err)
		}
		if script.IsSensitive(*f.value, sensitive) {
			return apperr.Invalid(f.field, "%s is a sensitive attribute, which is never read", *f.value)
		}
	}
	return nil
}

// attributes returns the mapped attributes.
func (m ProfileMapping) attributes() []string {
	var out []string
	for _, f := range m.fields() {
		if *f.value != "" {
			out = append(out, *f.value)
		}
	}
	return out
}

// PersonProfile is the profile an entry holds through a server's
// ProfileMapping: the first value of each mapped attribute, trimmed; ""
// where the field is not mapped or the entry has no value (the stored value
// is then kept).
type PersonProfile struct {
	Title, Department, Division, EmployeeType string
	City, State, Country                      string
	// ManagerDN is the DN the manager attribute holds.
	ManagerDN string
}

func (s Server) personProfile(e *Entry) PersonProfile {
	get := func(attr string) string {
		if attr == "" {
			return ""
		}
		return strings.TrimSpace(e.First(attr))
	}
	m := s.ProfileMapping
	return PersonProfile{Title: get(m.TitleAttribute), Department: get(m.DepartmentAttribute),
		Division: get(m.DivisionAttribute), EmployeeType: get(m.EmployeeTypeAttribute), City: get(m.CityAttribute),
		State: get(m.StateAttribute), Country: get(m.CountryAttribute), ManagerDN: get(m.ManagerAttribute)}
}

// searchAttributesOf returns the attributes a search of srv asks for (see
// Server.SearchAttributes).
func searchAttributesOf(srv Server) []string { return srv.SearchAttributes() }
