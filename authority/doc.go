// Package authority is the composition root of the authority server: it reads
// the configuration, opens the SQLite database and applies its migrations,
// builds every service and wires them to the web server, the scheduler and
// the log.
package authority
