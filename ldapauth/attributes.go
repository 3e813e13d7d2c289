package ldapauth

import (
	"sort"
	"strings"
	"sync"

	"github.com/authority-server/authority/ldapauth/script"
)

// SearchAttributes returns the attributes the sync search and the sign-in
// search of s ask for. When the scripts name every attribute they read
// (entry.x, entry["x"]: see script.Program.Attributes) that is only what
// is needed: the username attribute, the email, name and profile mapping,
// the stable ids (StableIDAttributes), and what the scripts read. Otherwise,
// or when a script does not compile, it is every user attribute ("*") plus
// memberOf, the stable ids and the mapped attributes by name. Either way a
// script can never read an attribute that was not fetched. entry.memberOfAll
// is no directory attribute and is never asked for: with NestedGroups on,
// memberOf is asked for instead (memberOfAll is computed from it).
func (s Server) SearchAttributes() []string {
	names, all := scriptAttributes(s)
	var out []string
	seen := map[string]bool{}
	add := func(list ...string) {
		for _, a := range list {
			if a = strings.TrimSpace(a); a != "" && !seen[strings.ToLower(a)] {
				seen[strings.ToLower(a)] = true
				out = append(out, a)
			}
		}
	}
	if all {
		add("*", "memberOf")
	}
	add(s.StableIDAttributes()...)
	if !all {
		add(s.UsernameAttribute())
		for _, n := range names {
			if !strings.EqualFold(n, MemberOfAll) {
				add(n)
			}
		}
	}
	if s.NestedGroups {
		add("memberOf")
	}
	add(orDefault(s.EmailAttribute, DefaultEmailAttribute), orDefault(s.FirstNameAttribute, DefaultFirstNameAttr),
		orDefault(s.LastNameAttribute, DefaultLastNameAttr))
	add(s.ProfileMapping.attributes()...)
	return out
}

// scriptAttrCache keeps what the scripts of a server read, by their text
// (a sign-in must not parse three scripts).
var scriptAttrCache struct {
	sync.Mutex
	m map[string]scriptAttrs
}

type scriptAttrs struct {
	names []string
	all   bool
}

func scriptAttributes(s Server) ([]string, bool) {
	key := s.ActiveScript + "\x00" + s.OrgNameScript + "\x00" + s.RoleNameScript
	scriptAttrCache.Lock()
	v, ok := scriptAttrCache.m[key]
	scriptAttrCache.Unlock()
	if ok {
		return v.names, v.all
	}
	set, err := script.CompileSet(s.ActiveScript, s.OrgNameScript, s.RoleNameScript)
	if err != nil {
		v = scriptAttrs{all: true}
	} else {
		v.names, v.all = set.Attributes()
		sort.Strings(v.names)
	}
	scriptAttrCache.Lock()
	if scriptAttrCache.m == nil || len(scriptAttrCache.m) >= 256 {
		scriptAttrCache.m = map[string]scriptAttrs{}
	}
	scriptAttrCache.m[key] = v
	scriptAttrCache.Unlock()
	return v.names, v.all
}
