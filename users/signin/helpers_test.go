package signin_test

import (
	"encoding/json"
	"strconv"

	"github.com/authority-server/authority/users"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func usersFilterAll() users.Filter { return users.Filter{} }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// optional returns nil for "" (the field is left at its default), else &s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
