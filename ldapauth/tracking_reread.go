package ldapauth

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// maxRereadBatch bounds the ids of one re-read search ((|(id=..)(id=..)...)).
const maxRereadBatch = 200

// candidate is an entry the tracking protocol says changed, named by its
// stable id.
type candidate struct {
	attr   string // "objectGUID" or "entryUUID"
	uid    string // as Person.UID gives it (lower case)
	filter string // the equality assertion that finds it
}

// candidates collects changed entries once each, in the order first seen.
type candidates struct {
	list []candidate
	seen map[string]bool
}

func (cs *candidates) add(c candidate) {
	if cs.seen == nil {
		cs.seen = map[string]bool{}
	}
	k := c.attr + "\x00" + c.uid
	if c.uid == "" || cs.seen[k] {
		return
	}
	cs.seen[k] = true
	cs.list = append(cs.list, c)
}

// addUUID adds an entry named by its entryUUID.
func (cs *candidates) addUUID(uuid string) {
	uuid = strings.ToLower(strings.TrimSpace(uuid))
	cs.add(candidate{attr: "entryUUID", uid: uuid, filter: "(entryUUID=" + ldap.EscapeFilter(uuid) + ")"})
}

// addGUID adds an entry named by its binary objectGUID.
func (cs *candidates) addGUID(raw []byte) {
	if len(raw) == 0 {
		return
	}
	var f strings.Builder
	f.WriteString("(objectGUID=")
	for _, b := range raw {
		fmt.Fprintf(&f, "\\%02x", b)
	}
	f.WriteString(")")
	cs.add(candidate{attr: "objectGUID", uid: strings.ToLower(formatGUID(raw)), filter: f.String()})
}

// addEntry adds a decoded entry by its stable id, as Person.UID chooses it
// (objectGUID first, then entryUUID; entryUUID first when uuidFirst, the
// server's stable id attribute being entryUUID). It reports false when the
// entry has neither.
func (cs *candidates) addEntry(e *Entry, uuidFirst bool) bool {
	if u := e.First("entryUUID"); u != "" && uuidFirst {
		cs.addUUID(u)
		return true
	}
	if g := e.First("objectGUID"); g != "" {
		if raw, ok := parseGUID(g); ok {
			cs.addGUID(raw)
			return true
		}
	}
	if u := e.First("entryUUID"); u != "" {
		cs.addUUID(u)
		return true
	}
	return false
}

// parseGUID turns formatGUID's text back into the 16 bytes.
func parseGUID(s string) ([]byte, bool) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || len(s) != 36 {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, false
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:4], binary.BigEndian.Uint32(b[0:4]))
	binary.LittleEndian.PutUint16(out[4:6], binary.BigEndian.Uint16(b[4:6]))
	binary.LittleEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(b[6:8]))
	copy(out[8:], b[8:])
	return out, true
}

// reread searches the candidates again under the base DN with the sync
// filter, in batches, and delivers those found to fn in pages of the page
// size; the ones not found are deleted (by their uid).
func (c *Conn) reread(ctx context.Context, cands candidates, fn func([]*Entry) error) (int, []string, error) {
	size := c.srv.pageSize()
	batch := min(size, maxRereadBatch)
	sync := c.srv.SyncFilter()
	var pending []*Entry
	changed, pageNo := 0, 0
	flush := func(all bool) error {
		for len(pending) >= size || (all && len(pending) > 0) {
			n := min(size, len(pending))
			page := pending[:n:n]
			pending = pending[n:]
			pageNo++
			changed += len(page)
			if err := fn(page); err != nil {
				return fmt.Errorf("ldapauth: changed entries, page %d of %s: %w", pageNo, c.srv.URL, err)
			}
		}
		return nil
	}
	// The tracking ids are read back whatever the stable id attribute, to
	// tell the candidates found from those gone.
	rereadAttrs := append(searchAttributesOf(c.srv), "objectGUID", "entryUUID")
	var deleted []string
	for start := 0; start < len(cands.list); start += batch {
		part := cands.list[start:min(start+batch, len(cands.list))]
		var f strings.Builder
		f.WriteString("(&")
		f.WriteString(sync)
		f.WriteString("(|")
		for _, cd := range part {
			f.WriteString(cd.filter)
		}
		f.WriteString("))")
		found := map[string]bool{}
		err := c.searchPagedAttrs(ctx, c.u.baseDN, f.String(), rereadAttrs, func(page []*Entry) error {
			for _, e := range page {
				for _, a := range []string{"objectGUID", "entryUUID"} {
					if v := e.First(a); v != "" {
						found[a+"\x00"+strings.ToLower(v)] = true
					}
				}
			}
			pending = append(pending, page...)
			return flush(false)
		})
		if err != nil {
			return changed, nil, err
		}
		for _, cd := range part {
			if !found[cd.attr+"\x00"+cd.uid] {
				deleted = append(deleted, cd.uid)
			}
		}
	}
	if err := flush(true); err != nil {
		return changed, nil, err
	}
	return changed, deleted, nil
}
