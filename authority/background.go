package authority

import "context"

// startBackground starts the jobs that run while serving: the sync schedule.
func (a *App) startBackground(ctx context.Context) {
	if a.Sync != nil {
		a.Sync.StartScheduler(ctx)
	}
}

// stopBackground stops the sync schedule after the server stopped: a
// scheduled run going on is cancelled (recorded as failed, interrupted) and
// waited for.
func (a *App) stopBackground() {
	if a.Sync != nil {
		a.Sync.StopScheduler()
	}
}
