//go:build unix

package scimapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/provisioning"
	"github.com/authority-server/authority/users"
)

// The test binary re-executed as a server that disables a user through
// SCIM and is then killed (see disableAndDie).
const (
	killDirEnv   = "SCIMAPI_TEST_KILL_DIR"
	killTokenEnv = "SCIMAPI_TEST_KILL_TOKEN"
	killUserEnv  = "SCIMAPI_TEST_KILL_USER"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(killDirEnv); dir != "" {
		os.Exit(disableAndDie(dir, os.Getenv(killTokenEnv), os.Getenv(killUserEnv)))
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func openApp(t *testing.T, dir string, clock *authoritytest.Clock) *authority.App {
	t.Helper()
	app, err := authority.Open(context.Background(), authority.Config{DataDir: dir, AdminPassword: authoritytest.AdminPassword,
		Now: clock.Now, Stdout: io.Discard, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return app
}

// scimCall sends one SCIM request with a bearer token.
func scimCall(base, token, method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, base+"/scim/v2"+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), nil
}

const disableBody = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`

// setUp makes a provider (default delay, 15 minutes) and one of its users
// on the app, and returns the token and the user's id.
func setUp(t *testing.T, app *authority.App, base string) (string, string) {
	t.Helper()
	ctx := context.Background()
	root, err := app.Orgs.EnsureRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := "Entra"
	_, cred, err := app.Prov.Create(ctx, provisioning.Input{Name: &name, OrgMapping: &provisioning.OrgMapping{Method: provisioning.OrgSingle, OrgID: root.ID}})
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := scimCall(base, cred.Token, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver@acme.test","active":true}`)
	if err != nil || code != 201 {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	_, rest, _ := strings.Cut(body, `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return cred.Token, id
}

func userStatus(t *testing.T, app *authority.App, id string) users.User {
	t.Helper()
	n, _ := strconv.ParseInt(id, 10, 64)
	u, err := app.Users.Get(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// serveUntilDeactivated runs the app as the server does (App.Serve, whose
// background job carries out due deactivations) until user id is
// deactivated.
func serveUntilDeactivated(t *testing.T, app *authority.App, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, nil) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		u := userStatus(t, app, id)
		if u.Status == users.StatusDeactivated {
			if u.StatusReason != users.ReasonProvisioning {
				t.Errorf("deactivated for %q", u.StatusReason)
			}
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-served
			t.Fatalf("not deactivated by the background job: %s %s", u.Status, u.StatusReason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// A user disabled before a clean stop is still blocked after a restart
// within the delay, and the background job deactivates it once the delay
// has passed, though the server was down when it fell due.
func TestDelaySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := authoritytest.NewClock(t0)
	app := openApp(t, dir, clock)
	srv := httptest.NewServer(app.Handler())
	token, id := setUp(t, app, srv.URL)
	if code, body, err := scimCall(srv.URL, token, "PATCH", "/Users/"+id, disableBody); err != nil || code != 200 {
		t.Fatalf("disable: %d %s %v", code, body, err)
	}
	if u := userStatus(t, app, id); u.Status != users.StatusBlocked {
		t.Fatalf("after disable: %s", u.Status)
	}
	srv.Close()
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(14 * time.Minute)
	app = openApp(t, dir, clock)
	if n, err := app.Prov.RunDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("within the delay: %d %v", n, err)
	}
	if u := userStatus(t, app, id); u.Status != users.StatusBlocked || u.StatusReason != users.ReasonProvisioning {
		t.Fatalf("within the delay after a restart: %s %s", u.Status, u.StatusReason)
	}
	app.Close()

	clock.Advance(2 * time.Minute)
	app = openApp(t, dir, clock)
	defer app.Close()
	serveUntilDeactivated(t, app, id)
}

// The same after kill -9: a child process disables the user through SCIM
// and is killed with SIGKILL, nothing of its clean-up running; the
// deactivation it scheduled is carried out after the restart.
func TestDelaySurvivesKill(t *testing.T) {
	dir := t.TempDir()
	clock := authoritytest.NewClock(t0)
	app := openApp(t, dir, clock)
	srv := httptest.NewServer(app.Handler())
	token, id := setUp(t, app, srv.URL)
	srv.Close()
	app.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir, killTokenEnv+"="+token, killUserEnv+"="+id)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v\n%s", err, out)
	}

	clock.Advance(16 * time.Minute)
	app = openApp(t, dir, clock)
	defer app.Close()
	if u := userStatus(t, app, id); u.Status != users.StatusBlocked || u.StatusReason != users.ReasonProvisioning {
		t.Fatalf("after the kill: %s %s (the disable was answered 200, so it is committed)", u.Status, u.StatusReason)
	}
	serveUntilDeactivated(t, app, id)
}

// disableAndDie opens the app on dir at t0, disables user id through the
// SCIM endpoint and, once answered, sends itself SIGKILL while a second
// request (a lookup) may still be in flight.
func disableAndDie(dir, token, id string) int {
	app, err := authority.Open(context.Background(), authority.Config{DataDir: dir, Now: func() time.Time { return t0 }, Stdout: io.Discard})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	srv := httptest.NewServer(app.Handler())
	code, body, err := scimCall(srv.URL, token, "PATCH", "/Users/"+id, disableBody)
	if err != nil || code != 200 {
		fmt.Fprintf(os.Stderr, "child: disable: %d %s %v\n", code, body, err)
		return 3
	}
	go scimCall(srv.URL, token, "GET", "/Users?filter=userName+eq+%22leaver@acme.test%22", "")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
