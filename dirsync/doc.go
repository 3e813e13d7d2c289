// Package dirsync is the directory synchronization job (DIRSYNC): scheduled,
// manual and simulated runs, their history, the DIRSYNC:: log lines and the
// summary email.
package dirsync
