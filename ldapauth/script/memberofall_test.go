package script

import (
	"reflect"
	"testing"
)

// memberOfAll, when passed, is always an array, an empty one included (no
// groups); when not passed it is undefined.
func TestMemberOfAllAlwaysArray(t *testing.T) {
	prog, err := Compile(FieldRoleName, `function(entry) {
		var v = entry.memberofall;
		if (v === undefined) { return ["undefined"]; }
		return Array.isArray(v) ? ["array:" + v.length].concat(v) : ["not an array"];
	}`)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(DefaultLimit)
	for _, tc := range []struct {
		attrs map[string][]string
		want  []string
	}{
		{map[string][]string{"memberOfAll": {"cn=a"}}, []string{"array:1", "cn=a"}},
		{map[string][]string{"memberOfAll": {}}, []string{"array:0"}},
		{map[string][]string{"memberOf": {"cn=a"}}, []string{"undefined"}},
		{map[string][]string{"memberOfAll": nil}, []string{"undefined"}},
	} {
		got, err := r.Roles(prog, "cn=p", tc.attrs)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v %v, want %v", tc.attrs, got, err, tc.want)
		}
	}
}
