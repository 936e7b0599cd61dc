package compiler_test

import (
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/tychoctl/tycho/internal/goldencase"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/compile")

// loadGolden reads the cases of testdata/compile.
func loadGolden(t testing.TB) []goldencase.Case {
	t.Helper()
	return goldencase.Load(t, "../testdata/compile/*.txtar")
}

// run extracts the inputs of c into a directory and runs tycho compile
// there; the directory is $WORK in stderr.
func run(t *testing.T, c goldencase.Case) (stdout, stderr string, code int) {
	t.Helper()
	dir, stdin := c.Extract(t)
	stdout, stderr, code = c.Compile(t, dir, stdin)
	return stdout, strings.ReplaceAll(stderr, dir, "$WORK"), code
}

// file is the data of the archive's file name.
func file(c goldencase.Case, name string) (string, bool) {
	for _, f := range c.Archive.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

var wantRe = regexp.MustCompile(`#\s*want\s+"([^"]*)"`)

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := run(t, c)
			again, stderr2, code2 := run(t, c)
			if stdout != again || stderr != stderr2 || code != code2 {
				t.Fatalf("two compiles differ: the output is not deterministic")
			}
			if strings.Contains(stderr, "panic") {
				t.Fatalf("tycho panicked:\n%s", stderr)
			}
			diagText := stderr + "exit " + strconv.Itoa(code) + "\n"
			if *update {
				write(t, c, stdout, diagText)
				return
			}
			want, _ := file(c, "want/manifests.yaml")
			if diff := cmp.Diff(want, stdout); diff != "" {
				t.Errorf("manifests (-want +got):\n%s", diff)
			}
			wantDiag, _ := file(c, "want/diagnostics.txt")
			if diff := cmp.Diff(wantDiag, diagText); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			// `# want "regex"` on an input line: a diagnostic at that line
			// must match.
			for _, f := range c.Archive.Files {
				if strings.HasPrefix(f.Name, "want/") {
					continue
				}
				for i, line := range strings.Split(string(f.Data), "\n") {
					m := wantRe.FindStringSubmatch(line)
					if m == nil {
						continue
					}
					re := regexp.MustCompile(m[1])
					prefix := f.Name + ":" + strconv.Itoa(i+1) + ":"
					found := false
					for _, d := range strings.Split(stderr, "\n") {
						if strings.HasPrefix(d, prefix) && re.MatchString(d) {
							found = true
						}
					}
					if !found {
						t.Errorf("%s:%d: no diagnostic matches %q; got:\n%s", f.Name, i+1, m[1], stderr)
					}
				}
			}
		})
	}
}

// write replaces the want/ files of c.
func write(t *testing.T, c goldencase.Case, manifests, diags string) {
	t.Helper()
	var files []txtar.File
	for _, f := range c.Archive.Files {
		if !strings.HasPrefix(f.Name, "want/") {
			files = append(files, f)
		}
	}
	files = append(files, txtar.File{Name: "want/manifests.yaml", Data: []byte(manifests)}, txtar.File{Name: "want/diagnostics.txt", Data: []byte(diags)})
	c.Archive.Files = files
	if err := os.WriteFile(c.Path, txtar.Format(c.Archive), 0o644); err != nil {
		t.Fatal(err)
	}
}
