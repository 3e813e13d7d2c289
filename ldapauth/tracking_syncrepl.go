package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
)

// LDAP result codes of the sync operation.
const (
	resultSyncRefreshRequired = 4096 // e-syncRefreshRequired (RFC 4533)
)

// syncprovCookie is the form of OpenLDAP syncprov's cookies:
// rid=NNN[,sid=XXX][,csn=CSN[;CSN...]][,delcsn=CSN]. syncprov treats a
// cookie it cannot parse as no cookie at all (a full reload, which looks
// like a very long list of changes and reports no deletions), so a cookie
// of another form is refused before it is sent.
var syncprovCookie = regexp.MustCompile(`^rid=\d{3}(,sid=[0-9a-fA-F]{3})?(,csn=` + csnRE + `(;` + csnRE + `)*)?(,delcsn=` + csnRE + `)?$`)

const csnRE = `\d{14}\.\d{6}Z#[0-9a-fA-F]{6}#[0-9a-fA-F]{3}#[0-9a-fA-F]{6}`

// syncreplChanges runs a refresh from st's cookie, adding every entryUUID
// it names (added, modified, deleted, left the scope) to cands.
func (c *Conn) syncreplChanges(ctx context.Context, st TrackingState, cands *candidates) (TrackingState, error) {
	next := TrackingState{}
	if len(st.Cookie) == 0 {
		return next, refused("the syncrepl state has no cookie")
	}
	if !syncprovCookie.Match(st.Cookie) {
		return next, refused("the syncrepl cookie %q is not one OpenLDAP's syncprov gives", truncate(string(st.Cookie), 80))
	}
	cookie, err := c.syncreplRefresh(ctx, st.Cookie, cands.addUUID)
	if err != nil {
		return next, err
	}
	next.Cookie = cookie
	return next, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// syncreplRefresh runs one RFC 4533 refreshOnly search of the sync filter
// under the base, asking for no attributes, to its end (the sync done
// control), and returns the cookie to save: the last one the server sent,
// or cookie itself when nothing changed (syncprov then sends none). With a
// cookie, onUUID gets the entryUUID of every entry the server names; an
// answer that is not a replay of the changes since the cookie (a present
// phase, which only a client holding every entryUUID can use) is refused.
//
// The search cannot be paged (slapd refuses the sync control with the
// paging control), so the service account needs a size limit above what it
// returns: without a cookie that is the whole scope (an error otherwise);
// with one, the changes since it (more is a refused state: a full run).
// The time limit is per message: the search fails when the server sends
// nothing for timeoutSeconds.
func (c *Conn) syncreplRefresh(ctx context.Context, cookie []byte, onUUID func(string)) ([]byte, error) {
	if c.l == nil {
		return nil, errors.New("ldapauth: the connection is closed")
	}
	req := ldap.NewSearchRequest(c.u.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		c.srv.SyncFilter(), []string{"1.1"}, nil)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle atomic.Bool
	timer := time.AfterFunc(c.timeout, func() { idle.Store(true); c.l.Close() })
	defer timer.Stop()
	stopCtx := context.AfterFunc(ctx, func() { c.l.Close() })
	defer stopCtx()

	r := c.l.Syncrepl(sctx, req, 256, ldap.SyncRequestModeRefreshOnly, cookie, false)
	var last []byte
	done, present, n := false, false, 0
	keep := func(ck []byte) {
		if len(ck) > 0 {
			last = ck
		}
	}
	for r.Next() {
		timer.Reset(c.timeout)
		if e := r.Entry(); e != nil {
			n++
			st, ok := ldap.FindControl(r.Controls(), ldap.ControlTypeSyncState).(*ldap.ControlSyncState)
			if !ok {
				return nil, apperr.Unavailable(nil, "ldapauth: syncrepl search of %s: entry %s came without a sync state control", c.srv.URL, e.DN)
			}
			keep(st.Cookie)
			if st.State == ldap.SyncStatePresent {
				present = true
			} else if onUUID != nil {
				onUUID(st.EntryUUID.String())
			}
			continue
		}
		for _, ctl := range r.Controls() {
			switch v := ctl.(type) {
			case *ldap.ControlSyncInfo:
				switch {
				case v.NewCookie != nil:
					keep(v.NewCookie.Cookie)
				case v.RefreshDelete != nil:
					keep(v.RefreshDelete.Cookie)
				case v.RefreshPresent != nil:
					keep(v.RefreshPresent.Cookie)
					present = true
				case v.SyncIdSet != nil:
					keep(v.SyncIdSet.Cookie)
					if !v.SyncIdSet.RefreshDeletes {
						present = true
					} else if onUUID != nil {
						for _, u := range v.SyncIdSet.SyncUUIDs {
							onUUID(u.String())
						}
					}
				}
			case *ldap.ControlSyncDone:
				done = true
				keep(v.Cookie)
				if !v.RefreshDeletes {
					present = true
				}
			}
		}
	}
	err := r.Err()
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (after %d entries)", ctx.Err(), n)
	case idle.Load():
		err = fmt.Errorf("no answer within %s (timeoutSeconds), after %d entries: %w", c.timeout, n, context.DeadlineExceeded)
	case err == nil && !done:
		err = fmt.Errorf("the search ended after %d entries without the sync done control, so the result may be incomplete", n)
	}
	if err != nil {
		if len(cookie) > 0 && ldap.IsErrorWithCode(err, resultSyncRefreshRequired) {
			return nil, refused("%s answered e-syncRefreshRequired (4096) to the saved cookie", c.srv.URL)
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension) {
			return nil, refused("%s does not support the sync request control (no syncprov overlay?): %v", c.srv.URL, err)
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			if len(cookie) > 0 {
				return nil, refused("%s: more changed entries since the saved cookie than the service account's size limit lets one search return (a sync search cannot be paged): %v", c.srv.URL, err)
			}
			return nil, apperr.Unavailable(err, "ldapauth: syncrepl search of %s: the size limit stopped it (a sync search cannot be paged: give the service account an unlimited size limit)", c.srv.URL)
		}
		return nil, apperr.Unavailable(err, "ldapauth: syncrepl search of %s", c.srv.URL)
	}
	if len(cookie) > 0 && present {
		return nil, refused("%s answered the saved cookie with a present phase (its session log does not reach back to it)", c.srv.URL)
	}
	if len(last) == 0 {
		if len(cookie) == 0 {
			return nil, apperr.Unavailable(nil, "ldapauth: syncrepl search of %s: the server sent no cookie", c.srv.URL)
		}
		return cookie, nil
	}
	if !syncprovCookie.Match(last) {
		return nil, apperr.Unavailable(nil, "ldapauth: syncrepl search of %s: the server sent a cookie of a form other than OpenLDAP syncprov's (%q): syncrepl tracking is for OpenLDAP", c.srv.URL, truncate(string(last), 80))
	}
	return last, nil
}
