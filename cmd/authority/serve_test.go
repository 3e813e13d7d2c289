package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// `authority serve --trusted-proxies` refuses a list it cannot read, as a
// usage error naming the bad item, before opening anything.
func TestServeTrustedProxiesFlag(t *testing.T) {
	var out, errb bytes.Buffer
	err := run([]string{"serve", "--data", t.TempDir(), "--trusted-proxies", "10.0.0.0/8, proxy.example.com"}, &out, &errb)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), `"proxy.example.com" is not an IP address or CIDR prefix`) {
		t.Fatalf("err = %v, want a usage error naming the bad item", err)
	}
}
