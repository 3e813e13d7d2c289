package ldapauth

import (
	"context"
	"fmt"
	"regexp"

	"github.com/go-ldap/ldap/v3"
)

// FullRunBaseline returns the tracking state of mode (as TrackingBaseline
// gives it) for a full search about to begin on c: take it just before the
// search, so that whatever changes during the search is seen by the next
// incremental run.
//
// A syncrepl baseline by TrackingBaseline is a refresh of every entry in
// scope, a second pass as long as a bare search of the few attributes that
// matter. When the directory shows one contextCSN for the naming context of
// the base (OpenLDAP's syncprov answers it from memory), the state is that
// CSN instead, checked at once with a refresh from it: syncprov must accept
// the cookie from this account and answer with the changes since it (none,
// or the few made meanwhile) rather than a present phase. That costs one
// round trip instead of the pass. Otherwise, and for the other modes, it is
// TrackingBaseline.
//
// A service account with a size limit below the scope gets a state this
// way (the pass would fail on it); its incremental runs work while the
// changes since the state fit in the limit, and one that does not fit is
// refused (ErrTrackingStateRefused), so that a full run follows.
func FullRunBaseline(ctx context.Context, c *Conn, mode string) (TrackingState, error) {
	if mode == TrackingAuto || mode == "" {
		m, err := c.DetectTracking(ctx)
		if err != nil {
			return TrackingState{}, err
		}
		mode = m
	}
	if mode != TrackingSyncrepl {
		return c.TrackingBaseline(ctx, mode)
	}
	csn, ok := c.contextCSN(ctx)
	if !ok {
		return c.TrackingBaseline(ctx, mode)
	}
	checked, err := c.syncreplRefresh(ctx, []byte("rid=000,csn="+csn), nil)
	if err != nil {
		return TrackingState{}, err
	}
	// The refresh ends with a cookie of the same form, at that CSN or a later
	// one; anything else is a directory this shortcut does not know: keep no
	// state rather than a wrong one.
	if m := cookieCSN.FindSubmatch(checked); m == nil || string(m[1]) < csn {
		return TrackingState{}, fmt.Errorf("ldapauth: %s: the syncrepl refresh from contextCSN %s ended with cookie %q, not one at or after it", c.srv.URL, csn, checked)
	}
	return TrackingState{Mode: mode, Scope: c.srv.TrackingScope(mode), Cookie: []byte("rid=000,csn=" + csn)}, nil
}

// csnSyntax is a change sequence number: a generalized time with
// microseconds, then the change count, server id and modifier number.
const csnSyntax = `[0-9]{14}\.[0-9]{6}Z#[0-9a-f]{6}#[0-9a-f]{3}#[0-9a-f]{6}`

// cookieCSN is the form of an OpenLDAP syncrepl cookie with one CSN.
var cookieCSN = regexp.MustCompile(`^rid=[0-9]{3},csn=(` + csnSyntax + `)$`)

// csnPattern is one CSN alone.
var csnPattern = regexp.MustCompile(`^` + csnSyntax + `$`)

// contextCSN reads the one contextCSN of the naming context holding the
// base; false when there is none, several (more than one provider), or one
// that is not a CSN.
func (c *Conn) contextCSN(ctx context.Context) (string, bool) {
	d, err := c.readRootDSE(ctx)
	if err != nil {
		return "", false
	}
	req := ldap.NewSearchRequest(c.namingContext(d), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, int(c.timeout.Seconds()), false,
		"(objectClass=*)", []string{"contextCSN"}, nil)
	var res *ldap.SearchResult
	if err := c.op(ctx, func() (err error) { res, err = c.l.Search(req); return err }); err != nil || res == nil || len(res.Entries) != 1 {
		return "", false
	}
	v := res.Entries[0].GetAttributeValues("contextCSN")
	if len(v) != 1 || !csnPattern.MatchString(v[0]) {
		return "", false
	}
	return v[0], true
}
