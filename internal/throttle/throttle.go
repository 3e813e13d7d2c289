// Package throttle counts failed sign-in attempts per username and per
// client address and says when an attempt must be refused without checking
// its credentials (SPEC section 10, "Throttling").
//
// The rules, with the default Limits:
//
//   - Usernames are compared by Unicode case folding (Key). After
//     MaxFailures (5) failures of one username within FailureWindow (15 min),
//     the username is locked out for BaseLockout (1 min); every further
//     failure doubles the lockout, up to MaxLockout (1 h). The streak of
//     lockouts ends when no failure comes for FailureWindow after the last
//     lockout ended; a success (Succeed) ends it at once.
//   - More than PerAddressFailures (30) failures from one address within
//     AddressWindow (1 min) block the address for AddressLockout (1 min).
//   - An attempt Begin (or Check) refuses counts as a failure of its username
//     and of its address: hammering a locked account keeps it locked, ever
//     longer.
//   - Attempts in flight (begun, not yet ended by Fail, Succeed or End)
//     count as failures that may come, so that concurrent guesses check no
//     more passwords than sequential ones.
//
// The state is in memory, bounded: at most DefaultMaxEntries usernames and as many
// addresses, keys of at most MaxKeyBytes; dead entries are swept, and when a
// table is full of live ones the least recently failed of a sample goes.
// All methods are safe for concurrent use and cost a map lookup or two under
// one mutex: a refused attempt does no I/O.
package throttle

import (
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/cases"

	"github.com/authority-server/authority/internal/metrics"
)

// Fixed parts of the rules.
const (
	// BaseLockout is the first lockout of a username; each further failure doubles it.
	BaseLockout = time.Minute
	// AddressWindow is the window in which PerAddressFailures are counted.
	AddressWindow = time.Minute
	// AddressLockout is how long an address stays blocked after its last failure over the limit.
	AddressLockout = time.Minute
	// DefaultMaxEntries bounds each table (usernames, addresses).
	DefaultMaxEntries = 100_000
	// MaxKeyBytes is the longest folded username or address kept: a longer
	// one is not counted (usernames that long cannot exist).
	MaxKeyBytes = 1024
	// addressBuckets split AddressWindow: the address count is exact to
	// AddressWindow/addressBuckets.
	addressBuckets = 6
	// sweepEvery is the longest time between sweeps of dead entries.
	sweepEvery = time.Minute
	// evictSample is how many entries are looked at to choose one to evict.
	evictSample = 8
)

// Message is the answer to a refused attempt.
const Message = "too many attempts; try again later"

// Limits are the settings of the rules (Settings > Security).
type Limits struct {
	MaxFailures        int           // failures of one username within FailureWindow that lock it out
	FailureWindow      time.Duration // see MaxFailures
	MaxLockout         time.Duration // the longest lockout of a username
	PerAddressFailures int           // more failures than this from one address within AddressWindow block it
}

// DefaultLimits are the limits before an administrator changes them.
func DefaultLimits() Limits {
	return Limits{MaxFailures: 5, FailureWindow: 15 * time.Minute, MaxLockout: time.Hour, PerAddressFailures: 30}
}

// Refused is the error of an attempt the throttle refuses: answer 429 with
// Retry-After, without checking the credentials.
type Refused struct {
	RetryAfter time.Duration // how long until an attempt may be tried again
	ByUsername bool          // the username is locked out
	ByAddress  bool          // the address is blocked
}

func (e *Refused) Error() string { return Message }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1:
// the value of the Retry-After header.
func (e *Refused) RetryAfterSeconds() int {
	s := int(math.Ceil(e.RetryAfter.Seconds()))
	return max(s, 1)
}

// Key is the form under which a username is counted: trimmed and Unicode
// case-folded (golang.org/x/text/cases Fold), or "" (not counted) when blank
// or longer than MaxKeyBytes.
func Key(username string) string {
	u := strings.TrimSpace(username)
	if u == "" || len(u) > MaxKeyBytes {
		return ""
	}
	k := cases.Fold().String(u)
	if len(k) > MaxKeyBytes {
		return ""
	}
	return k
}

// Throttle holds the failure counts. The zero value is not usable: call New.
type Throttle struct {
	now        func() time.Time
	maxEntries int

	mu        sync.Mutex
	limits    Limits
	users     map[string]*userState
	addrs     map[string]*addrState
	lastSweep int64 // unix nanos of the last sweep
	inserts   int   // since the last sweep
}

type userState struct {
	fails   []int64 // unix-nano times of the failures in the window, oldest first (not locked out)
	streak  int     // failures since the lockout began; 0: not locked out
	until   int64   // locked out until
	last    int64   // the last failure
	pending int     // attempts begun and not ended (Begin)
}

type addrState struct {
	buckets [addressBuckets]struct {
		slot int64 // which AddressWindow/addressBuckets slot of time the count is for
		n    int
	}
	until   int64 // blocked until
	last    int64
	pending int // attempts begun and not ended (Begin)
}

// New returns a Throttle with limits l (zero fields take the defaults) on
// the clock now (time.Now when nil).
func New(now func() time.Time, l Limits) *Throttle {
	if now == nil {
		now = time.Now
	}
	t := &Throttle{now: now, maxEntries: DefaultMaxEntries, users: map[string]*userState{}, addrs: map[string]*addrState{}}
	t.SetLimits(l)
	return t
}

// SetMaxEntries bounds each table to n entries (at least 1).
func (t *Throttle) SetMaxEntries(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxEntries = max(n, 1)
}

// SetLimits changes the limits at once; zero fields take the defaults.
// Counts already made stay.
func (t *Throttle) SetLimits(l Limits) {
	d := DefaultLimits()
	if l.MaxFailures <= 0 {
		l.MaxFailures = d.MaxFailures
	}
	if l.FailureWindow <= 0 {
		l.FailureWindow = d.FailureWindow
	}
	if l.MaxLockout <= 0 {
		l.MaxLockout = d.MaxLockout
	}
	if l.PerAddressFailures <= 0 {
		l.PerAddressFailures = d.PerAddressFailures
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limits = l
}

// Limits returns the limits in force.
func (t *Throttle) Limits() Limits {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limits
}

// Len returns how many usernames and addresses are held.
func (t *Throttle) Len() (usernames, addresses int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.users), len(t.addrs)
}

// Check is asked before an attempt of username from addr checks its
// credentials, by a caller that reports the outcome with Fail and Succeed.
// It returns nil when the attempt may go on, else a *Refused; a refused
// attempt is counted as a failure (of both the username and the address).
// An empty addr, and a username Key does not count, are not throttled on
// that side. Begin is Check for attempts that may run concurrently.
func (t *Throttle) Check(username, addr string) error {
	key, addr := Key(username), addrKey(addr)
	if key == "" && addr == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UnixNano()
	t.maybeSweep(now)
	if ref := t.refuse(key, addr, now, false); ref != nil {
		return ref
	}
	return nil
}

// refuse returns the refusal of an attempt of key from addr at now, counted
// as a failure, or nil when it may go on. With inFlight, attempts begun and
// not ended count as failures that may come: a username may have no more
// attempts in flight than failures left before its lockout (one, after a
// lockout ended), and an address that has failed within the window no more
// than perAddressFailures less its failures. (An address with no failure
// is not bounded: many people may sign in at once through one proxy.)
func (t *Throttle) refuse(key, addr string, now int64, inFlight bool) *Refused {
	var ref Refused
	l := t.limits
	if st := t.users[key]; key != "" && st != nil && t.userAlive(st, now) {
		ref.ByUsername = now < st.until || inFlight &&
			(st.streak > 0 && st.pending >= 1 || st.streak == 0 && t.recent(st, now)+st.pending >= l.MaxFailures)
	}
	if st := t.addrs[addr]; addr != "" && st != nil {
		n := st.count(now)
		ref.ByAddress = now < st.until || inFlight && n > 0 && n+st.pending > l.PerAddressFailures
	}
	if !ref.ByUsername && !ref.ByAddress {
		return nil
	}
	if u := t.failUser(key, now); u != nil && ref.ByUsername {
		ref.RetryAfter = time.Duration(u.until - now)
	}
	if a := t.failAddr(addr, now); a != nil && ref.ByAddress {
		ref.RetryAfter = max(ref.RetryAfter, time.Duration(a.until-now))
	}
	if ref.RetryAfter <= 0 {
		ref.RetryAfter = time.Second // refused for attempts in flight, not locked (yet)
	}
	metrics.ThrottledAttempts.Inc()
	return &ref
}

// Attempt is a sign-in attempt that Begin let go on. End it with exactly
// one of Fail, Succeed or End (later calls do nothing); until then it counts
// as a failure that may come.
type Attempt struct {
	t         *Throttle
	key, addr string
	ended     bool
}

// Begin is asked before an attempt of username from addr checks its
// credentials. Like Check, it refuses (counting a failure) a locked-out
// username or a blocked address; it also refuses an attempt that would put
// more attempts in flight than failures are left (MaxFailures for the
// username, PerAddressFailures for the address), so that concurrent guesses
// cannot check more passwords than sequential ones. The returned Attempt
// must be ended.
func (t *Throttle) Begin(username, addr string) (*Attempt, error) {
	a := &Attempt{t: t, key: Key(username), addr: addrKey(addr)}
	if a.key == "" && a.addr == "" {
		a.ended = true
		return a, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UnixNano()
	t.maybeSweep(now)
	if ref := t.refuse(a.key, a.addr, now, true); ref != nil {
		a.ended = true
		return nil, ref
	}
	if a.key != "" {
		st := t.users[a.key]
		if st != nil && !t.userAlive(st, now) {
			delete(t.users, a.key)
			st = nil
		}
		if st == nil {
			t.makeRoom(now, true)
			st = &userState{}
			t.users[a.key] = st
			t.inserts++
		}
		st.pending++
	}
	if a.addr != "" {
		st := t.addrs[a.addr]
		if st != nil && !addrAlive(st, now) {
			delete(t.addrs, a.addr)
			st = nil
		}
		if st == nil {
			t.makeRoom(now, false)
			st = &addrState{}
			t.addrs[a.addr] = st
			t.inserts++
		}
		st.pending++
	}
	return a, nil
}

// Fail ends the attempt as a failure: wrong credentials, or a username that
// does not exist.
func (a *Attempt) Fail() {
	a.end(func(t *Throttle, now int64) { t.failUser(a.key, now); t.failAddr(a.addr, now) })
}

// Succeed ends the attempt as a successful sign-in: the username's failures
// are cleared (the address's stay).
func (a *Attempt) Succeed() {
	a.end(func(t *Throttle, _ int64) {
		if a.key != "" {
			delete(t.users, a.key)
		}
	})
}

// End ends the attempt as neither a failure nor a success: a right password
// refused because the account is blocked or deactivated, or an error.
func (a *Attempt) End() { a.end(nil) }

func (a *Attempt) end(then func(t *Throttle, now int64)) {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UnixNano()
	if st := t.users[a.key]; a.key != "" && st != nil && st.pending > 0 {
		st.pending--
	}
	if st := t.addrs[a.addr]; a.addr != "" && st != nil && st.pending > 0 {
		st.pending--
	}
	if then != nil {
		then(t, now)
	}
	if st := t.users[a.key]; a.key != "" && st != nil && !t.userAlive(st, now) {
		delete(t.users, a.key)
	}
	if st := t.addrs[a.addr]; a.addr != "" && st != nil && !addrAlive(st, now) {
		delete(t.addrs, a.addr)
	}
}

// Fail counts a failed attempt of username from addr: wrong credentials, or
// a username that does not exist. A right password refused because the
// account is blocked or deactivated is not a failure.
func (t *Throttle) Fail(username, addr string) {
	key, addr := Key(username), addrKey(addr)
	if key == "" && addr == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UnixNano()
	t.maybeSweep(now)
	t.failUser(key, now)
	t.failAddr(addr, now)
}

// Succeed clears username's failures after a successful sign-in. The
// address's count stays.
func (t *Throttle) Succeed(username string) {
	key := Key(username)
	if key == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.users, key)
}

// failUser counts a failure of key (when not "") and returns its state.
func (t *Throttle) failUser(key string, now int64) *userState {
	if key == "" {
		return nil
	}
	l := t.limits
	st := t.users[key]
	if st != nil && !t.userAlive(st, now) {
		st = nil
	}
	if st == nil {
		t.makeRoom(now, true)
		st = &userState{}
		t.users[key] = st
		t.inserts++
	}
	st.last = now
	if st.streak > 0 {
		st.streak++
		st.until = now + int64(lockout(st.streak, l.MaxLockout))
		return st
	}
	cut := now - int64(l.FailureWindow)
	i := 0
	for i < len(st.fails) && st.fails[i] <= cut {
		i++
	}
	st.fails = append(st.fails[:0], st.fails[i:]...)
	st.fails = append(st.fails, now)
	if len(st.fails) >= l.MaxFailures {
		st.fails = nil
		st.streak = 1
		st.until = now + int64(lockout(1, l.MaxLockout))
	}
	return st
}

// lockout is the lockout after the streak-th failure of a lockout streak:
// BaseLockout, doubled for each further failure, at most maxLockout.
func lockout(streak int, maxLockout time.Duration) time.Duration {
	d := BaseLockout
	for i := 1; i < streak && d < maxLockout; i++ {
		d *= 2 // d < maxLockout ≤ 24h: no overflow
	}
	return min(d, maxLockout)
}

// failAddr counts a failure from addr (when not "") and returns its state.
func (t *Throttle) failAddr(addr string, now int64) *addrState {
	if addr == "" {
		return nil
	}
	st := t.addrs[addr]
	if st == nil {
		t.makeRoom(now, false)
		st = &addrState{}
		t.addrs[addr] = st
		t.inserts++
	}
	st.last = now
	width := int64(AddressWindow / addressBuckets)
	slot := now / width
	b := &st.buckets[slot%addressBuckets]
	if b.slot != slot {
		b.slot, b.n = slot, 0
	}
	b.n++
	if st.count(now) > t.limits.PerAddressFailures {
		st.until = now + int64(AddressLockout)
	}
	return st
}

// recent is the number of st's failures within the window.
func (t *Throttle) recent(st *userState, now int64) int {
	cut := now - int64(t.limits.FailureWindow)
	n := 0
	for _, f := range st.fails {
		if f > cut {
			n++
		}
	}
	return n
}

// userAlive reports whether st still matters at now: locked out, in a
// lockout streak that has not run out, or with failures in the window.
func (t *Throttle) userAlive(st *userState, now int64) bool {
	w := int64(t.limits.FailureWindow)
	if st.pending > 0 {
		return true
	}
	if st.streak > 0 {
		return now < st.until+w
	}
	return len(st.fails) > 0 && st.fails[len(st.fails)-1] > now-w
}

// count is the number of failures in the last AddressWindow (to a bucket).
func (st *addrState) count(now int64) int {
	slot := now / int64(AddressWindow/addressBuckets)
	n := 0
	for _, b := range st.buckets {
		if b.slot > slot-addressBuckets {
			n += b.n
		}
	}
	return n
}

func addrAlive(st *addrState, now int64) bool {
	return st.pending > 0 || now < st.until || st.last > now-int64(AddressWindow)
}

// maybeSweep drops dead entries once every sweepEvery.
func (t *Throttle) maybeSweep(now int64) {
	if now >= t.lastSweep && now-t.lastSweep < int64(sweepEvery) {
		return
	}
	t.sweep(now)
}

func (t *Throttle) sweep(now int64) {
	for k, st := range t.users {
		if !t.userAlive(st, now) {
			delete(t.users, k)
		}
	}
	for k, st := range t.addrs {
		if !addrAlive(st, now) {
			delete(t.addrs, k)
		}
	}
	t.lastSweep = now
	t.inserts = 0
}

// makeRoom makes sure one more entry fits in the users (or addresses)
// table: a sweep when it is full (at most once per quarter of its size of
// inserts), then, if it is still full, the eviction of the least recently
// failed of a few entries, preferring those not locked out.
func (t *Throttle) makeRoom(now int64, users bool) {
	size := len(t.addrs)
	if users {
		size = len(t.users)
	}
	if size < t.maxEntries {
		return
	}
	if t.inserts >= t.maxEntries/4 {
		t.sweep(now)
		if users && len(t.users) < t.maxEntries || !users && len(t.addrs) < t.maxEntries {
			return
		}
	}
	victim, victimLocked, victimLast, seen := "", false, int64(0), 0
	consider := func(k string, locked bool, last int64) bool {
		if victim == "" || (victimLocked && !locked) || (victimLocked == locked && last < victimLast) {
			victim, victimLocked, victimLast = k, locked, last
		}
		seen++
		return seen < evictSample
	}
	if users {
		for k, st := range t.users {
			if !consider(k, now < st.until, st.last) {
				break
			}
		}
		delete(t.users, victim)
		return
	}
	for k, st := range t.addrs {
		if !consider(k, now < st.until, st.last) {
			break
		}
	}
	delete(t.addrs, victim)
}

// addrKey is the form under which an address is counted ("" when too long).
func addrKey(addr string) string {
	addr = strings.TrimSpace(addr)
	if len(addr) > MaxKeyBytes {
		return ""
	}
	return addr
}
