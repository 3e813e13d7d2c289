//go:build race

package web_test

// raceEnabled: the race detector is on (bcrypt is about 15 times slower).
const raceEnabled = true
