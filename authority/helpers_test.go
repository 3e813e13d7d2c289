package authority_test

import (
	"os"
	"testing"

	"github.com/authority-server/authority/orgs"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func orgsInput(name string) orgs.Input { return orgs.Input{Name: &name} }
