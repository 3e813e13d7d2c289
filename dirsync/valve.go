package dirsync

import "github.com/authority-server/authority/ldapauth"

// Valve is the safety valve's threshold: a run that would deactivate more
// than Percent % of the users in scope and more than MinUsers users
// deactivates nobody. Its settings and their defaults live with the other
// sync settings in ldapauth.Settings.
type Valve struct {
	Percent  int
	MinUsers int
}

// valveOf returns the valve the settings set.
func valveOf(st ldapauth.Settings) Valve {
	return Valve{Percent: st.ValvePercent, MinUsers: st.ValveMinUsers}
}

// Trips reports whether deactivating identified of inScope users exceeds v.
func (v Valve) Trips(identified, inScope int) bool {
	return identified*100 > v.Percent*inScope && identified > v.MinUsers
}
