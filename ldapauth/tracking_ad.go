package ldapauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
)

// dirSyncFlags are the DirSync request flags: none. Without
// LDAP_DIRSYNC_OBJECT_SECURITY the server checks the "Replicating Directory
// Changes" right once and then returns every object that changed, deleted
// ones (tombstones) included, whatever their ACLs.
const dirSyncFlags int64 = 0

// maxDirSyncRounds bounds the DirSync calls of one read (each returns up to
// the server's batch, ~1,000 objects on Windows).
const maxDirSyncRounds = 100000

// changedFilter is the filter of the searches for changed entries (DirSync,
// usn, timestamp): the sync filter, widened to every person (so that an
// entry that no longer matches the filter is still found, and re-read as
// out of scope) and, for DirSync, to deleted objects (which lose
// sAMAccountName and objectCategory).
func (c *Conn) changedFilter(deleted bool) string {
	f := "(|" + c.srv.SyncFilter() + "(objectClass=person)"
	if deleted {
		f += "(isDeleted=TRUE)"
	}
	return f + ")"
}

// dirSync runs DirSync from cookie under the naming context nc, in rounds
// until the server says there is no more, adding the objectGUID of every
// object it returns to cands (nil: the baseline, which only wants the final
// cookie and asks for objectGUID alone). It returns the last cookie.
func (c *Conn) dirSync(ctx context.Context, nc string, cookie []byte, baseline bool, cands *candidates) ([]byte, error) {
	attrs := []string{"*", "name", "isDeleted", "objectGUID"} // name: moves and renames change only it
	if baseline {
		attrs = []string{"objectGUID"}
	}
	sent := len(cookie) > 0
	for round := 1; ; round++ {
		if round > maxDirSyncRounds {
			return nil, apperr.Unavailable(nil, "ldapauth: DirSync of %s: more than %d rounds", c.srv.URL, maxDirSyncRounds)
		}
		// A new request each round: DirSync appends its control to it.
		req := ldap.NewSearchRequest(nc, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, int(c.timeout/time.Second), false,
			c.changedFilter(true), attrs, nil)
		var res *ldap.SearchResult
		err := c.op(ctx, func() (err error) {
			res, err = c.l.DirSync(req, dirSyncFlags, 0, cookie)
			return err
		})
		if err == nil && res == nil {
			err = errors.New("no result")
		}
		if err != nil {
			return nil, dirSyncError(c, err, sent, round)
		}
		ctl, ok := ldap.FindControl(res.Controls, oidDirSync).(*ldap.ControlDirSync)
		if !ok {
			return nil, apperr.Unavailable(nil, "ldapauth: DirSync round %d of %s: the answer has no DirSync control", round, c.srv.URL)
		}
		if cands != nil {
			for _, e := range res.Entries {
				cands.addGUID(e.GetRawAttributeValue("objectGUID"))
			}
		}
		if len(ctl.Cookie) > 0 {
			cookie = ctl.Cookie
		}
		sent = true
		// In the answer, a non-zero flags field means there is more.
		if ctl.Flags == 0 {
			break
		}
	}
	if len(cookie) == 0 {
		return nil, apperr.Unavailable(nil, "ldapauth: DirSync of %s: the server sent no cookie", c.srv.URL)
	}
	return cookie, nil
}

// dirSyncError turns a DirSync failure into ErrTrackingStateRefused when
// the server refused the cookie, the control or the right, and into an
// Unavailable error otherwise.
func dirSyncError(c *Conn, err error, withCookie bool, round int) error {
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return refused("%s refused DirSync to the service account (it needs the \"Replicating Directory Changes\" right on the naming context): %v", c.srv.URL, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension):
		return refused("%s does not support DirSync: %v", c.srv.URL, err)
	case withCookie && (ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) ||
		ldap.IsErrorWithCode(err, ldap.LDAPResultOther) || ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError)):
		return refused("%s refused the saved DirSync cookie: %v", c.srv.URL, err)
	}
	return apperr.Unavailable(err, "ldapauth: DirSync round %d of %s", round, c.srv.URL)
}

// dirSyncProbe checks that the service account may use DirSync: a DirSync
// search without a cookie for an objectGUID no object has (cheap: it is
// indexed). ErrTrackingStateRefused (wrapped) means it may not.
func (c *Conn) dirSyncProbe(ctx context.Context, nc string) error {
	req := ldap.NewSearchRequest(nc, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, int(c.timeout/time.Second), false,
		`(objectGUID=\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00)`, []string{"objectGUID"}, nil)
	err := c.op(ctx, func() error { _, err := c.l.DirSync(req, dirSyncFlags, 0, nil); return err })
	if err != nil {
		return dirSyncError(c, err, false, 1)
	}
	return nil
}

// dirSyncChanges runs DirSync from st's cookie.
func (c *Conn) dirSyncChanges(ctx context.Context, st TrackingState, cands *candidates) (TrackingState, error) {
	next := TrackingState{}
	if len(st.Cookie) == 0 {
		return next, refused("the DirSync state has no cookie")
	}
	d, err := c.readRootDSE(ctx)
	if err != nil {
		return next, err
	}
	if !d.supports(oidDirSync) {
		return next, refused("%s does not list the DirSync control (%s) any more", c.srv.URL, oidDirSync)
	}
	next.Cookie, err = c.dirSync(ctx, c.namingContext(d), st.Cookie, false, cands)
	return next, err
}

// usnChanges finds the entries whose uSNChanged is above st.USN, under the
// naming context (so that moves out of the base are found too). The next
// state is the highestCommittedUSN read before the search, of the same
// domain controller: USNs are per DC, so a state from another one is
// refused.
func (c *Conn) usnChanges(ctx context.Context, st TrackingState, cands *candidates) (TrackingState, error) {
	next := TrackingState{}
	d, err := c.readRootDSE(ctx)
	if err != nil {
		return next, err
	}
	if !d.hasUSN {
		return next, refused("%s has no highestCommittedUSN in its root DSE", c.srv.URL)
	}
	if !bytes.Equal(st.Cookie, []byte(d.dsServiceName)) {
		return next, refused("the saved USN is of another domain controller (%q) than the one that answered (%q)", st.Cookie, d.dsServiceName)
	}
	if st.USN <= 0 || st.USN > d.usn {
		return next, refused("the saved USN %d is not at or below the server's highestCommittedUSN %d", st.USN, d.usn)
	}
	next.USN, next.Cookie = d.usn, []byte(d.dsServiceName)
	filter := "(&(uSNChanged>=" + strconv.FormatInt(st.USN+1, 10) + ")" + c.changedFilter(false) + ")"
	return next, c.collectChanged(ctx, c.namingContext(d), filter, cands)
}

// timestampChanges finds the entries whose modifyTimestamp is at or after
// st.Time less TimestampOverlap, under the naming context. The next state
// is the time the search started.
func (c *Conn) timestampChanges(ctx context.Context, st TrackingState, cands *candidates) (TrackingState, error) {
	next := TrackingState{}
	t, err := time.Parse(generalizedTime, st.Time)
	if err != nil {
		return next, refused("the saved time %q is not a generalized time (YYYYMMDDHHMMSSZ)", st.Time)
	}
	now := time.Now().UTC()
	if t.After(now.Add(TimestampOverlap)) {
		return next, refused("the saved time %s is in the future", st.Time)
	}
	next.Time = now.Format(generalizedTime)
	d, err := c.readRootDSE(ctx)
	if err != nil {
		return next, err
	}
	filter := "(&(modifyTimestamp>=" + t.Add(-TimestampOverlap).Format(generalizedTime) + ")" + c.changedFilter(false) + ")"
	return next, c.collectChanged(ctx, c.namingContext(d), filter, cands)
}

// collectChanged runs a paged search for changed entries under base and
// adds each one's stable id to cands.
func (c *Conn) collectChanged(ctx context.Context, base, filter string, cands *candidates) error {
	uuidFirst := c.srv.StableIDAttributes()[0] == StableIDEntryUUID
	return c.searchPagedAttrs(ctx, base, filter, []string{"objectGUID", "entryUUID"}, func(page []*Entry) error {
		for _, e := range page {
			if !cands.addEntry(e, uuidFirst) {
				return fmt.Errorf("entry %s has no stable id (objectGUID or entryUUID), so its changes cannot be tracked", e.DN)
			}
		}
		return nil
	})
}
