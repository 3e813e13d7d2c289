package script

import "sync"

// SetCache keeps compiled Sets by an id (an LDAP server's), so that a Set
// is compiled once per version of its scripts' text: the directory sync
// and sign-in each keep one. The zero SetCache is ready; it is safe for
// concurrent use.
type SetCache struct {
	mu   sync.Mutex
	sets map[int64]cachedSet
}

// cachedSet is a compiled Set and the text it was compiled from.
type cachedSet struct {
	active, orgName, roleName string
	set                       *Set
}

// Compile returns the Set of the three scripts for id: the one compiled
// before while their text is the same, or one compiled now (CompileSet),
// which replaces it. A script that does not compile is an error and
// replaces nothing.
func (c *SetCache) Compile(id int64, active, orgName, roleName string) (*Set, error) {
	c.mu.Lock()
	kept, ok := c.sets[id]
	c.mu.Unlock()
	if ok && kept.active == active && kept.orgName == orgName && kept.roleName == roleName {
		return kept.set, nil
	}
	set, err := CompileSet(active, orgName, roleName)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[int64]cachedSet{}
	}
	c.sets[id] = cachedSet{active: active, orgName: orgName, roleName: roleName, set: set}
	return set, nil
}
