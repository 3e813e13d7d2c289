package authority

import "context"

// startBackground starts the jobs that run while serving: the sync schedule.
func (a *App) startBackground(ctx context.Context) {
	if a.Sync != nil {
		a.Sync.StartScheduler(ctx)
	}
	if a.Prov != nil {
		go a.Prov.Run(ctx) // provisioning's delayed deactivations
	}
}

// stopBackground stops the sync schedule when the server stops: a run going
// on (scheduled or started through the API) is cancelled, recorded as
// cancelled, and waited for (its summary email is bounded by
// dirsync.ShutdownMailTimeout). No run starts after it.
func (a *App) stopBackground() {
	if a.Sync != nil {
		a.Sync.Close()
	}
}
