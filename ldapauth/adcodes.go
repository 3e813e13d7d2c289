package ldapauth

import (
	"errors"
	"regexp"

	"github.com/go-ldap/ldap/v3"
)

// The reasons Active Directory gives for refusing a bind with the right
// password (docs/rules.md section 5.6).
const (
	AccountPasswordExpired = "passwordExpired" // 532 expired, 773 must change
	AccountLocked          = "locked"          // 775, for any password
	AccountDisabled        = "disabled"        // 533 disabled, 701 account expired
)

// AccountRefused is Authenticate's answer when Active Directory says why it
// refused the person's bind: the password was right (AD tells these only
// then, except a lock, which it tells for any password) but the account may
// not sign in. A wrong password stays ErrCredentialsRefused.
type AccountRefused struct {
	Reason string // AccountPasswordExpired, AccountLocked or AccountDisabled
	Code   string // AD's data code: 532, 773, 775, 533 or 701
}

func (e *AccountRefused) Error() string {
	return "ldapauth: the directory refused the account: " + e.Reason + " (data " + e.Code + ")"
}

// adData finds AD's data code in a bind's diagnostic message
// ("80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 775, v4563").
var adData = regexp.MustCompile(`\bdata ([0-9a-fA-F]{3,4})\b`)

// accountRefusal returns the AccountRefused that err (a refused bind)
// carries, or nil.
func accountRefusal(err error) *AccountRefused {
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultInvalidCredentials || le.Err == nil {
		return nil
	}
	m := adData.FindStringSubmatch(le.Err.Error())
	if m == nil {
		return nil
	}
	switch m[1] {
	case "532", "773":
		return &AccountRefused{Reason: AccountPasswordExpired, Code: m[1]}
	case "775":
		return &AccountRefused{Reason: AccountLocked, Code: m[1]}
	case "533", "701":
		return &AccountRefused{Reason: AccountDisabled, Code: m[1]}
	}
	return nil
}
