package compiler_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tychoctl/tycho/cmd"
)

// TestExamples compiles every example of the README with --strict: the
// examples a user tries first compile without a single warning.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../examples/*/compose.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			t.Parallel()
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			root := cmd.NewRootCommand(cmd.Streams{Out: &out, Err: &errb}, cmd.Deps{Env: map[string]string{}, WorkDir: filepath.Dir(abs)})
			if code := cmd.Execute(root, []string{"compile", "--strict", "-f", abs}, &errb); code != 0 {
				t.Fatalf("exit %d:\n%s", code, errb.String())
			}
			if !strings.Contains(out.String(), "kind: Deployment") {
				t.Errorf("no Deployment in the output")
			}
			if errb.Len() > 0 {
				t.Errorf("diagnostics on stderr:\n%s", errb.String())
			}
		})
	}
}
