package testenv

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// NestGroup makes the group child (a CN under ou=Groups) a member of the
// group parent (created when it does not exist yet): parent's member gets
// child's DN. Groups' memberOf is not written (as slapd without the memberof
// overlay), and a person's memberOf keeps naming only its direct groups.
// Cycles are allowed (NestGroup("C", "A") after A in B in C).
func (s *Slapd) NestGroup(child, parent string) error {
	return s.withAdmin(func(c *ldap.Conn) error {
		return s.addMember(c, parent, GroupDN(BaseDN, child))
	})
}

// AddGroup adds a groupOfNames with these member DNs (at least one) under
// ou=Groups, e.g. a group of groups with no people.
func (s *Slapd) AddGroup(cn string, memberDNs ...string) error {
	if len(memberDNs) == 0 {
		return fmt.Errorf("testenv: slapd: group %q needs a member", cn)
	}
	return s.withAdmin(func(c *ldap.Conn) error {
		for _, m := range memberDNs {
			if err := s.addMember(c, cn, m); err != nil {
				return err
			}
		}
		return nil
	})
}
