package throttle

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// step is one thing that happens in a table test.
type step struct {
	advance time.Duration
	op      string // "fail", "check", "succeed"
	user    string
	addr    string
	times   int           // repeat the op (default 1)
	refused bool          // check: want a refusal
	retry   time.Duration // check: want this RetryAfter (0: do not look)
	byAddr  bool          // check: want ByAddress
}

func TestRules(t *testing.T) {
	const a, b, c = "10.0.0.1", "10.0.0.2", "10.0.0.3"
	fail := func(user, addr string, n int) step { return step{op: "fail", user: user, addr: addr, times: n} }
	ok := func(user, addr string) step { return step{op: "check", user: user, addr: addr} }
	refused := func(user, addr string, retry time.Duration) step {
		return step{op: "check", user: user, addr: addr, refused: true, retry: retry}
	}
	later := func(d time.Duration, s step) step { s.advance = d; return s }
	cases := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"four failures do not lock", Limits{}, []step{fail("alice", a, 4), ok("alice", a), ok("alice", b)}},
		{"the fifth failure locks the username, from every address", Limits{}, []step{
			fail("alice", a, 5),
			refused("alice", b, 2*time.Minute), // the refused attempt is the sixth failure: 2 min
			ok("bob", b),
		}},
		{"each attempt while locked doubles the lockout, up to maxLockout", Limits{}, []step{
			fail("alice", a, 5),
			refused("alice", a, 2*time.Minute),
			refused("alice", a, 4*time.Minute),
			refused("alice", a, 8*time.Minute),
			refused("alice", a, 16*time.Minute),
			refused("alice", a, 32*time.Minute),
			refused("alice", a, time.Hour),
			refused("alice", a, time.Hour),
		}},
		{"a long streak stays at maxLockout (no overflow)", Limits{}, []step{
			fail("alice", a, 5), {op: "check", user: "alice", addr: b, times: 100, refused: true}, refused("alice", b, time.Hour),
		}},
		{"maxLockout below the base lockout", Limits{MaxLockout: 20 * time.Second}, []step{
			fail("alice", a, 5), refused("alice", a, 20*time.Second), later(20*time.Second, ok("alice", a)),
		}},
		{"a failure after the lockout ended doubles it", Limits{}, []step{
			fail("alice", a, 5),
			later(time.Minute, ok("alice", a)),
			fail("alice", a, 1),
			refused("alice", a, 4*time.Minute), // failure 6 locked for 2 min; this check is failure 7
			later(4*time.Minute, ok("alice", a)),
		}},
		{"the streak ends after a window with no failure", Limits{}, []step{
			fail("alice", a, 5),
			later(time.Minute+15*time.Minute, ok("alice", a)),
			fail("alice", a, 4),
			ok("alice", a),
		}},
		{"failures older than the window do not count", Limits{}, []step{
			fail("alice", a, 4),
			later(15*time.Minute, fail("alice", a, 1)),
			ok("alice", a),
		}},
		{"the window slides", Limits{}, []step{
			fail("alice", a, 3),
			later(10*time.Minute, fail("alice", a, 1)),
			later(4*time.Minute, fail("alice", a, 1)),
			refused("alice", a, 0),
		}},
		{"a success clears the username", Limits{}, []step{
			fail("alice", a, 4), {op: "succeed", user: "ALICE"}, fail("alice", a, 4), ok("alice", a),
		}},
		{"usernames are case-folded and trimmed", Limits{}, []step{
			fail("Alice", a, 1), fail("ALICE", a, 1), fail(" alice ", a, 1), fail("aLiCe", a, 1), fail("alice", a, 1),
			refused("ALİCE", a, 0).notRefused(), // dotted capital I folds to i + combining dot: another name
			refused("ALICE", a, 0),
			fail("\u212Aim", b, 5), // KELVIN SIGN folds to k
			refused("kim", b, 0),
			fail("STRASSE", b, 5),
			refused("straße", b, 0), // full folding: ß is ss
		}},
		{"more than perAddressFailures from one address block it for a minute", Limits{}, []step{
			failMany(a, 30), ok("new", a),
			fail("one-more", a, 1),
			{op: "check", user: "someone", addr: a, refused: true, retry: time.Minute, byAddr: true},
			ok("someone", b),
			later(59*time.Second, step{op: "check", user: "x", addr: a, refused: true, byAddr: true}),
			later(61*time.Second, ok("x", a)),
		}},
		{"address failures spread over more than a minute do not block", Limits{}, []step{
			failMany(a, 30), later(61*time.Second, failMany(a, 30)), ok("new", a),
		}},
		{"other limits", Limits{MaxFailures: 2, PerAddressFailures: 3}, []step{
			fail("alice", a, 2), refused("alice", b, 0),
			failMany(c, 3), ok("x", c), fail("y", c, 1), {op: "check", user: "z", addr: c, refused: true, byAddr: true},
		}},
		{"no username and no address: never throttled", Limits{MaxFailures: 1}, []step{
			fail("", "", 10), ok("", ""),
		}},
		{"an over-long username is not counted, its address is", Limits{PerAddressFailures: 3}, []step{
			fail(strings.Repeat("x", MaxKeyBytes+1), a, 2), ok(strings.Repeat("x", MaxKeyBytes+1), a),
			fail(strings.Repeat("x", MaxKeyBytes+1), a, 2), {op: "check", user: "x", addr: a, refused: true, byAddr: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
			th := New(clk.now, tc.limits)
			for i, s := range tc.steps {
				clk.t = clk.t.Add(s.advance)
				n := max(s.times, 1)
				for range n {
					switch s.op {
					case "fail":
						th.Fail(s.user, s.addr)
					case "succeed":
						th.Succeed(s.user)
					case "check":
						err := th.Check(s.user, s.addr)
						var ref *Refused
						got := errors.As(err, &ref)
						if got != s.refused {
							t.Fatalf("step %d: Check(%q, %q) = %v, want refused %v", i, s.user, s.addr, err, s.refused)
						}
						if got && s.retry != 0 && ref.RetryAfter != s.retry {
							t.Fatalf("step %d: RetryAfter %v, want %v", i, ref.RetryAfter, s.retry)
						}
						if got && s.byAddr && !ref.ByAddress {
							t.Fatalf("step %d: refused %+v, want by address", i, ref)
						}
						if got && err.Error() != Message {
							t.Fatalf("step %d: message %q", i, err.Error())
						}
					default:
						t.Fatalf("step %d: op %q", i, s.op)
					}
				}
			}
		})
	}
}

// notRefused turns a refused check into an allowed one.
func (s step) notRefused() step { s.refused, s.retry = false, 0; return s }

// failMany is n failures from addr with no username (only the address counts).
func failMany(addr string, n int) step { return step{op: "fail", user: "", addr: addr, times: n} }

func TestRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {2 * time.Minute, 120}} {
		if got := (&Refused{RetryAfter: c.d}).RetryAfterSeconds(); got != c.want {
			t.Errorf("%v: %d, want %d", c.d, got, c.want)
		}
	}
}

// The tables stay bounded, and a locked-out username survives a flood of
// other usernames.
func TestMemoryIsBounded(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	th := New(clk.now, Limits{PerAddressFailures: 1 << 30})
	th.SetMaxEntries(100)
	th.Fail("victim", "10.0.0.1")
	th.Fail("victim", "10.0.0.1")
	th.Fail("victim", "10.0.0.1")
	th.Fail("victim", "10.0.0.1")
	th.Fail("victim", "10.0.0.1")
	for i := range 10_000 {
		th.Fail(fmt.Sprintf("user-%d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256))
		if i%100 == 0 {
			clk.t = clk.t.Add(time.Millisecond)
		}
	}
	u, a := th.Len()
	if u > 100 || a > 100 {
		t.Fatalf("tables hold %d usernames and %d addresses, want at most 100 each", u, a)
	}
	if err := th.Check("victim", "10.9.9.9"); err == nil {
		t.Fatal("the locked-out username was evicted by the flood")
	}
	// Dead entries go.
	clk.t = clk.t.Add(2 * time.Hour)
	_ = th.Check("anyone", "10.9.9.9")
	if u, a := th.Len(); u != 0 || a != 0 {
		t.Fatalf("after two hours: %d usernames, %d addresses held, want none", u, a)
	}
}

func TestConcurrentUse(t *testing.T) {
	th := New(nil, Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				u := fmt.Sprintf("u%d", i%7)
				addr := fmt.Sprintf("10.0.0.%d", g)
				if th.Check(u, addr) == nil {
					th.Fail(u, addr)
				}
				if i%50 == 0 {
					th.Succeed(u)
					th.SetLimits(Limits{MaxFailures: 3 + i%3})
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRefusedCheck is the cost of a refused attempt in the throttle
// itself (the HTTP answer around it: see web's BenchmarkThrottledAnswer).
func BenchmarkRefusedCheck(b *testing.B) {
	th := New(nil, Limits{})
	for range 5 {
		th.Fail("alice", "10.0.0.1")
	}
	b.ReportAllocs()
	for b.Loop() {
		if th.Check("alice", "10.0.0.1") == nil {
			b.Fatal("not refused")
		}
	}
}

// Concurrent attempts cannot check more passwords than sequential ones:
// Begin lets at most the failures left be in flight.
func TestBeginBoundsAttemptsInFlight(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	th := New(clk.now, Limits{})
	var begun []*Attempt
	for i := range 5 {
		a, err := th.Begin("alice", fmt.Sprintf("10.0.0.%d", i+1))
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		begun = append(begun, a)
	}
	_, err := th.Begin("ALICE", "10.0.1.1")
	var ref *Refused
	if !errors.As(err, &ref) || !ref.ByUsername || ref.RetryAfter != time.Second {
		t.Fatalf("a sixth attempt in flight: %v (%+v), want refused by username, retry in 1s", err, ref)
	}
	for _, a := range begun {
		a.Fail()
		a.Fail() // ended already: nothing
	}
	if _, err := th.Begin("alice", "10.0.2.1"); err == nil {
		t.Fatal("after the failures: not locked out")
	}

	// Ending without a failure frees the place.
	a1, _ := th.Begin("bob", "10.0.0.9")
	for range 4 {
		a, err := th.Begin("bob", "10.0.0.9")
		if err != nil {
			t.Fatal(err)
		}
		a.End()
	}
	a1.Succeed()
	if u, _ := th.Len(); u != 1 { // alice (ALICE is alice); bob is gone
		t.Fatalf("%d usernames held, want 1 (alice)", u)
	}

	// After a lockout ended (it was 4 minutes: the refused Begin doubled
	// it), one attempt at a time.
	clk.t = clk.t.Add(4 * time.Minute)
	c1, err := th.Begin("alice", "10.0.3.1")
	if err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if _, err := th.Begin("alice", "10.0.3.2"); err == nil {
		t.Fatal("a second attempt in flight after a lockout was let through")
	}
	c1.End()
}

func TestBeginFromOneAddress(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	th := New(clk.now, Limits{PerAddressFailures: 3})
	// No failure yet: any number at once (people behind one proxy).
	var all []*Attempt
	for i := range 50 {
		a, err := th.Begin(fmt.Sprintf("user%d", i), "10.0.0.1")
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		all = append(all, a)
	}
	for _, a := range all {
		a.Succeed()
	}
	if u, a := th.Len(); u != 0 || a != 0 {
		t.Fatalf("after the successes: %d usernames, %d addresses held", u, a)
	}
	// One failure: then at most 3 in flight (as one after the other: the
	// fourth failure is the one that blocks).
	th.Fail("x", "10.0.0.1")
	var inFlight []*Attempt
	for i := range 3 {
		a, err := th.Begin(fmt.Sprintf("y%d", i), "10.0.0.1")
		if err != nil {
			t.Fatalf("attempt %d in flight: %v", i+1, err)
		}
		inFlight = append(inFlight, a)
	}
	var ref *Refused
	if _, err := th.Begin("y4", "10.0.0.1"); !errors.As(err, &ref) || !ref.ByAddress {
		t.Fatalf("a fourth in flight: %v", err)
	}
	for _, a := range inFlight {
		a.End()
	}
}

// Many goroutines guessing one username at once get at most maxFailures
// password checks.
func TestBeginConcurrentGuesses(t *testing.T) {
	th := New(nil, Limits{PerAddressFailures: 1 << 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	start := make(chan struct{})
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := th.Begin("alice", fmt.Sprintf("10.0.0.%d", g))
			if err != nil {
				return
			}
			mu.Lock()
			checked++
			mu.Unlock()
			time.Sleep(10 * time.Millisecond) // the password check
			a.Fail()
		}()
	}
	close(start)
	wg.Wait()
	if checked > 5 {
		t.Fatalf("%d passwords checked at once, want at most 5", checked)
	}
}
