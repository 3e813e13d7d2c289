package script

import (
	"sort"
	"strings"

	"github.com/dop251/goja"
)

// Sensitive lists the attributes that are never handed to a script, shown on
// a page or logged, whatever the configuration (docs/rules.md section 3). Compare
// with [IsSensitive], which ignores case and attribute options.
var Sensitive = []string{"userPassword", "unixUserPassword", "msSFU30Password", "unicodePwd"}

// IsSensitive reports whether the attribute name is in [Sensitive] or in
// extra (the configurable list), ignoring case and any attribute options
// ("userPassword;binary" is userPassword).
func IsSensitive(name string, extra []string) bool {
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimSpace(name)
	for _, s := range Sensitive {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	for _, s := range extra {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		if strings.EqualFold(name, strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// alwaysArray lists the attributes a script always sees as an array, even
// with a single value.
var alwaysArray = []string{"memberOf", "objectClass", MemberOfAll}

// MemberOfAll is the computed attribute of the nested groups (ldapauth's
// NestedGroups): an array whenever the caller passes it, empty ones
// included (no groups), and undefined when it does not.
const MemberOfAll = "memberOfAll"

// present reports whether attribute name with vals exists for a script:
// values, or the computed memberOfAll passed with none.
func present(name string, vals []string) bool {
	return len(vals) > 0 || (vals != nil && strings.EqualFold(name, MemberOfAll))
}

func isAlwaysArray(name string) bool {
	for _, a := range alwaysArray {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}

// entry is the script's view of one directory entry: a goja DynamicObject
// whose property names are case-insensitive. Values are converted lazily on
// first access and then kept, so that entry.memberOf === entry.memberOf and
// changes a script makes to them last for the call.
type entry struct {
	vm    *goja.Runtime
	dn    string
	attrs map[string][]string
	extra []string
	props []prop // converted, set or deleted properties
	first [4]prop
}

type prop struct {
	name    string
	val     goja.Value
	deleted bool
}

func newEntry(vm *goja.Runtime, dn string, attrs map[string][]string, extra []string) *entry {
	e := &entry{vm: vm, dn: dn, attrs: attrs, extra: extra}
	e.props = e.first[:0]
	return e
}

func (e *entry) find(key string) int {
	for i := range e.props {
		if strings.EqualFold(e.props[i].name, key) {
			return i
		}
	}
	return -1
}

// lookup finds an attribute's values, case-insensitively. Sensitive and
// empty attributes do not exist. When the caller passed several keys that
// differ only in case, their values are merged in key order.
func (e *entry) lookup(key string) ([]string, bool) {
	if IsSensitive(key, e.extra) {
		return nil, false
	}
	if vals, ok := e.attrs[key]; ok && present(key, vals) && !e.hasCaseTwin(key) {
		return vals, true
	}
	var names []string
	for k, vals := range e.attrs {
		if present(k, vals) && strings.EqualFold(k, key) {
			names = append(names, k)
		}
	}
	switch len(names) {
	case 0:
		return nil, false
	case 1:
		return e.attrs[names[0]], true
	}
	sort.Strings(names)
	var all []string
	for _, k := range names {
		all = append(all, e.attrs[k]...)
	}
	return all, true
}

// hasCaseTwin reports whether attrs holds another key equal to key but for
// case. It is only consulted on the exact-match path and costs one pass
// over the keys of a small map only when the map has keys of the same length.
func (e *entry) hasCaseTwin(key string) bool {
	for k := range e.attrs {
		if len(k) == len(key) && k != key && strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func (e *entry) convert(name string, vals []string) goja.Value {
	if len(vals) == 1 && !isAlwaysArray(name) {
		return e.vm.ToValue(vals[0])
	}
	items := make([]any, len(vals))
	for i, v := range vals {
		items[i] = v
	}
	return e.vm.NewArray(items...)
}

// testHookGet, when set by a test, is called at the start of every Get (to
// simulate a panic inside goja).
var testHookGet func(key string)

// Get implements goja.DynamicObject.
func (e *entry) Get(key string) goja.Value {
	if testHookGet != nil {
		testHookGet(key)
	}
	if i := e.find(key); i >= 0 {
		if e.props[i].deleted {
			return nil
		}
		return e.props[i].val
	}
	var v goja.Value
	if strings.EqualFold(key, "dn") {
		v = e.vm.ToValue(e.dn)
	} else {
		vals, ok := e.lookup(key)
		if !ok {
			return nil
		}
		v = e.convert(key, vals)
	}
	e.props = append(e.props, prop{name: key, val: v})
	return v
}

// Set implements goja.DynamicObject: a script may add or change properties
// of its entry for the duration of the call.
func (e *entry) Set(key string, val goja.Value) bool {
	if i := e.find(key); i >= 0 {
		e.props[i] = prop{name: e.props[i].name, val: val}
		return true
	}
	e.props = append(e.props, prop{name: key, val: val})
	return true
}

// Has implements goja.DynamicObject.
func (e *entry) Has(key string) bool {
	if i := e.find(key); i >= 0 {
		return !e.props[i].deleted
	}
	if strings.EqualFold(key, "dn") {
		return true
	}
	_, ok := e.lookup(key)
	return ok
}

// Delete implements goja.DynamicObject.
func (e *entry) Delete(key string) bool {
	if i := e.find(key); i >= 0 {
		e.props[i] = prop{name: e.props[i].name, deleted: true}
		return true
	}
	e.props = append(e.props, prop{name: key, deleted: true})
	return true
}

// Keys implements goja.DynamicObject: "dn" and then the attributes (sorted,
// as the caller spelled them), then properties the script added.
func (e *entry) Keys() []string {
	var attrs []string
	for k, vals := range e.attrs {
		if present(k, vals) && !IsSensitive(k, e.extra) && !strings.EqualFold(k, "dn") {
			attrs = append(attrs, k)
		}
	}
	sort.Strings(attrs)
	keys := make([]string, 0, len(attrs)+2)
	seen := func(k string) bool {
		for _, s := range keys {
			if strings.EqualFold(s, k) {
				return true
			}
		}
		return false
	}
	visible := func(k string) bool {
		if i := e.find(k); i >= 0 {
			return !e.props[i].deleted
		}
		return true
	}
	if visible("dn") {
		keys = append(keys, "dn")
	}
	for _, k := range attrs {
		if !seen(k) && visible(k) {
			keys = append(keys, k)
		}
	}
	for _, p := range e.props {
		if !p.deleted && !seen(p.name) {
			keys = append(keys, p.name)
		}
	}
	return keys
}
