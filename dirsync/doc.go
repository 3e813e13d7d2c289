// Package dirsync is the directory synchronization job (DIRSYNC, docs/rules.md
// section 6): scheduled, manual and simulated runs, their history, the
// DIRSYNC:: log lines, the summary email and the Settings > Notifications
// document it is sent with.
//
// # A run
//
// A run takes the orgs whose effective authentication method is LDAP (the
// scope) and groups them by LDAP server. For each server it runs one paged
// search (ldapauth.Dial + Conn.SearchAll) and processes every page as it
// arrives: the users in scope the page's entries name are read by index (by
// stable id first, then by username: case-insensitive, every value of the
// username attribute is a username), the server's three scripts (compiled once per run) run once per
// matched entry, and the changes that are not deactivations (reactivate,
// move, roles within the Role Mapping list, email and names, the LDAP
// identity) are applied at once, one transaction per page with one savepoint
// per user, so that every user's change is whole.
//
// A run does not hold the scope in memory: it keeps the users of the page
// it processes, where it found each user (for duplicates and for the end),
// and the users it will deactivate. Once every server has been read, the
// users it did not find are streamed from the database past the
// deactivation rules (an incremental run: only those whose entries the
// tracking saw go).
//
// Deactivations (active script false, or a user not found on any server of
// its org) are only collected; they are applied after every server's search
// completed. A search that fails or ends early fails the run before any
// deactivation. When the deactivations would exceed the safety valve (more
// than ValvePercent % of the users in scope and more than ValveMinUsers
// users) nobody is deactivated and the run ends with status "valve", unless
// the run was asked to override the valve.
//
// A simulated run computes the same and writes nothing but its history, the
// log lines and the email.
//
// # Rules worth knowing
//
// The lifecycle decisions are package users' (users.State) and the role
// decisions package users/roles' (roles.Mapping): a run asks them and never
// re-derives them; a simulated run asks them about the state it loaded
// instead of writing (see apply.go).
//
//   - A sync never undoes an administrator's block (users.State
//     SourceReactivates). It reactivates users it deactivated or blocked
//     (legal hold), and users an administrator deactivated in an LDAP org
//     (the directory overrides).
//   - A sync never creates orgs: an org name script naming an org that does
//     not exist is a warning, and the user stays where it is.
//   - Lockout guard: the built-in administrator (users.ScopeUser.Protected)
//     is never deactivated by a sync, even when its org uses LDAP, so that a
//     wrong search filter cannot lock every administrator out of the console.
//   - Roles: a server without a role name script leaves roles alone. With
//     one, the roles it returns that are on the Role Mapping list are
//     wanted; when none are left (null, undefined, [] or only unmapped names)
//     the user's org's default roles are wanted instead, the same rule as at
//     registration, so that a sync does not strip every role from users that
//     registration gave the defaults to. Roles outside the Role Mapping list are
//     never added or removed.
//   - Email, first and last name follow the attribute mapping; an attribute
//     the entry does not have leaves the stored value as it is.
//   - A script error for an entry leaves that user exactly as it was (and
//     found, so not deactivated); it is counted and reported.
//
// # Concurrency and crashes
//
// One run at a time per data directory: a second request while one runs
// (from the API, the scheduler or `authority sync`, in this process or
// another one on the same data directory, through a lock file) gets an
// apperr Conflict. A run that a crash or kill left "running" is marked failed
// ("interrupted") when the lock is next taken; since each user's change is
// whole and every run plans from the current database, the next run completes
// the work.
//
// # Schedule
//
// The scheduler runs a sync every ldapauth Settings.SyncInterval (the sync's
// settings and their defaults live in ldapauth.Settings) ("never"
// turns it off). The next run is the start of the last run that was not
// simulated plus the interval, so the schedule survives restarts. With no
// such run yet, the interval counts from when the scheduler first started
// (remembered in the settings table). A scheduled run finding no org that
// uses LDAP records nothing and counts the interval again from then.
package dirsync
