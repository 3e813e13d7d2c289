package testenv

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Dial connects to the server over plain LDAP (no bind). The caller closes
// the connection.
func (s *SambaAD) Dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://"+s.Addr, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("testenv: samba: dial %s: %w", s.Addr, err)
	}
	c.SetTimeout(30 * time.Second)
	return c, nil
}

// DialTLS connects to the server over LDAPS (no bind), trusting its CA.
func (s *SambaAD) DialTLS() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldaps://"+s.LDAPSAddr, ldap.DialWithTLSConfig(s.TLSConfig()),
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("testenv: samba: dial %s: %w", s.LDAPSAddr, err)
	}
	c.SetTimeout(30 * time.Second)
	return c, nil
}

// Admin connects over LDAPS and binds as the administrator (who may set
// passwords and use DirSync). The caller closes the connection.
func (s *SambaAD) Admin() (*ldap.Conn, error) {
	c, err := s.DialTLS()
	if err != nil {
		return nil, err
	}
	if err := c.Bind(SambaAdminDN, SambaAdminPassword); err != nil {
		c.Close()
		return nil, fmt.Errorf("testenv: samba: admin bind: %w", err)
	}
	return c, nil
}

func (s *SambaAD) withAdmin(fn func(c *ldap.Conn) error) error {
	c, err := s.Admin()
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// Person returns the known person (of [SambaPeople] or added by AddPerson)
// with this sAMAccountName as it is now, after the changes made through
// SambaAD's methods, and whether there is one. Generated people are not
// tracked: use Entry.
func (s *SambaAD) Person(sam string) (SambaPerson, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.people[strings.ToLower(sam)]
	return p.Clone(), ok
}

func (s *SambaAD) track(oldSam string, p SambaPerson) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if oldSam != "" {
		delete(s.people, strings.ToLower(oldSam))
	}
	if p.Sam != "" {
		s.people[strings.ToLower(p.Sam)] = p.Clone()
	}
}

// Entry searches the domain for the user with this sAMAccountName (any
// person, generated ones included) and returns its entry with attrs (none:
// all user attributes).
func (s *SambaAD) Entry(sam string, attrs ...string) (*ldap.Entry, error) {
	var e *ldap.Entry
	err := s.withAdmin(func(c *ldap.Conn) error {
		var err error
		e, err = s.entry(c, sam, attrs...)
		return err
	})
	return e, err
}

func (s *SambaAD) entry(c *ldap.Conn, sam string, attrs ...string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(SambaBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 30, false,
		"(&(objectClass=user)(sAMAccountName="+ldap.EscapeFilter(sam)+"))", attrs, nil)
	res, err := c.Search(req)
	if err != nil {
		return nil, fmt.Errorf("testenv: samba: find %s: %w", sam, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("testenv: samba: find %s: %d entries", sam, len(res.Entries))
	}
	return res.Entries[0], nil
}

// DN returns the current DN of the user with this sAMAccountName.
func (s *SambaAD) DN(sam string) (string, error) {
	e, err := s.Entry(sam, "1.1")
	if err != nil {
		return "", err
	}
	return e.DN, nil
}

// Modify replaces attributes of the user with this sAMAccountName (a nil or
// empty slice removes the attribute), e.g. Modify("alice",
// map[string][]string{"title": {"CTO"}}). Known people's fields are not
// updated by it.
func (s *SambaAD) Modify(sam string, attrs map[string][]string) error {
	return s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		m := ldap.NewModifyRequest(e.DN, nil)
		for name, values := range attrs {
			m.Replace(name, values)
		}
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("testenv: samba: modify %s: %w", e.DN, err)
		}
		return nil
	})
}

// Replace sets one attribute of the user with this sAMAccountName (no
// values: removes it).
func (s *SambaAD) Replace(sam, attr string, values ...string) error {
	return s.Modify(sam, map[string][]string{attr: values})
}

// Disable sets the ACCOUNTDISABLE bit (2) of the user's userAccountControl.
func (s *SambaAD) Disable(sam string) error { return s.setUACBit(sam, uacAccountDisableBit, true) }

// Enable clears the ACCOUNTDISABLE bit of the user's userAccountControl.
func (s *SambaAD) Enable(sam string) error { return s.setUACBit(sam, uacAccountDisableBit, false) }

func (s *SambaAD) setUACBit(sam string, bit int, on bool) error {
	err := s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "userAccountControl")
		if err != nil {
			return err
		}
		uac, err := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
		if err != nil {
			return fmt.Errorf("testenv: samba: userAccountControl of %s: %w", e.DN, err)
		}
		if on {
			uac |= bit
		} else {
			uac &^= bit
		}
		m := ldap.NewModifyRequest(e.DN, nil)
		m.Replace("userAccountControl", []string{strconv.Itoa(uac)})
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("testenv: samba: set userAccountControl of %s: %w", e.DN, err)
		}
		return nil
	})
	if err == nil && bit == uacAccountDisableBit {
		if p, ok := s.Person(sam); ok {
			p.Disabled = on
			s.track("", p)
		}
	}
	return err
}

// SetPassword sets the user's password (unicodePwd, over LDAPS, as the
// administrator).
func (s *SambaAD) SetPassword(sam, password string) error {
	err := s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		m := ldap.NewModifyRequest(e.DN, nil)
		m.Replace("unicodePwd", []string{unicodePwd(password)})
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("testenv: samba: set the password of %s: %w", e.DN, err)
		}
		return nil
	})
	if err == nil {
		if p, ok := s.Person(sam); ok {
			p.Password, p.MustChange, p.PasswordExpired = password, false, false
			s.track("", p)
		}
	}
	return err
}

// Delete deletes the user (AD keeps a tombstone under CN=Deleted Objects:
// isDeleted TRUE, no sAMAccountName, same objectGUID).
func (s *SambaAD) Delete(sam string) error {
	err := s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		if err := c.Del(ldap.NewDelRequest(e.DN, nil)); err != nil {
			return fmt.Errorf("testenv: samba: delete %s: %w", e.DN, err)
		}
		return nil
	})
	if err == nil {
		s.track(sam, SambaPerson{})
	}
	return err
}

// Rename changes the user's sAMAccountName and userPrincipalName (the
// username; the DN and objectGUID stay).
func (s *SambaAD) Rename(sam, newSam string) error {
	err := s.Modify(sam, map[string][]string{"sAMAccountName": {newSam}, "userPrincipalName": {newSam + "@" + SambaDNSDomain}})
	if err == nil {
		if p, ok := s.Person(sam); ok {
			p.Sam = newSam
			s.track(sam, p)
		}
	}
	return err
}

// RenameCN changes the CN, so the DN, of the user (same container, same
// objectGUID, same sAMAccountName).
func (s *SambaAD) RenameCN(sam, newCN string) error {
	err := s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		if err := c.ModifyDN(ldap.NewModifyDNRequest(e.DN, "CN="+ldap.EscapeDN(newCN), true, "")); err != nil {
			return fmt.Errorf("testenv: samba: rename %s to CN=%s: %w", e.DN, newCN, err)
		}
		return nil
	})
	if err == nil {
		if p, ok := s.Person(sam); ok {
			p.CN = newCN
			s.track("", p)
		}
	}
	return err
}

// Move moves the user to another container, given without the base like
// SambaPerson.OU ("OU=Contractors,OU=People"); the container must exist
// (AddOU).
func (s *SambaAD) Move(sam, ou string) error {
	err := s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		parsed, err := ldap.ParseDN(e.DN)
		if err != nil || len(parsed.RDNs) == 0 {
			return fmt.Errorf("testenv: samba: move %s: parse the DN: %v", e.DN, err)
		}
		rdn := parsed.RDNs[0].String()
		if err := c.ModifyDN(ldap.NewModifyDNRequest(e.DN, rdn, true, ou+","+SambaBaseDN)); err != nil {
			return fmt.Errorf("testenv: samba: move %s to %s: %w", e.DN, ou, err)
		}
		return nil
	})
	if err == nil {
		if p, ok := s.Person(sam); ok {
			p.OU = ou
			s.track("", p)
		}
	}
	return err
}

// AddOU adds an organizational unit, given without the base
// ("OU=Alumni,OU=People"); its parent must exist. An existing one is fine.
func (s *SambaAD) AddOU(ou string) error {
	return s.withAdmin(func(c *ldap.Conn) error {
		name := strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=")
		req := ldap.NewAddRequest(ou+","+SambaBaseDN, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		req.Attribute("ou", []string{name})
		if err := c.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("testenv: samba: add %s: %w", ou, err)
		}
		return nil
	})
}

// AddPerson adds a user over LDAPS (with its password, its groups, which
// must exist, and its manager). Only Disabled of the state fields applies.
func (s *SambaAD) AddPerson(p SambaPerson) error {
	if p.Sam == "" || p.OU == "" {
		return fmt.Errorf("testenv: samba: add person: Sam and OU are required")
	}
	err := s.withAdmin(func(c *ldap.Conn) error {
		req := ldap.NewAddRequest(p.DN(), nil)
		for _, a := range sambaPersonAttrs(p) {
			req.Attribute(a.name, a.values)
		}
		if p.Manager != "" {
			m, err := s.entry(c, p.Manager, "1.1")
			if err != nil {
				return err
			}
			req.Attribute("manager", []string{m.DN})
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("testenv: samba: add %s: %w", p.DN(), err)
		}
		for _, g := range p.Groups {
			if err := groupMember(c, g, p.DN(), true); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.track("", p)
	}
	return err
}

// SetGroup adds the user to group (a CN under OU=Groups) or, with member
// false, removes it.
func (s *SambaAD) SetGroup(sam, group string, member bool) error {
	return s.withAdmin(func(c *ldap.Conn) error {
		e, err := s.entry(c, sam, "1.1")
		if err != nil {
			return err
		}
		return groupMember(c, group, e.DN, member)
	})
}

func groupMember(c *ldap.Conn, group, dn string, add bool) error {
	m := ldap.NewModifyRequest(SambaGroupDN(group), nil)
	if add {
		m.Add("member", []string{dn})
	} else {
		m.Delete("member", []string{dn})
	}
	if err := c.Modify(m); err != nil {
		return fmt.Errorf("testenv: samba: member %s of %s (add %v): %w", dn, group, add, err)
	}
	return nil
}

// Lock locks the user's account the way AD does: it puts the user under the
// lockout policy (threshold 5, lockout 10 years) and binds with a wrong
// password until the server answers "data 775".
func (s *SambaAD) Lock(sam string) error {
	dn, err := s.DN(sam)
	if err != nil {
		return err
	}
	err = s.withAdmin(func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(sambaLockPSO, nil)
		m.Add("msDS-PSOAppliesTo", []string{dn})
		if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
			return fmt.Errorf("testenv: samba: lockout policy for %s: %w", dn, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c, err := s.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	for range 10 {
		err := c.Bind(dn, "testenv-wrong-password")
		if err != nil && strings.Contains(err.Error(), "data 775") {
			if p, ok := s.Person(sam); ok {
				p.Locked = true
				s.track("", p)
			}
			return nil
		}
	}
	return fmt.Errorf("testenv: samba: lock %s: still not locked after 10 wrong passwords", dn)
}

// Unlock clears the user's lockoutTime.
func (s *SambaAD) Unlock(sam string) error {
	err := s.Replace(sam, "lockoutTime", "0")
	if err == nil {
		if p, ok := s.Person(sam); ok {
			p.Locked = false
			s.track("", p)
		}
	}
	return err
}

// RootDSE returns the root DSE's attributes (highestCommittedUSN,
// supportedControl, defaultNamingContext, ...), read anonymously.
func (s *SambaAD) RootDSE(attrs ...string) (*ldap.Entry, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if len(attrs) == 0 {
		attrs = []string{"*", "+"}
	}
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 30, false,
		"(objectClass=*)", attrs, nil))
	if err != nil {
		return nil, fmt.Errorf("testenv: samba: root DSE: %w", err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("testenv: samba: root DSE: %d entries", len(res.Entries))
	}
	return res.Entries[0], nil
}

// HighestCommittedUSN returns the root DSE's highestCommittedUSN.
func (s *SambaAD) HighestCommittedUSN() (int64, error) {
	e, err := s.RootDSE("highestCommittedUSN")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(e.GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("testenv: samba: highestCommittedUSN: %w", err)
	}
	return n, nil
}
