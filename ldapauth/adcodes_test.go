package ldapauth

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// AD's data codes (as Samba and Windows write them) name the refusal; any
// other answer is no account refusal.
func TestAccountRefusal(t *testing.T) {
	ad := func(code string) error {
		return fmt.Errorf("bind: %w", &ldap.Error{ResultCode: ldap.LDAPResultInvalidCredentials,
			Err: errors.New("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data " + code + ", v4563")})
	}
	for code, want := range map[string]string{"532": AccountPasswordExpired, "773": AccountPasswordExpired, "775": AccountLocked,
		"533": AccountDisabled, "701": AccountDisabled, "52e": "", "525": ""} {
		got := accountRefusal(ad(code))
		if (want == "" && got != nil) || (want != "" && (got == nil || got.Reason != want || got.Code != code)) {
			t.Errorf("data %s: %+v, want %q", code, got, want)
		}
	}
	other := &ldap.Error{ResultCode: ldap.LDAPResultUnwillingToPerform, Err: errors.New("data 775")}
	if accountRefusal(other) != nil || accountRefusal(errors.New("data 775")) != nil {
		t.Errorf("a refusal from something other than a 49")
	}
	if _, err := bindResult(Server{URL: "ldap://x"}, nil, ad("775")); !errors.As(err, new(*AccountRefused)) {
		t.Errorf("bindResult: %v", err)
	}
}
