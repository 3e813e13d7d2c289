package scimapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// conformanceDir holds the independent checker (check.js, on SCIMMY).
const conformanceDir = "testdata/conformance"

// checkIndependently has testdata/conformance/check.js read every answer
// against RFC 7643's schemas. Without node or npm it skips (and fails
// under CI, where scripts/test.sh installs them); a missing node_modules is
// installed from package-lock.json first.
func checkIndependently(t *testing.T, answers []answer) {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if nerr != nil || perr != nil {
		msg := "node and npm are needed for the independent SCIM check: install Node.js, then: cd provisioning/scimapi/" + conformanceDir + " && npm ci"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(filepath.Join(conformanceDir, "node_modules", "scimmy")); err != nil {
		cmd := exec.Command(npm, "ci", "--offline", "--no-audit", "--no-fund")
		cmd.Dir = conformanceDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("npm ci --offline: %v\n%s", err, out)
			cmd = exec.Command(npm, "ci", "--no-audit", "--no-fund")
			cmd.Dir = conformanceDir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm ci in %s: %v\n%s", conformanceDir, err, out)
			}
		}
	}
	raw, err := json.MarshalIndent(answers, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "answers.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "check.js", file)
	cmd.Dir = conformanceDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the independent SCIM check (node check.js) refuses our answers: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
