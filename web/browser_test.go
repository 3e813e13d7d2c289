package web_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// Browser tests drive the console in headless Chromium. They need the
// Debian package chromium; without it they are skipped, unless CI is set.

const browserAdminPassword = "browser-admin-pw"

// chromiumPath finds the browser binary.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// screenshotDir is where the tests save page screenshots: $SCREENSHOT_DIR,
// or authority-screenshots in the temp directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "authority-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// browserEnv is a server under test and a browser tab on it.
type browserEnv struct {
	t     *testing.T
	app   *authority.App
	base  string
	ctx   context.Context
	shots string
}

func startBrowser(t *testing.T) *browserEnv {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed: apt-get install -y chromium")
	}
	app, err := authority.Open(context.Background(), authority.Config{DataDir: t.TempDir(), AdminPassword: browserAdminPassword, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	b := &browserEnv{t: t, app: app, base: srv.URL, ctx: ctx, shots: screenshotDir(t)}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browserEnv) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads path and waits for it.
func (b *browserEnv) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// fill sets the value of the form field sel.
func (b *browserEnv) fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

// click clicks sel and waits for the page it loads.
func (b *browserEnv) click(sel string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// text returns the visible text of sel. It reads it from the page by script
// rather than by chromedp's node ids, which can be stale for a moment after
// the page reloaded itself, and waits up to ten seconds for sel to appear.
func (b *browserEnv) text(sel string) string {
	b.t.Helper()
	read := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.innerText : null; })()`
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[*string](read))
		if err == nil && s != nil {
			return *s
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("text of %s: no such element (last error %v)", sel, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// has reports whether an element matches sel now.
func (b *browserEnv) has(sel string) bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(sel)+`) !== null`))
	if err != nil {
		b.t.Fatalf("look for %s: %v", sel, err)
	}
	return ok
}

// waitText waits until the text of sel contains want. It polls from Go, so
// that it survives the page reloading itself meanwhile.
func (b *browserEnv) waitText(sel, want string) {
	b.t.Helper()
	check := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.textContent : null; })()`
	deadline := time.Now().Add(60 * time.Second)
	got := "(no such element)"
	for {
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[*string](check))
		if err == nil && s != nil {
			if strings.Contains(*s, want) {
				return
			}
			got = *s
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %q in %s: it says %q (last error %v)", want, sel, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectText fails unless the text of sel contains want.
func (b *browserEnv) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s says %q, want it to contain %q", sel, got, want)
	}
}

// shot saves a full-page PNG screenshot as name.png.
func (b *browserEnv) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", p)
}

func (b *browserEnv) signIn() {
	b.t.Helper()
	b.open("/")
	b.fill("#username", "admin")
	b.fill("#password", browserAdminPassword)
	b.click("#sign-in")
	b.waitText("h1", "Organizations")
}

// userWithDevice makes a local user in org with one device (and so one archive).
func (b *browserEnv) userWithDevice(name string, org int64) users.User {
	b.t.Helper()
	ctx := context.Background()
	u, err := b.app.Users.Create(ctx, users.NewUser{Username: name, Password: name + "-password", OrgID: org,
		FirstName: strings.ToUpper(name[:1]) + name[1:], LastName: "Tester", Email: name + "@example.com"})
	if err != nil {
		b.t.Fatalf("create %s: %v", name, err)
	}
	if _, err := b.app.Users.RegisterDevice(ctx, u.ID, name+"-laptop-guid", name+"'s laptop"); err != nil {
		b.t.Fatalf("device of %s: %v", name, err)
	}
	return u
}

func TestConsoleBrowserCore(t *testing.T) {
	b := startBrowser(t)
	ctx := context.Background()
	root, err := b.app.Orgs.EnsureRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Signing in: a wrong password first.
	b.open("/")
	b.waitText("h1", "Sign in")
	b.shot("01-sign-in")
	b.fill("#username", "admin")
	b.fill("#password", "not-the-password")
	b.click("#sign-in")
	b.expectText("#page-error", "Wrong username or password.")
	b.signIn()

	// Organizations: create one under Default, then edit it.
	b.click("#new-org")
	b.waitText("h1", "New organization")
	b.fill("#name", "Engineering")
	b.click("#save-org")
	b.expectText("#flash", "Organization Engineering created")
	key := b.text("#registration-key")
	if len(key) != 19 {
		t.Fatalf("registration key %q", key)
	}
	b.fill("#name", "Engineering EU")
	b.fill("#archiveHoldDays", "30")
	b.click("#save-org")
	b.expectText("#flash", "Organization Engineering EU saved.")
	// A bad value shows its error next to the field.
	b.fill("#archiveHoldDays", "-4")
	b.click("#save-org")
	b.expectText(".field-error", "between 0 and")
	b.open("/orgs")
	b.expectText("#org-list", "Engineering EU")
	b.expectText("#org-list", "30 days")
	if !b.has("#org-list td.depth-1 a") {
		t.Fatal("the child org is not indented under its parent")
	}
	b.shot("02-organizations")

	// Users: deactivate and reactivate; the archives go cold and come back.
	eng, err := b.app.Orgs.ByName(ctx, "Engineering EU")
	if err != nil {
		t.Fatal(err)
	}
	b.userWithDevice("carol", eng.ID)
	b.userWithDevice("dave", root.ID)
	b.open("/users")
	b.fill("#search", "caro")
	b.click("#filter-users")
	b.expectText("#user-list", "carol")
	if strings.Contains(b.text("#user-list"), "dave") {
		t.Fatal("the search for caro lists dave")
	}
	b.shot("03-users")
	b.click("#user-list a.username")
	b.waitText("h1", "carol")
	b.expectText(".archive-state", "normal")
	b.click("#deactivate")
	b.expectText("#flash", "carol is deactivated")
	b.expectText("#user-status", "deactivated")
	b.expectText("#user-status", "by an administrator")
	b.expectText(".archive-state", "cold")
	b.expectText("#devices", "cold storage until")
	b.shot("04-user-deactivated")
	b.click("#reactivate")
	b.expectText("#flash", "carol is active again")
	b.expectText("#user-status", "active")
	b.expectText(".archive-state", "normal")
	if strings.Contains(b.text("#devices"), "cold storage until") {
		t.Fatal("a reactivated user's archive still shows a cold storage date")
	}

	// Legal hold: a custodian is blocked instead of deactivated, and
	// deactivated when released.
	b.open("/legal-holds")
	b.fill("#hold-name", "Case 2026-17")
	b.click("#create-hold")
	b.expectText("#flash", "Legal hold matter Case 2026-17 opened")
	b.fill("#custodian", "nobody-here")
	b.click("#add-custodian")
	b.expectText("#custodian-form .field-error", `No user is named "nobody-here"`)
	b.fill("#custodian", "dave")
	b.click("#add-custodian")
	b.expectText("#flash", "dave is now a custodian")
	b.expectText("#custodians", "dave")
	holdURL, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	b.click("#custodians a")
	b.waitText("h1", "dave")
	b.expectText("#user-hold", "Case 2026-17")
	b.click("#deactivate")
	b.expectText("#flash", "dave is on legal hold, so it was blocked instead of deactivated")
	b.expectText("#user-status", "blocked")
	b.expectText("#user-status", "on legal hold")
	b.expectText(".archive-state", "normal")
	b.shot("05-user-on-hold")
	b.do("back to the matter", chromedp.Navigate(holdURL))
	b.expectText("#custodians", "blocked")
	b.shot("06-legal-hold")
	b.click("#custodians button.release")
	b.expectText("#flash", "dave released from this matter. Its deactivation was pending, so it is now deactivated.")
	b.click("#close-hold")
	b.expectText("#flash", "Matter Case 2026-17 closed")
	b.expectText("h1", "closed")
	b.open("/users?search=dave")
	b.expectText("#user-list", "deactivated")
	b.click("#user-list a.username")
	b.expectText(".archive-state", "cold")

	// Role Mapping.
	b.open("/settings/role-mapping")
	b.do("untick Org Admin", chromedp.Click(chromedp.CSS(`input[name=roles][value="Org Admin"]`)))
	b.click("#save-role-mapping")
	b.expectText("#flash", "Role Mapping saved")
	if got, _ := b.app.Users.RoleMapping(ctx); slices.Contains(got, "Org Admin") {
		t.Fatalf("Org Admin is still in the Role Mapping list: %v", got)
	}
	b.shot("07-role-mapping")

	// Sign out.
	b.click("#sign-out")
	b.expectText("#flash", "You have signed out.")
	b.open("/users")
	b.waitText("h1", "Sign in")
}

// typeInto replaces the text of sel by typing it, so that the page's
// scripts see the input events.
func (b *browserEnv) typeInto(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+strconv.Quote(sel)+`).value = ""`), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// check ticks the checkbox or radio button sel.
func (b *browserEnv) check(sel string) {
	b.t.Helper()
	b.do("check "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func TestConsoleBrowserLDAP(t *testing.T) {
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	b := startBrowser(t)
	ctx := context.Background()
	b.signIn()

	// Settings > Security > LDAP, empty.
	b.open("/settings/ldap")
	b.expectText("#no-servers", "No LDAP servers yet")
	b.shot("10-ldap-settings-empty")

	// Add a server; a script that does not compile is shown while typing.
	b.click("#add-server")
	b.waitText("h1", "Add an LDAP server")
	b.fill("#name", "Example directory")
	b.fill("#url", g.URL)
	b.fill("#bindDN", g.BindDN)
	b.fill("#bindPassword", g.BindPassword)
	b.fill("#searchFilter", "(&(objectClass=posixAccount)(uid=%u))")
	// Test the settings before adding the server.
	b.do("test these settings", chromedp.Click(chromedp.CSS("#test-settings")))
	b.waitText("#reachable", "LDAP is reachable")
	b.waitText("#bindable", "Bind succeeded")
	b.waitText("#test-settings-result", "Unsaved settings: reachable, bind succeeded, 7 matches.")
	b.typeInto("#activeScript", "function(entry) {\n  return entry.employeeType ==;\n}")
	b.waitText("#activeScript-status", "Line 2, column")
	b.shot("11-ldap-server-script-error")
	b.click("#save-server")
	b.expectText("#activeScript-status", "Line 2, column")
	b.typeInto("#activeScript", "function(entry) { return entry.employeeType != 'student'; }")
	b.waitText("#activeScript-status", "Compiles.")
	b.typeInto("#roleNameScript", `function getRoles(entry) { var r = ["Desktop User"]; if ((entry.memberOf || []).join().indexOf("ou=admins,") >= 0) { r.push("Org Admin"); } return r; }`)
	b.waitText("#roleNameScript-status", "Compiles.")
	b.fill("#bindPassword", g.BindPassword) // a refused form never shows the password again
	b.click("#save-server")
	b.expectText("#flash", "LDAP server Example directory added.")

	// The indicators, the matches and the preview.
	b.waitText("#reachable", "LDAP is reachable")
	b.waitText("#bindable", "Bind succeeded")
	b.waitText("#matches", "7 matches")
	b.expectText("#preview-table", "cn=alice,ou=staff,ou=users,dc=example,dc=com")
	b.expectText("#preview-table", "alice@example.com")
	b.expectText("#preview-table", "Org Admin")
	b.expectText("#preview-pager", "1–7 of 7")
	if !b.has(`#preview-table tr:nth-child(4) .badge-deactivated`) { // dave is a student
		t.Fatalf("the preview does not show dave inactive: %s", b.text("#preview-table"))
	}
	b.shot("12-ldap-server-setup")
	b.fill("#preview-search", "gra")
	b.click("#preview-search-go")
	b.expectText("#preview-table", "grace")
	if strings.Contains(b.text("#preview-table"), "alice") {
		t.Fatal("the preview search for gra shows alice")
	}

	// Try the active script on one entry.
	b.fill("#activeScript-username", "dave")
	b.do("try", chromedp.Click(chromedp.CSS("#activeScript-try-button")))
	b.waitText("#activeScript-try", "returns false")

	// The bind password sits behind Edit.
	if b.has("#bindPassword:not([disabled])") {
		t.Fatal("the bind password box is open before Edit")
	}
	b.do("edit password", chromedp.Click(chromedp.CSS("#edit-password")))
	b.do("password box", chromedp.WaitVisible(chromedp.CSS("#bindPassword")))
	if !b.has("#bindPassword:not([disabled])") {
		t.Fatal("Edit does not open the bind password box")
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#bindPassword"))); v != "" {
		t.Fatalf("the password box holds %q", v)
	}

	// An org that signs in with this server, with users to sync.
	b.open("/orgs/new")
	b.fill("#name", "Directory people")
	b.check("#auth-ldap")
	b.check(`input[name=ldapServerIds]`)
	b.shot("18-org-form-ldap")
	b.click("#save-org")
	b.expectText("#flash", "Organization Directory people created")
	org, err := b.app.Orgs.ByName(ctx, "Directory people")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "dave", "zed"} {
		if _, err := b.app.Users.Create(ctx, users.NewUser{Username: name, OrgID: org.ID}); err != nil {
			t.Fatal(err)
		}
	}
	b.open("/settings/ldap")
	b.expectText("#server-list", "Directory people")

	// Simulate Synchronize: the result shows up without a reload.
	b.click("#simulate-sync")
	b.expectText("#flash", "Simulated sync 1 started.")
	b.waitText("#sync-result", "Run 1")
	b.expectText("#sync-result .run-status", "ok")
	b.expectText("#sync-result", "simulated")
	b.expectText("#sync-result", "deactivated 2")
	b.shot("13-ldap-settings-after-simulate")
	if u, _ := b.app.Users.ByUsername(ctx, "zed"); u.Status != users.StatusActive {
		t.Fatalf("a simulated sync deactivated zed: %s", u.Status)
	}

	// Its history.
	b.click("#sync-history")
	b.waitText("h1", "Sync history")
	b.expectText("#run-list", "Simulate Synchronize")
	b.expectText("#run-list", "simulated")
	b.shot("14-sync-history")
	b.click("#run-list a")
	b.waitText("h1", "Sync run 1")
	b.expectText("#run-changes", "zed")
	b.expectText("#run-changes", "dave")
	b.expectText("#run-changes", "Deactivated")
	b.shot("15-sync-run")

	// Notifications.
	b.open("/settings/notifications")
	b.fill("#emails", "ops@example.com\nsecurity@example.com")
	b.fill("#smtp-host", "mail.example.com")
	b.fill("#smtp-port", "2525")
	b.click("#save-notifications")
	b.expectText("#flash", "Sync summaries go to 2 address(es) through mail.example.com.")
	b.fill("#emails", "not an address")
	b.click("#save-notifications")
	b.expectText("#notifications-form .field-error", "is not an email address")
	b.shot("16-notifications")

	// A run that is going on shows its progress, and the page shows its
	// result when it ends, without a reload by hand. (The run is written
	// into the history directly, so that it lasts as long as the test needs.)
	started := time.Now().UTC().Add(-3 * time.Second).Format("2006-01-02T15:04:05.000Z07:00")
	res, err := b.app.DB.ExecContext(ctx, `INSERT INTO dirsync_runs(trigger, simulated, started_by, started_at, status, users, deactivated)
		VALUES('manual', 0, '1/admin', ?, 'running', 40, 1)`, started)
	if err != nil {
		t.Fatal(err)
	}
	runID, _ := res.LastInsertId()
	b.open("/settings/ldap")
	b.expectText("#sync-running", "40 users checked, 1 deactivated")
	if !b.has("#sync-now[disabled]") {
		t.Fatal("Synchronize now is not disabled while a run goes on")
	}
	b.shot("17-ldap-settings-sync-running")
	if _, err := b.app.DB.ExecContext(ctx, `UPDATE dirsync_runs SET status = 'ok', finished_at = ?, users = 50, deactivated = 2 WHERE id = ?`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), runID); err != nil {
		t.Fatal(err)
	}
	b.waitText("#sync-result", "Run "+strconv.FormatInt(runID, 10))
	b.expectText("#sync-result", "users 50")
	b.expectText("#sync-result", "deactivated 2")
}
