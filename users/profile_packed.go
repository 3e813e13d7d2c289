package users

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// PackedProfile is a Profile in one string, as a DIRSYNC run keeps the
// stored profile of the users it holds (a page's, those waiting for their
// manager): one allocation and 16 bytes of header instead of eleven
// strings and a pointer. Each field is its length (uvarint) and its bytes,
// so any value packs losslessly; the manager comes first (a flag byte and
// a varint). The zero PackedProfile is the empty profile.
type PackedProfile string

// PackProfile packs p.
func PackProfile(p Profile) PackedProfile {
	f := p.texts()
	empty := p.ManagerID == nil
	for _, s := range f {
		empty = empty && s == ""
	}
	if empty {
		return ""
	}
	var manager int64
	if p.ManagerID != nil {
		manager = *p.ManagerID
	}
	return PackedProfile(appendPacked(nil, f[:], manager, p.ManagerID != nil))
}

// profileTexts is how many text fields a Profile has.
const profileTexts = 11

// appendPacked appends to b a packed profile of the texts f (a Profile's,
// in the order of texts) and the manager, when hasManager.
func appendPacked(b []byte, f []string, manager int64, hasManager bool) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, s := range f {
		n += binary.MaxVarintLen64 + len(s)
	}
	b = slices.Grow(b, n)
	if hasManager {
		b = binary.AppendVarint(append(b, 1), manager)
	} else {
		b = append(b, 0)
	}
	for _, s := range f {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// Unpack returns the profile; its strings share pp's memory.
func (pp PackedProfile) Unpack() Profile {
	p, err := pp.unpack()
	if err != nil {
		// Only PackProfile makes a PackedProfile: this is a programming error.
		panic(err)
	}
	return p
}

func (pp PackedProfile) unpack() (Profile, error) {
	var p Profile
	if pp == "" {
		return p, nil
	}
	s := string(pp)
	i := 1
	if s[0] == 1 {
		id, n := binary.Varint([]byte(s[1:min(len(s), 1+binary.MaxVarintLen64)]))
		if n <= 0 {
			return Profile{}, fmt.Errorf("users: packed profile: bad manager id")
		}
		p.ManagerID = &id
		i += n
	}
	f := p.fields()
	for k := range f {
		l, n := binary.Uvarint([]byte(s[i:min(len(s), i+binary.MaxVarintLen64)]))
		if n <= 0 || uint64(len(s)-i-n) < l {
			return Profile{}, fmt.Errorf("users: packed profile: field %d is cut short", k)
		}
		i += n
		*f[k] = s[i : i+int(l)]
		i += int(l)
	}
	if i != len(s) {
		return Profile{}, fmt.Errorf("users: packed profile: %d bytes after the last field", len(s)-i)
	}
	return p, nil
}

// texts returns p's text fields in a fixed order (the packed order).
func (p Profile) texts() [profileTexts]string {
	return [profileTexts]string{p.Email, p.FirstName, p.LastName, p.Title, p.Department, p.Division,
		p.EmployeeType, p.EmployeeNumber, p.City, p.State, p.Country}
}

// fields returns pointers to p's text fields in the order of texts.
func (p *Profile) fields() [profileTexts]*string {
	return [profileTexts]*string{&p.Email, &p.FirstName, &p.LastName, &p.Title, &p.Department, &p.Division,
		&p.EmployeeType, &p.EmployeeNumber, &p.City, &p.State, &p.Country}
}
