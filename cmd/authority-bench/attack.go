package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// targetsPerAttacker is how many usernames each attacking client guesses
// passwords for (real people, kept out of the legitimate sign-ins).
const targetsPerAttacker = 4

// AttackResult is sign-in throughput while clients send bad passwords as
// fast as they can (SPEC section 10: other people keep at least 80% of
// their throughput), and what a throttled answer costs the server.
type AttackResult struct {
	Attackers int `json:"attackers"` // clients sending bad passwords, each from its own address (X-Forwarded-For)
	Targets   int `json:"targets"`   // usernames they guess
	// Warm-up: from the first bad password until every attacker was throttled.
	WarmupSeconds  float64 `json:"warmupSeconds"`
	WarmupFailures int     `json:"warmupFailures"` // bad passwords answered 401 (each a directory search and bind and a bcrypt)
	// Unloaded and UnderAttack are the legitimate sign-ins (as in signIn.product),
	// in interleaved rounds with the attackers paused and running.
	Unloaded        LoadResult `json:"unloaded"`
	UnderAttack     LoadResult `json:"underAttack"`
	ThroughputRatio float64    `json:"throughputRatio"` // underAttack / unloaded sign-ins per second
	// UnderRotatingAttack is a third kind of round: the attackers send each
	// attempt from a new address (as a botnet, or clients that may set
	// X-Forwarded-For through a trusted proxy), so that no address is
	// blocked and no answer held: only the usernames' lockouts answer, as
	// fast as the server can.
	UnderRotatingAttack     LoadResult `json:"underRotatingAttack"`
	RotatingThroughputRatio float64    `json:"rotatingThroughputRatio"`
	RotatingAttackPerSecond float64    `json:"rotatingAttackPerSecond"`
	// The attackers while measured with the legitimate load.
	AttackPerSecond float64        `json:"attackPerSecond"`
	AttackStatuses  map[string]int `json:"attackStatuses"`
	// The attackers alone for one round, each attempt from a new address (so
	// that no answer is held): throttled answers per second and
	// the server's CPU per answer.
	AloneSeconds            float64 `json:"aloneSeconds"`
	AlonePerSecond          float64 `json:"alonePerSecond"`
	AloneThrottledShare     float64 `json:"aloneThrottledShare"`
	ServerCPUMsPerThrottled float64 `json:"serverCPUMsPerThrottled"`
	ClientCPUMsPerThrottled float64 `json:"clientCPUMsPerThrottled"`
}

// attack runs the attacking clients: each sends bad passwords for its
// targets, one after the other as fast as the answers come, while on is set.
type attack struct {
	on       atomic.Bool
	rotate   atomic.Bool  // each attempt from another address (10.67.x.y): only the usernames' lockouts answer
	addrs    atomic.Int64 // addresses used by rotate
	stop     chan struct{}
	wg       sync.WaitGroup
	sent     atomic.Int64
	statuses [600]atomic.Int64 // by HTTP status; 0: transport errors
	seen429  []atomic.Bool
}

func startAttack(ctx context.Context, addr string, attackers int, targets []string) *attack {
	a := &attack{stop: make(chan struct{}), seen429: make([]atomic.Bool, attackers)}
	cl := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: attackers * 2, MaxIdleConnsPerHost: attackers * 2, IdleConnTimeout: time.Minute}}
	url := "http://" + addr + "/api/v1/login"
	for i := range attackers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			from := "10.66.0." + strconv.Itoa(i+1)
			mine := targets[i*len(targets)/attackers : (i+1)*len(targets)/attackers]
			for k := 0; ; k++ {
				select {
				case <-a.stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if !a.on.Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				body, _ := json.Marshal(map[string]string{"username": mine[k%len(mine)], "password": "guess-" + strconv.Itoa(k)})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if a.rotate.Load() {
					n := a.addrs.Add(1)
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.67.%d.%d", n/250%250, n%250+1))
				} else {
					req.Header.Set("X-Forwarded-For", from)
				}
				status := 0
				if resp, err := cl.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				a.sent.Add(1)
				if status >= 0 && status < len(a.statuses) {
					a.statuses[status].Add(1)
				}
				if status == http.StatusTooManyRequests {
					a.seen429[i].Store(true)
				}
			}
		}()
	}
	return a
}

func (a *attack) allThrottled() bool {
	for i := range a.seen429 {
		if !a.seen429[i].Load() {
			return false
		}
	}
	return true
}

func (a *attack) counts() map[string]int {
	out := map[string]int{}
	for st := range a.statuses {
		if n := a.statuses[st].Load(); n > 0 {
			k := strconv.Itoa(st)
			if st == 0 {
				k = "error"
			}
			out[k] = int(n)
		}
	}
	return out
}

func (a *attack) close() {
	close(a.stop)
	a.wg.Wait()
}

// measureAttack measures legitimate sign-ins with and without attackers
// (interleaved, two rounds of per each), then the attackers alone. The
// server trusts X-Forwarded-For from the loopback (the bench child's
// --trusted-proxies), so each attacker counts as its own address.
func measureAttack(ctx context.Context, o options, addr string, serverPID int, names []string, meters []meter, per time.Duration, logf func(string, ...any)) (*AttackResult, error) {
	k := o.Attackers * targetsPerAttacker
	if len(names) < 2*k {
		k = len(names) / 2
	}
	if k < o.Attackers {
		return nil, fmt.Errorf("bench: %d people who can sign in are too few for %d attackers", len(names), o.Attackers)
	}
	legit, targets := names[:len(names)-k], names[len(names)-k:]
	res := &AttackResult{Attackers: o.Attackers, Targets: len(targets)}
	a := startAttack(ctx, addr, o.Attackers, targets)
	defer a.close()

	t0 := time.Now()
	a.on.Store(true)
	for !a.allThrottled() {
		if time.Since(t0) > 3*time.Minute {
			return nil, fmt.Errorf("bench: after 3 minutes of bad passwords, not every attacker is throttled (%v)", a.counts())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	res.WarmupSeconds = time.Since(t0).Seconds()
	res.WarmupFailures = a.counts()["401"]
	logf("attack: %d attackers throttled after %.1fs (%d bad passwords answered 401)", o.Attackers, res.WarmupSeconds, res.WarmupFailures)

	// Legitimate sign-ins: attackers paused, running, running from ever new
	// addresses; twice.
	product := productSignIn(addr, o.Clients)
	var next atomic.Int64
	a.on.Store(false)
	if _, _, _, err := runLoad(ctx, o.Clients, 0, o.Clients*4, legit, &next, product); err != nil {
		return nil, err
	}
	type acc struct {
		lat     []time.Duration
		errs    int
		first   string
		elapsed time.Duration
		cpu     map[string]time.Duration
	}
	var accs [3]acc // unloaded, under attack, under a rotating attack
	statuses := map[string]int{}
	var attackSent, rotatingSent int64
	for range 2 {
		for kind, mode := range []struct{ on, rotate bool }{{false, false}, {true, false}, {true, true}} {
			a.rotate.Store(mode.rotate)
			a.on.Store(mode.on)
			sent0, counts0 := a.sent.Load(), a.counts()
			before := make([]time.Duration, len(meters))
			for i, m := range meters {
				before[i] = m.read()
			}
			lat, errs, first, err := runLoad(ctx, o.Clients, per, 0, legit, &next, product)
			if err != nil {
				return nil, err
			}
			x := &accs[kind]
			if x.cpu == nil {
				x.cpu = map[string]time.Duration{}
			}
			for i, m := range meters {
				x.cpu[m.name] += m.read() - before[i]
			}
			x.lat, x.errs, x.elapsed = append(x.lat, lat...), x.errs+errs, x.elapsed+per
			if x.first == "" {
				x.first = first
			}
			if mode.rotate {
				rotatingSent += a.sent.Load() - sent0
			} else if mode.on {
				attackSent += a.sent.Load() - sent0
				for k, v := range a.counts() {
					if d := v - counts0[k]; d > 0 {
						statuses[k] += d
					}
				}
			}
		}
	}
	a.on.Store(false)
	a.rotate.Store(false)
	for kind, x := range accs {
		lr := summarize(o.Clients, x.lat, x.errs, x.first, x.elapsed)
		lr.CPUMsPerSignIn = map[string]float64{}
		for name, d := range x.cpu {
			if len(x.lat) > 0 {
				lr.CPUMsPerSignIn[name] = float64(d.Microseconds()) / 1000 / float64(len(x.lat))
			}
		}
		switch kind {
		case 0:
			res.Unloaded = lr
		case 1:
			res.UnderAttack = lr
		default:
			res.UnderRotatingAttack = lr
		}
	}
	res.ThroughputRatio = ratio(res.UnderAttack.PerSecond, res.Unloaded.PerSecond)
	res.RotatingThroughputRatio = ratio(res.UnderRotatingAttack.PerSecond, res.Unloaded.PerSecond)
	res.RotatingAttackPerSecond = float64(rotatingSent) / accs[2].elapsed.Seconds()
	res.AttackPerSecond = float64(attackSent) / accs[1].elapsed.Seconds()
	res.AttackStatuses = statuses

	// The attackers alone, each attempt from a new address: the answers are
	// the usernames' lockouts, not held as a blocked address's are, as fast
	// as the server gives them.
	a.rotate.Store(true)
	sent0, before := a.sent.Load(), a.counts()
	cpu0, self0 := pidCPU(serverPID), selfCPU()
	w0 := time.Now()
	a.on.Store(true)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(per):
	}
	a.on.Store(false)
	wall, cpu, self := time.Since(w0), pidCPU(serverPID)-cpu0, selfCPU()-self0
	n := a.sent.Load() - sent0
	throttled := a.counts()["429"] - before["429"]
	res.AloneSeconds = wall.Seconds()
	if n > 0 {
		res.AlonePerSecond = float64(n) / wall.Seconds()
		res.AloneThrottledShare = float64(throttled) / float64(n)
		res.ServerCPUMsPerThrottled = float64(cpu.Microseconds()) / 1000 / float64(n)
		res.ClientCPUMsPerThrottled = float64(self.Microseconds()) / 1000 / float64(n)
	}
	logf("attack: sign-ins %.0f/s unloaded, %.0f/s under attack (%.2f×; median %.1f → %.1f ms) while attackers got %.0f answers/s %v; "+
		"%.0f/s under a rotating attack (%.2f×) at %.0f answers/s; alone %.0f answers/s (%.1f%% throttled), server CPU %.3f ms per answer",
		res.Unloaded.PerSecond, res.UnderAttack.PerSecond, res.ThroughputRatio, res.Unloaded.MedianMs, res.UnderAttack.MedianMs,
		res.AttackPerSecond, res.AttackStatuses, res.UnderRotatingAttack.PerSecond, res.RotatingThroughputRatio, res.RotatingAttackPerSecond,
		res.AlonePerSecond, 100*res.AloneThrottledShare, res.ServerCPUMsPerThrottled)
	return res, nil
}
