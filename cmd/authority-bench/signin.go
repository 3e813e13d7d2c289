package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// LoadResult is the throughput and latency of one kind of sign-in under
// concurrent clients.
type LoadResult struct {
	Clients    int     `json:"clients"`
	Count      int     `json:"count"`  // successful sign-ins measured
	Errors     int     `json:"errors"` // failed ones (not in the latencies)
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	MeanMs     float64 `json:"meanMs"`
	MedianMs   float64 `json:"medianMs"`
	P90Ms      float64 `json:"p90Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	FirstError string  `json:"firstError,omitempty"`
	// CPUMsPerSignIn is the CPU time one successful sign-in cost each
	// process, in milliseconds: "server" (the authority child), "slapd" and
	// "client" (the bench itself: HTTP or go-ldap client).
	CPUMsPerSignIn map[string]float64 `json:"cpuMsPerSignIn"`
}

// meter reads a process's CPU time so far.
type meter struct {
	name string
	read func() time.Duration
}

// signInFunc signs one user in and reports an error for anything but success.
type signInFunc func(ctx context.Context, client int, username string) error

// loadRounds runs fns in turn, rounds times each for per, with clients
// concurrent clients each, and returns one LoadResult per fn (the rounds
// merged). Interleaving the kinds spreads the noise of a shared machine over
// both. names are used round-robin, from a different offset per kind.
func loadRounds(ctx context.Context, clients, rounds int, per time.Duration, names []string, meters []meter, fns ...signInFunc) ([]LoadResult, error) {
	type acc struct {
		lat     []time.Duration
		errs    int
		first   string
		elapsed time.Duration
		cpu     map[string]time.Duration
	}
	accs := make([]acc, len(fns))
	var next atomic.Int64
	// Warm up each kind (connections, caches) without measuring.
	for _, fn := range fns {
		if _, _, _, err := runLoad(ctx, clients, 0, clients*4, names, &next, fn); err != nil {
			return nil, err
		}
	}
	for range rounds {
		for k, fn := range fns {
			before := make([]time.Duration, len(meters))
			for i, m := range meters {
				before[i] = m.read()
			}
			lat, errs, first, err := runLoad(ctx, clients, per, 0, names, &next, fn)
			if err != nil {
				return nil, err
			}
			if accs[k].cpu == nil {
				accs[k].cpu = map[string]time.Duration{}
			}
			for i, m := range meters {
				accs[k].cpu[m.name] += m.read() - before[i]
			}
			accs[k].lat = append(accs[k].lat, lat...)
			accs[k].errs += errs
			if accs[k].first == "" {
				accs[k].first = first
			}
			accs[k].elapsed += per
		}
	}
	out := make([]LoadResult, len(fns))
	for k, a := range accs {
		out[k] = summarize(clients, a.lat, a.errs, a.first, a.elapsed)
		out[k].CPUMsPerSignIn = map[string]float64{}
		for name, d := range a.cpu {
			if len(a.lat) > 0 {
				out[k].CPUMsPerSignIn[name] = float64(d.Microseconds()) / 1000 / float64(len(a.lat))
			}
		}
	}
	return out, nil
}

// runLoad runs fn from clients goroutines for dur (or, when dur is 0, count
// calls in all) and returns the latencies of the successful calls.
func runLoad(ctx context.Context, clients int, dur time.Duration, count int, names []string, next *atomic.Int64, fn signInFunc) ([]time.Duration, int, string, error) {
	if len(names) == 0 {
		return nil, 0, "", errors.New("bench: nobody to sign in")
	}
	var deadline time.Time
	if dur > 0 {
		deadline = time.Now().Add(dur)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var first string
	var started atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			myErrs := 0
			myFirst := ""
			for ctx.Err() == nil {
				if dur > 0 && time.Now().After(deadline) {
					break
				}
				if dur == 0 && started.Add(1) > int64(count) {
					break
				}
				name := names[int(next.Add(1)-1)%len(names)]
				t0 := time.Now()
				err := fn(ctx, c, name)
				d := time.Since(t0)
				if err != nil {
					myErrs++
					if myFirst == "" {
						myFirst = name + ": " + err.Error()
					}
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += myErrs
			if first == "" {
				first = myFirst
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, "", err
	}
	return lat, errs, first, nil
}

func summarize(clients int, lat []time.Duration, errs int, first string, elapsed time.Duration) LoadResult {
	r := LoadResult{Clients: clients, Count: len(lat), Errors: errs, Seconds: elapsed.Seconds(), FirstError: first}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		return ms(lat[min(max(i, 0), len(lat)-1)])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	r.MeanMs = ms(sum / time.Duration(len(lat)))
	r.MedianMs = q(0.50)
	r.P90Ms = q(0.90)
	r.P99Ms = q(0.99)
	r.MaxMs = ms(lat[len(lat)-1])
	return r
}

// productSignIn returns a signInFunc that signs in through POST
// /api/v1/login on the server at addr, with one keep-alive HTTP client
// connection per load client.
func productSignIn(addr string, clients int) signInFunc {
	login := newLoginClient(addr, clients)
	return func(ctx context.Context, _ int, username string) error {
		_, err := login.post(ctx, map[string]string{"username": username, "password": testenv.GeneratedPassword(username)})
		return err
	}
}

// rawSignIn returns the floor of a sign-in: with go-ldap directly, a new
// connection, the service bind, the search for the user (the product's
// filter and attributes), and the bind as the user on the same connection.
func rawSignIn(addr string) signInFunc {
	return func(ctx context.Context, _ int, username string) error {
		c, err := ldap.DialURL("ldap://" + addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetTimeout(time.Minute)
		if err := c.Bind(testenv.SlapdServiceDN, testenv.SlapdServicePassword); err != nil {
			return fmt.Errorf("service bind: %w", err)
		}
		res, err := c.Search(ldap.NewSearchRequest(testenv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			strings.Replace(searchFilter, "%u", ldap.EscapeFilter(username), 1), allAttributes, nil))
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("search found %d entries", len(res.Entries))
		}
		if err := c.Bind(res.Entries[0].DN, testenv.GeneratedPassword(username)); err != nil {
			return fmt.Errorf("bind as the user: %w", err)
		}
		return nil
	}
}

// loginClient posts to POST /api/v1/login on one server, with one
// keep-alive HTTP connection per load client.
type loginClient struct {
	cl  *http.Client
	url string
}

func newLoginClient(addr string, clients int) loginClient {
	return loginClient{
		cl:  &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, IdleConnTimeout: time.Minute}},
		url: "http://" + addr + "/api/v1/login",
	}
}

// post sends body as JSON and returns the answer's body; an answer other
// than 200 is an error naming its status and body.
func (l loginClient) post(ctx context.Context, body map[string]string) ([]byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.cl.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}
