package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/provisioning"
)

// The SCIM scenario's targets (on the 2-core reference machine).
const (
	targetSCIMPerSecond = 500.0 // requests per second, 8 clients
	targetSCIMP99Ms     = 50.0  // p99 of every request
)

// SCIMReport is the SCIM provisioning scenario (-scim): like Entra ID,
// each client looks a user up by userName, creates it, and for every fifth
// user changes it with a PATCH.
type SCIMReport struct {
	Command    string                   `json:"command"`
	StartedAt  time.Time                `json:"startedAt"`
	FinishedAt time.Time                `json:"finishedAt"`
	Machine    Machine                  `json:"machine"`
	Users      int                      `json:"users"`
	Clients    int                      `json:"clients"`
	Requests   int                      `json:"requests"`
	Errors     int                      `json:"errors"`
	FirstError string                   `json:"firstError,omitempty"`
	Seconds    float64                  `json:"seconds"`
	PerSecond  float64                  `json:"perSecond"`
	P50Ms      float64                  `json:"p50Ms"`
	P99Ms      float64                  `json:"p99Ms"`
	MaxMs      float64                  `json:"maxMs"`
	ByKind     map[string]SCIMKindStats `json:"byKind"`
	DBBytes    int64                    `json:"databaseBytes"`
	Targets    []Target                 `json:"targets"`
}

// SCIMKindStats are one kind of request's figures.
type SCIMKindStats struct {
	Count int     `json:"count"`
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

func percentileMs(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := min(int(float64(len(s))*p), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

// runSCIM provisions o.SCIMUsers users through /scim/v2 with o.Clients
// concurrent clients against a real server (App.Serve on a loopback port,
// a real SQLite file) and reports the throughput and latencies.
func runSCIM(ctx context.Context, o options, args []string, stdout io.Writer) (err error) {
	dir, err := os.MkdirTemp(o.Dir, "authority-bench-scim-")
	if err != nil {
		return fmt.Errorf("bench: temp dir: %w", err)
	}
	defer func() {
		if o.KeepDir {
			fmt.Fprintf(stdout, "kept %s\n", dir)
			return
		}
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	rep := &SCIMReport{Command: commandLine(args), StartedAt: time.Now().UTC(), Machine: machineInfo(), Users: o.SCIMUsers, Clients: o.Clients}
	fmt.Fprintf(stdout, "authority-bench -scim: %d users, %d clients on %s (%d CPUs)\n", o.SCIMUsers, o.Clients, rep.Machine.CPUModel, rep.Machine.CPUs)

	app, err := authority.Open(ctx, authority.Config{DataDir: filepath.Join(dir, "data"), AdminPassword: "bench-admin-password-1", Stdout: io.Discard, Listen: "127.0.0.1:0"})
	if err != nil {
		return fmt.Errorf("bench: open: %w", err)
	}
	defer app.Close()
	root, err := app.Orgs.EnsureRoot(ctx)
	if err != nil {
		return err
	}
	name := "Entra ID"
	_, cred, err := app.Prov.Create(ctx, provisioning.Input{Name: &name, OrgMapping: &provisioning.OrgMapping{Method: provisioning.OrgSingle, OrgID: root.ID}})
	if err != nil {
		return fmt.Errorf("bench: provider: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- app.Serve(sctx, func(addr string) { addrc <- addr }) }()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr + "/scim/v2"
	case err := <-served:
		stop()
		return fmt.Errorf("bench: serve: %w", err)
	}
	defer func() {
		stop()
		if serr := <-served; serr != nil && err == nil {
			err = serr
		}
	}()

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile + ".scim")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients * 2}}
	type sample struct {
		kind string
		d    time.Duration
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		samples  []sample
		errs     int
		firstErr string
	)
	do := func(kind, method, path, body string, want int) (string, bool) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return "", false
		}
		req.Header.Set("Authorization", "Bearer "+cred.Token)
		req.Header.Set("Content-Type", "application/scim+json")
		began := time.Now()
		resp, err := client.Do(req)
		var raw []byte
		if err == nil {
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		d := time.Since(began)
		mu.Lock()
		defer mu.Unlock()
		samples = append(samples, sample{kind, d})
		if err != nil || resp.StatusCode != want {
			errs++
			if firstErr == "" {
				if err != nil {
					firstErr = fmt.Sprintf("%s %s: %v", method, path, err)
				} else {
					firstErr = fmt.Sprintf("%s %s: %d %.200s", method, path, resp.StatusCode, raw)
				}
			}
			return "", false
		}
		return string(raw), true
	}
	began := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > o.SCIMUsers {
					return
				}
				user := fmt.Sprintf("bench.user%06d@acme.test", i)
				do("lookup", "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+user+`"`), "", http.StatusOK)
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
					"externalId":"ext-%d","userName":%q,"active":true,"emails":[{"primary":true,"type":"work","value":%q}],
					"name":{"givenName":"Given%d","familyName":"Family%d"},"title":"Engineer",
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Dept%d","employeeNumber":"%d"}}`, i, user, user, i, i, i%50, i)
				created, ok := do("create", "POST", "/Users", body, http.StatusCreated)
				if !ok || i%5 != 0 {
					continue
				}
				var res struct{ ID string }
				if json.Unmarshal([]byte(created), &res) != nil || res.ID == "" {
					continue
				}
				patch := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
					{"op":"Replace","path":"emails[type eq \"work\"].value","value":"moved%d@acme.test"},
					{"op":"Replace","value":{"name.familyName":"Moved%d","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales"}}]}`, i, i)
				do("patch", "PATCH", "/Users/"+res.ID, patch, http.StatusOK)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	if err := ctx.Err(); err != nil {
		return err
	}

	var all []time.Duration
	kinds := map[string][]time.Duration{}
	for _, s := range samples {
		all = append(all, s.d)
		kinds[s.kind] = append(kinds[s.kind], s.d)
	}
	rep.Requests, rep.Errors, rep.FirstError = len(all), errs, firstErr
	rep.Seconds = elapsed.Seconds()
	rep.PerSecond = float64(len(all)) / elapsed.Seconds()
	rep.P50Ms, rep.P99Ms, rep.MaxMs = percentileMs(all, 0.50), percentileMs(all, 0.99), percentileMs(all, 1)
	rep.ByKind = map[string]SCIMKindStats{}
	for k, v := range kinds {
		rep.ByKind[k] = SCIMKindStats{Count: len(v), P50Ms: percentileMs(v, 0.50), P99Ms: percentileMs(v, 0.99)}
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "authority.db")); err == nil {
		rep.DBBytes = fi.Size()
	}
	rep.Targets = []Target{
		{Name: "SCIM requests per second", Value: rep.PerSecond, Limit: targetSCIMPerSecond, Met: rep.PerSecond >= targetSCIMPerSecond, Unit: "req/s", Note: "at least"},
		{Name: "SCIM p99 latency", Value: rep.P99Ms, Limit: targetSCIMP99Ms, Met: rep.P99Ms < targetSCIMP99Ms, Unit: "ms", Note: "below"},
	}
	for i := range rep.Targets {
		rep.Targets[i].Status = map[bool]string{true: "met", false: "missed"}[rep.Targets[i].Met]
	}
	rep.FinishedAt = time.Now().UTC()

	fmt.Fprintf(stdout, "%d requests in %.1fs: %.0f req/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d errors\n",
		rep.Requests, rep.Seconds, rep.PerSecond, rep.P50Ms, rep.P99Ms, rep.MaxMs, rep.Errors)
	for _, k := range []string{"lookup", "create", "patch"} {
		s := rep.ByKind[k]
		fmt.Fprintf(stdout, "  %-6s %6d  p50 %6.1f ms  p99 %6.1f ms\n", k, s.Count, s.P50Ms, s.P99Ms)
	}
	for _, t := range rep.Targets {
		mark := "MET"
		if !t.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(stdout, "  target %-40s %8.1f %s (limit %.0f) %s\n", t.Name, t.Value, t.Unit, t.Limit, mark)
	}
	if firstErr != "" {
		fmt.Fprintf(stdout, "  first error: %s\n", firstErr)
	}
	if o.Out != "" {
		raw, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.Out, append(raw, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", o.Out)
	}
	if errs > 0 {
		return fmt.Errorf("bench: %d SCIM requests failed; the first: %s", errs, firstErr)
	}
	return nil
}
