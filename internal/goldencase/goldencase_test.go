package goldencase_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tychoctl/tycho/internal/goldencase"
)

const archive = `A case read from standard input with a variable.
  args: -f - --network-policy none
env TAG=1.27
env EMPTY=
stdin: in.yaml
-- in.yaml --
name: app
services:
  web:
    image: nginx:${TAG}
-- sub/other.yaml --
x
-- want/manifests.yaml --
not an input
`

// TestCase: Load reads the comment's lines, Extract writes the inputs
// but not want/, and Compile runs tycho compile with them.
func TestCase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "stdin-env.txtar")
	if err := os.WriteFile(path, []byte(archive), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := goldencase.Load(t, filepath.Join(dir, "*.txtar"))
	if len(cases) != 1 {
		t.Fatalf("%d cases, want 1", len(cases))
	}
	c := cases[0]
	want := goldencase.Case{Name: "stdin-env", Path: path, Args: []string{"-f", "-", "--network-policy", "none"},
		Env: map[string]string{"TAG": "1.27", "EMPTY": ""}, Stdin: "in.yaml"}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreFields(goldencase.Case{}, "Archive")); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if n := len(c.Archive.Files); n != 3 {
		t.Errorf("%d files in the archive, want 3", n)
	}

	work, stdin := c.Extract(t)
	if !strings.HasPrefix(string(stdin), "name: app\n") {
		t.Errorf("stdin = %q, want in.yaml", stdin)
	}
	for name, wantExists := range map[string]bool{"in.yaml": true, "sub/other.yaml": true, "want": false} {
		if _, err := os.Stat(filepath.Join(work, name)); (err == nil) != wantExists {
			t.Errorf("%s: exists %v, want %v (%v)", name, err == nil, wantExists, err)
		}
	}

	stdout, stderr, code := c.Compile(t, work, stdin)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "image: nginx:1.27\n") {
		t.Errorf("the environment and stdin are not those of the case:\n%s", stdout)
	}
	if strings.Contains(stdout, "kind: NetworkPolicy") {
		t.Errorf("the case's arguments were not given:\n%s", stdout)
	}
	stdout, _, code = c.Compile(t, work, stdin, "-o", "json")
	if code != 0 || !strings.HasPrefix(stdout, "{") {
		t.Errorf("-o json after the case's arguments: exit %d, output:\n%s", code, stdout)
	}
}
