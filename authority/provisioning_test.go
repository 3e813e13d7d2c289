package authority_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/metrics"
)

// Guessing a provider's basic password is throttled like sign-in (per
// username and address, docs/rules.md section 10): after maxFailures the
// right password gets 429 too, every refusal is an AUTH:: line, and every
// SCIM answer is counted by status in the metrics.
func TestSCIMBasicCredentialsAreThrottled(t *testing.T) {
	env := authoritytest.Start(t)
	root, err := env.App.Orgs.EnsureRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Username, Password string }
	if code := env.Do("POST", "/api/v1/provisioning/providers", map[string]any{"name": "sync tool", "credentialType": "basic",
		"orgMapping": map[string]any{"method": "single", "orgId": root.ID}}, &p); code != 201 || p.Username == "" || p.Password == "" {
		t.Fatalf("create: %d %+v", code, p)
	}
	get := func(pw string) int {
		req, _ := http.NewRequest("GET", env.Server.URL+"/scim/v2/Users", nil)
		req.SetBasicAuth(p.Username, pw)
		resp, err := env.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	before401 := testutil.ToFloat64(metrics.SCIMRequests.WithLabelValues("401"))
	if code := get(p.Password); code != 200 {
		t.Fatalf("right password: %d", code)
	}
	for i := 0; i < 5; i++ {
		if code := get("guess"); code != 401 {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := get(p.Password); code != 429 {
		t.Fatalf("right password while locked out: %d", code)
	}
	if got := testutil.ToFloat64(metrics.SCIMRequests.WithLabelValues("401")) - before401; got != 5 {
		t.Fatalf("401s counted: %v", got)
	}
	log := readFile(t, filepath.Join(env.Dir, "logs", "authority.log"))
	if strings.Count(log, "AUTH:: refused user:scim:"+p.Username) != 6 || strings.Contains(log, p.Password) {
		t.Fatalf("log:\n%s", log)
	}
}
