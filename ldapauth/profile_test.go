package ldapauth

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/testenv"
)

// The profile mapping is validated like the email attribute (field named),
// empty means not mapped, and it is stored and read back; the JSON names are
// the API's.
func TestProfileMappingSaved(t *testing.T) {
	s := newTestService(t, io.Discard)
	ctx := testCtx(t)
	in := InputOf(Server{Name: "d", URL: "ldap://x/dc=x", BindAnonymously: true, SearchFilter: "(uid=%u)", TimeoutSeconds: 5,
		PageSize: 10, ActiveScript: DefaultActiveScript, SensitiveAttributes: []string{"secretTitle"}})
	for field, bad := range map[string]string{
		"titleAttribute": "ti tle", "departmentAttribute": "1dept", "divisionAttribute": strings.Repeat("d", MaxAttributeNameLength+1),
		"employeeTypeAttribute": "a\nb", "managerAttribute": "manager)(uid=*", "cityAttribute": "userPassword",
		"stateAttribute": "secretTitle", "countryAttribute": "c;",
	} {
		body, _ := json.Marshal(map[string]string{field: bad})
		var patch ServerInput
		if err := json.Unmarshal(body, &patch); err != nil {
			t.Fatal(err)
		}
		try := in
		try.ProfileMappingInput = patch.ProfileMappingInput
		_, err := s.Create(ctx, try)
		if e, ok := apperr.As(err); !ok || e.Field != field {
			t.Errorf("%s %q: %v", field, bad, err)
		}
	}
	in.ProfileMappingInput = ProfileMappingInput{TitleAttribute: ptr(" title "), ManagerAttribute: ptr("manager"), CountryAttribute: ptr("c")}
	srv, err := s.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, srv.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ProfileMapping{TitleAttribute: "title", ManagerAttribute: "manager", CountryAttribute: "c"}
	if got.ProfileMapping != want {
		t.Errorf("stored %+v, want %+v", got.ProfileMapping, want)
	}
	b, _ := json.Marshal(got)
	for _, k := range []string{`"titleAttribute":"title"`, `"departmentAttribute":""`, `"divisionAttribute":""`, `"employeeTypeAttribute":""`,
		`"managerAttribute":"manager"`, `"cityAttribute":""`, `"stateAttribute":""`, `"countryAttribute":"c"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
	// A PATCH changes what it names; "" unmaps.
	got, err = s.Update(ctx, srv.ID, ServerInput{ProfileMappingInput: ProfileMappingInput{TitleAttribute: ptr(""), CityAttribute: ptr("l")}})
	if err != nil || got.TitleAttribute != "" || got.CityAttribute != "l" || got.ManagerAttribute != "manager" {
		t.Errorf("patched %+v, %v", got.ProfileMapping, err)
	}
}

// The search asks for each mapped attribute by name, so that one the
// directory treats as operational (createTimestamp on slapd, not in "*")
// comes back; the Person carries the mapped values.
func TestProfileMappingSearched(t *testing.T) {
	people := []testenv.Person{{UID: "kim", GivenName: "Kim", SN: "K", Mail: []string{"kim@example.com"},
		Extra: map[string][]string{"title": {" Engineer "}, "manager": {"cn=Boss,dc=example,dc=com"}}}}
	sl := testenv.StartSlapd(t, people)
	srv := slapdServer(sl)
	srv.TitleAttribute, srv.ManagerAttribute, srv.CityAttribute = "title", "manager", "createTimestamp"
	c, err := Dial(testCtx(t), srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	es, err := c.FindUsers(testCtx(t), "kim")
	if err != nil || len(es) != 1 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	p := srv.Person(es[0])
	if p.Profile.Title != "Engineer" || p.Profile.ManagerDN != "cn=Boss,dc=example,dc=com" || p.Profile.City == "" || p.Profile.Department != "" {
		t.Errorf("profile %+v", p.Profile)
	}
}
