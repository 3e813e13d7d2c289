package dirsync

import (
	"sync"
	"time"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
)

// keptScripts is what a run leaves to the next one in this process: each
// server's scripts, compiled, by their text, and the run's two Runners,
// whose sandboxes (about 1.6 MB each to build, which was a sixth of a
// small incremental run) and whose memos of pure scripts still hold while
// the scripts are the same. Runs take turns (one slot), so a run has them
// to itself.
type keptScripts struct {
	mu           sync.Mutex
	sets         map[int64]keptSet // by server id
	runner, lazy *script.Runner    // nil: none kept
}

// keptSet is a server's compiled scripts and the text they came from.
type keptSet struct {
	key string
	set *script.Set
}

// scriptsKey is the text of srv's scripts, as one key.
func scriptsKey(srv ldapauth.Server) string {
	return srv.ActiveScript + "\x00" + srv.OrgNameScript + "\x00" + srv.RoleNameScript
}

// compile returns srv's scripts compiled: those the last run compiled when
// their text is unchanged, or compiled now.
func (k *keptScripts) compile(srv ldapauth.Server) (*script.Set, error) {
	key := scriptsKey(srv)
	k.mu.Lock()
	kept, ok := k.sets[srv.ID]
	k.mu.Unlock()
	if ok && kept.key == key {
		return kept.set, nil
	}
	return script.CompileSet(srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
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
		same = same && k.sets[id].set == set
	}
	k.mu.Unlock()
	if !same || runner == nil || lazy == nil {
		return script.NewRunner(limit), script.NewRunner(limit)
	}
	return runner, lazy
}

// keep leaves a run's compiled scripts, by server, and its Runners (nil:
// none) to the next run.
func (k *keptScripts) keep(servers []ldapauth.Server, sets map[int64]*script.Set, runner, lazy *script.Runner) {
	kept := make(map[int64]keptSet, len(servers))
	for _, srv := range servers {
		if set := sets[srv.ID]; set != nil {
			kept[srv.ID] = keptSet{key: scriptsKey(srv), set: set}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sets, k.runner, k.lazy = kept, runner, lazy
}
