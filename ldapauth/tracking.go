package ldapauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
)

// Change tracking modes (SPEC 6.1): how an incremental run learns what
// changed in the directory since the saved [TrackingState].
const (
	TrackingAuto      = "auto"      // choose with DetectTracking
	TrackingSyncrepl  = "syncrepl"  // RFC 4533 refreshOnly with a cookie (OpenLDAP syncprov)
	TrackingDirSync   = "dirsync"   // AD's DirSync control with a cookie
	TrackingUSN       = "usn"       // uSNChanged above the saved highestCommittedUSN (AD)
	TrackingTimestamp = "timestamp" // modifyTimestamp at or after the saved time less TimestampOverlap
	TrackingNone      = "none"      // no incremental runs
)

// Controls and root DSE values the modes rely on.
const (
	oidSyncRequest = "1.3.6.1.4.1.4203.1.9.1.1"
	oidDirSync     = ldap.ControlTypeDirSync // 1.2.840.113556.1.4.841
)

// TimestampOverlap is subtracted from the saved time in timestamp mode: a
// change stamped by a server clock up to this much behind ours is still
// seen (entries changed within it are delivered again, which is harmless).
const TimestampOverlap = time.Minute

// generalizedTime is the form of TrackingState.Time and of the
// modifyTimestamp filter (UTC).
const generalizedTime = "20060102150405Z"

// ErrTrackingStateRefused is returned (wrapped, with the reason) by
// ReadChanges when the saved state cannot be used: the directory refused it
// (e-syncRefreshRequired, a DirSync cookie it rejects, a session log that
// does not reach back to it, another domain controller's USN), or it was
// made for another URL, base, filter or mode. The caller runs a full sync
// instead, which saves a new baseline.
var ErrTrackingStateRefused = errors.New("ldapauth: the saved change-tracking state was refused, a full sync is needed")

// TrackingState is where the next incremental read starts: what the mode
// needs (a cookie, a USN, a time) and the Scope it was made for. It is saved
// as JSON between runs.
type TrackingState struct {
	Mode string `json:"mode"`
	// Cookie is the syncrepl or DirSync cookie; for usn, the dsServiceName
	// of the domain controller whose USN this is (USNs are per DC).
	Cookie []byte `json:"cookie,omitempty"`
	USN    int64  `json:"usn,omitempty"`  // usn: highestCommittedUSN when the state was taken
	Time   string `json:"time,omitempty"` // timestamp: when the state was taken, generalized time (UTC)
	Scope  string `json:"scope"`          // Server.TrackingScope(Mode) when the state was taken
}

// Changes is what ReadChanges found.
type Changes struct {
	Mode    string
	Changed int // entries delivered to fn
	// Deleted are the stable ids (as Person.UID gives them: objectGUID as a
	// GUID string on AD, entryUUID on OpenLDAP) of entries that changed and
	// are not in scope now: deleted, moved out of the base DN, or no longer
	// matching the sync filter. It may hold ids of entries that never were in
	// scope (a deleted group, say): ids that match no user are to be ignored.
	Deleted     []string
	SeesDeletes bool          // the mode reports deletions (syncrepl, dirsync)
	Next        TrackingState // save it once the run commits
	Note        string        // what this mode cannot see
}

// TrackingScope is a hash of the URL, base DN, sync filter and mode: a state
// is only good for the scope it was taken in.
func (s Server) TrackingScope(mode string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{"v1", mode, strings.TrimSpace(s.URL), s.BaseDN(), s.SyncFilter()}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// rootDSE is what the modes read from the root DSE.
type rootDSE struct {
	controls       []string
	namingContexts []string
	defaultNC      string
	usn            int64
	hasUSN         bool
	dsServiceName  string
}

func (c *Conn) readRootDSE(ctx context.Context) (rootDSE, error) {
	var d rootDSE
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, int(c.timeout/time.Second), false,
		"(objectClass=*)", []string{"supportedControl", "namingContexts", "defaultNamingContext", "highestCommittedUSN", "dsServiceName"}, nil)
	var res *ldap.SearchResult
	err := c.op(ctx, func() (err error) { res, err = c.l.Search(req); return err })
	if err == nil && (res == nil || len(res.Entries) != 1) {
		err = errors.New("no root DSE")
	}
	if err != nil {
		return d, apperr.Unavailable(err, "ldapauth: read the root DSE of %s", c.srv.URL)
	}
	e := res.Entries[0]
	d.controls = e.GetAttributeValues("supportedControl")
	d.namingContexts = e.GetAttributeValues("namingContexts")
	d.defaultNC = e.GetAttributeValue("defaultNamingContext")
	d.dsServiceName = e.GetAttributeValue("dsServiceName")
	if v := e.GetAttributeValue("highestCommittedUSN"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return d, apperr.Unavailable(nil, "ldapauth: root DSE of %s: highestCommittedUSN %q is not a number", c.srv.URL, v)
		}
		d.usn, d.hasUSN = n, true
	}
	return d, nil
}

func (d rootDSE) supports(oid string) bool { return slices.Contains(d.controls, oid) }

// namingContext returns the naming context holding the base DN (DirSync
// accepts nothing else as its base; the usn and timestamp searches start
// there to see entries moved out of the base): the longest namingContexts
// value that is the base or above it; the default naming context, or the
// base itself, when none is.
func (c *Conn) namingContext(d rootDSE) string {
	base, err := ldap.ParseDN(c.u.baseDN)
	best, bestLen := "", -1
	if err == nil {
		for _, nc := range d.namingContexts {
			p, err := ldap.ParseDN(nc)
			if err != nil || len(p.RDNs) <= bestLen {
				continue
			}
			if p.Equal(base) || p.AncestorOf(base) {
				best, bestLen = nc, len(p.RDNs)
			}
		}
	}
	if best != "" {
		return best
	}
	if d.defaultNC != "" {
		if p, err2 := ldap.ParseDN(d.defaultNC); err == nil && err2 == nil && (p.Equal(base) || p.AncestorOf(base)) {
			return d.defaultNC
		}
	}
	return c.u.baseDN
}

// DetectTracking chooses the mode for "auto" from the root DSE: syncrepl
// when supportedControl lists 1.3.6.1.4.1.4203.1.9.1.1; dirsync when it lists
// 1.2.840.113556.1.4.841 and the service account may use it ("Replicating
// Directory Changes": checked with a DirSync search that finds nothing);
// usn when the root DSE has highestCommittedUSN; timestamp otherwise.
func (c *Conn) DetectTracking(ctx context.Context) (string, error) {
	d, err := c.readRootDSE(ctx)
	if err != nil {
		return "", err
	}
	if d.supports(oidSyncRequest) {
		return TrackingSyncrepl, nil
	}
	if d.supports(oidDirSync) {
		err := c.dirSyncProbe(ctx, c.namingContext(d))
		if err == nil {
			return TrackingDirSync, nil
		}
		if !errors.Is(err, ErrTrackingStateRefused) {
			return "", err
		}
	}
	if d.hasUSN {
		return TrackingUSN, nil
	}
	return TrackingTimestamp, nil
}

// validMode reports whether mode is one a state can have.
func validMode(mode string) bool {
	switch mode {
	case TrackingSyncrepl, TrackingDirSync, TrackingUSN, TrackingTimestamp, TrackingNone:
		return true
	}
	return false
}

// TrackingBaseline returns the state "as of now" for mode ("auto": the one
// DetectTracking chooses). Take it at the START of a full run, so that what
// changes during the run is seen by the next incremental run (some entries
// may then be delivered twice, never missed). What it costs:
//   - syncrepl: one refresh without a cookie, run to the end, asking for no
//     attributes ("1.1"): the server sends every entry of the sync search as
//     a DN and an entryUUID, unpaged (RFC 4533 has no cheaper way to a
//     cookie; it needs an unlimited size limit for the service account).
//   - dirsync: DirSync without a cookie, run to the end, asking for
//     objectGUID only: every person of the naming context, as a DN and a
//     GUID, in the server's batches.
//   - usn: one read of the root DSE; timestamp: none ("none": none).
func (c *Conn) TrackingBaseline(ctx context.Context, mode string) (TrackingState, error) {
	if mode == TrackingAuto || mode == "" {
		m, err := c.DetectTracking(ctx)
		if err != nil {
			return TrackingState{}, err
		}
		mode = m
	}
	if !validMode(mode) {
		return TrackingState{}, fmt.Errorf("ldapauth: unknown change tracking %q (auto, syncrepl, dirsync, usn, timestamp or none)", mode)
	}
	st := TrackingState{Mode: mode, Scope: c.srv.TrackingScope(mode)}
	switch mode {
	case TrackingTimestamp:
		st.Time = time.Now().UTC().Format(generalizedTime)
	case TrackingUSN:
		d, err := c.readRootDSE(ctx)
		if err != nil {
			return st, err
		}
		if !d.hasUSN {
			return st, apperr.Unavailable(nil, "ldapauth: %s has no highestCommittedUSN in its root DSE: usn tracking is for Active Directory", c.srv.URL)
		}
		st.USN, st.Cookie = d.usn, []byte(d.dsServiceName)
	case TrackingSyncrepl:
		cookie, err := c.syncreplRefresh(ctx, nil, nil)
		if err != nil {
			return st, err
		}
		st.Cookie = cookie
	case TrackingDirSync:
		d, err := c.readRootDSE(ctx)
		if err != nil {
			return st, err
		}
		cookie, err := c.dirSync(ctx, c.namingContext(d), nil, true, nil)
		if err != nil {
			return st, err
		}
		st.Cookie = cookie
	}
	return st, nil
}

// refused wraps ErrTrackingStateRefused with the reason.
func refused(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrTrackingStateRefused, fmt.Sprintf(format, a...))
}

// ReadChanges reads what changed since st and delivers the changed entries
// that are in scope now (within the base DN and matching the sync filter) to
// fn in pages, as SearchAll does (the same attributes, sensitive ones
// stripped); the entries that changed and are no longer in scope come back
// in Changes.Deleted by stable id. The tracking protocol only names
// candidates (entryUUIDs, objectGUIDs); each is read again with the sync
// filter under the base, in batches, and a candidate not found there is
// deleted. A state made for another scope or mode, or one the directory
// refuses, is ErrTrackingStateRefused (wrapped): run a full sync. A read that
// fails or ends early is an error (never a short result); an error from fn
// stops the read and is returned wrapped. Save Changes.Next only when the
// run that used the changes commits.
func (c *Conn) ReadChanges(ctx context.Context, st TrackingState, fn func(page []*Entry) error) (Changes, error) {
	ch := Changes{Mode: st.Mode}
	if !validMode(st.Mode) {
		return ch, refused("unknown mode %q", st.Mode)
	}
	if st.Mode == TrackingNone {
		return ch, refused("change tracking is none for %s", c.srv.URL)
	}
	if st.Scope != c.srv.TrackingScope(st.Mode) {
		return ch, refused("the state was taken for another URL, base DN, search filter or mode than %s has now", c.srv.URL)
	}
	var cands candidates
	var err error
	switch st.Mode {
	case TrackingSyncrepl:
		ch.SeesDeletes = true
		ch.Note = "deletions come as entryUUIDs (Person.UID gives the objectGUID instead where an OpenLDAP entry also has one)"
		ch.Next, err = c.syncreplChanges(ctx, st, &cands)
	case TrackingDirSync:
		ch.SeesDeletes = true
		ch.Note = "group membership changes (AD computes memberOf: the user entry does not change) are not seen until the next full run"
		ch.Next, err = c.dirSyncChanges(ctx, st, &cands)
	case TrackingUSN:
		ch.Note = "deletions are not seen (deleted entries are tombstones the search does not return), nor group membership changes (memberOf is computed): the next full run catches them"
		ch.Next, err = c.usnChanges(ctx, st, &cands)
	case TrackingTimestamp:
		ch.Note = "deletions are not seen (a deleted entry has no modifyTimestamp left to find), nor changes that do not touch the entry (a memberOf computed by the server): the next full run catches them"
		ch.Next, err = c.timestampChanges(ctx, st, &cands)
	}
	if err != nil {
		return ch, err
	}
	ch.Next.Mode, ch.Next.Scope = st.Mode, st.Scope
	idAttr := map[string]string{TrackingSyncrepl: StableIDEntryUUID, TrackingDirSync: StableIDObjectGUID}[st.Mode]
	ids := c.srv.StableIDAttributes()
	blind := ch.SeesDeletes && len(ids) == 1 && ids[0] != idAttr
	if blind {
		// Deletions are named by idAttr, which is not the stable id the users
		// are matched by: they cannot be told.
		ch.SeesDeletes = false
		ch.Note = fmt.Sprintf("deletions are named by %s but the stable id attribute is %s: they are not seen, the next full run catches them", idAttr, ids[0])
	}
	ch.Changed, ch.Deleted, err = c.reread(ctx, cands, fn)
	if blind {
		ch.Deleted = nil
	}
	return ch, err
}
