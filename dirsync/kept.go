package dirsync

import (
	"sync"
	"time"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
)

// keptScripts is what a run leaves to the next one in this process: each
// server's scripts, compiled (by their text), and the run's two Runners,
// whose sandboxes (about 1.6 MB each to build, which was a sixth of a
// small incremental run) and whose memos of pure scripts still hold while
// the scripts are the same. Runs take turns (one slot), so a run has them
// to itself.
type keptScripts struct {
	compiled     script.SetCache
	mu           sync.Mutex
	sets         map[int64]*script.Set // by server id: the sets the kept Runners ran
	runner, lazy *script.Runner        // nil: none kept
}

// compile returns srv's scripts compiled: those compiled before while
// their text is unchanged, or compiled now.
func (k *keptScripts) compile(srv ldapauth.Server) (*script.Set, error) {
	return k.compiled.Compile(srv.ID, srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
}

// runners returns the Runners the last run left when the run's scripts,
// sets by server id, are exactly the ones it kept, or new ones with the
// time limit limit. (A Runner keeps a sandbox per program it ran: with
// other programs, the old ones would only take memory.)
func (k *keptScripts) runners(sets map[int64]*script.Set, limit time.Duration) (runner, lazy *script.Runner) {
	k.mu.Lock()
	runner, lazy = k.runner, k.lazy
	k.runner, k.lazy = nil, nil
	same := len(sets) == len(k.sets)
	for id, set := range sets {
		same = same && k.sets[id] == set
	}
	k.mu.Unlock()
	if !same || runner == nil || lazy == nil {
		return script.NewRunner(limit), script.NewRunner(limit)
	}
	return runner, lazy
}

// keep leaves a run's Runners (nil: none) to the next run, with the sets,
// by server id, they ran.
func (k *keptScripts) keep(sets map[int64]*script.Set, runner, lazy *script.Runner) {
	kept := make(map[int64]*script.Set, len(sets))
	for id, set := range sets {
		if set != nil {
			kept[id] = set
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sets, k.runner, k.lazy = kept, runner, lazy
}
