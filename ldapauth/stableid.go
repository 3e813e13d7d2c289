package ldapauth

import (
	"strings"

	"github.com/authority-server/authority/internal/apperr"
)

// Stable id attributes (Server.StableIDAttribute): where Person.UID, the id
// that matches a directory entry to its user across renames, comes from.
const (
	StableIDAuto        = "auto"        // the first of the four below the entry has
	StableIDObjectGUID  = "objectGUID"  // Active Directory (binary, formatted as a GUID string)
	StableIDEntryUUID   = "entryUUID"   // OpenLDAP (RFC 4530)
	StableIDNsUniqueID  = "nsUniqueId"  // 389 Directory Server, Red Hat DS
	StableIDIpaUniqueID = "ipaUniqueID" // FreeIPA
)

// stableIDOrder is the order StableIDAuto tries the attributes in.
var stableIDOrder = []string{StableIDObjectGUID, StableIDEntryUUID, StableIDNsUniqueID, StableIDIpaUniqueID}

// normalizeStableID turns the setting into its canonical spelling ("" is
// auto; the names compare case-insensitively), or refuses it naming the
// field and the allowed values.
func normalizeStableID(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, StableIDAuto) {
		return StableIDAuto, nil
	}
	for _, a := range stableIDOrder {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", apperr.Invalid("stableIdAttribute", "must be auto, objectGUID, entryUUID, nsUniqueId or ipaUniqueID, not %q", v)
}

// StableIDAttributes returns the attributes the stable id may come from, in
// the order they are tried: all four for auto (or an unset or unknown
// setting), the chosen one otherwise. The searches ask for them.
func (s Server) StableIDAttributes() []string {
	for _, a := range stableIDOrder {
		if strings.EqualFold(strings.TrimSpace(s.StableIDAttribute), a) {
			return []string{a}
		}
	}
	return stableIDOrder
}

// stableID returns e's stable id as Person.UID gives it: the first value
// of the first of StableIDAttributes the entry has (objectGUID already in
// its GUID string form; the others as the directory gives them), or "".
func (s Server) stableID(e *Entry) string {
	for _, a := range s.StableIDAttributes() {
		if v := strings.TrimSpace(e.First(a)); v != "" {
			return v
		}
	}
	return ""
}
