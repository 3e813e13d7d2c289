package web

import (
	"context"
	"net/http"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/users"
)

// managerOf returns u's manager for the user page (nil when u has none, or
// the manager was deleted a moment ago).
func (s *Server) managerOf(ctx context.Context, u users.User) (*users.User, error) {
	if u.ManagerID == nil {
		return nil, nil
	}
	m, err := s.Users.Get(ctx, *u.ManagerID)
	if apperr.Is(err, apperr.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// profileMappingInput reads the LDAP server form's profile attribute
// mapping into the input and into shown (the form as sent, shown again
// when it is refused).
func profileMappingInput(r *http.Request, shown *ldapauth.ProfileMapping) ldapauth.ProfileMappingInput {
	str := func(name string, dst *string) *string {
		*dst = r.PostFormValue(name)
		v := *dst
		return &v
	}
	return ldapauth.ProfileMappingInput{
		TitleAttribute: str("titleAttribute", &shown.TitleAttribute), DepartmentAttribute: str("departmentAttribute", &shown.DepartmentAttribute),
		DivisionAttribute: str("divisionAttribute", &shown.DivisionAttribute), EmployeeTypeAttribute: str("employeeTypeAttribute", &shown.EmployeeTypeAttribute),
		ManagerAttribute: str("managerAttribute", &shown.ManagerAttribute), CityAttribute: str("cityAttribute", &shown.CityAttribute),
		StateAttribute: str("stateAttribute", &shown.StateAttribute), CountryAttribute: str("countryAttribute", &shown.CountryAttribute),
	}
}
