package authority

import "context"

// startBackground starts the jobs that run while serving (the sync schedule).
// (The dirsync engineer fills this in.)
func (a *App) startBackground(ctx context.Context) {}

// stopBackground waits for the background jobs after the server stopped.
func (a *App) stopBackground() {}
