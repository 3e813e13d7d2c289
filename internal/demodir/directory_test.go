package demodir

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// lockedBuffer is a bytes.Buffer safe for glauth's logging goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStartPeopleStop starts the demo people, signs alice in, logs to the
// debug writer, and stops twice (Stop closes open connections).
func TestStartPeopleStop(t *testing.T) {
	people, groups := People()
	var log lockedBuffer
	d, err := Start(people, groups, &log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer d.Stop()

	c, err := ldap.DialURL("ldap://" + d.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.Bind(d.UserDN("alice"), Password); err != nil {
		t.Fatalf("bind alice: %v", err)
	}
	if log.String() == "" {
		t.Errorf("nothing was logged to the debug writer")
	}

	d.Stop()
	d.Stop()
	if err := c.Bind(d.UserDN("alice"), Password); err == nil {
		t.Errorf("bind after Stop worked")
	}
}

// TestStartRefusesBadInput checks the errors of a bad user or group list.
func TestStartRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		users  []User
		groups []string
		want   string
	}{
		"reserved group": {groups: []string{"Users"}, want: `group name "users" is reserved`},
		"unnamed user":   {users: []User{{Password: "x"}}, want: "a user has no name"},
		"twice":          {users: []User{{Name: "a"}, {Name: "A"}}, want: `user "A" is defined twice`},
		"service":        {users: []User{{Name: ServiceName}}, want: "clashes with the service account"},
	} {
		d, err := Start(tc.users, tc.groups, nil)
		if err == nil {
			d.Stop()
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "demodir: start: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", name, err, tc.want)
		}
	}
}
