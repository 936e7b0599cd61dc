package compiler_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/tychoctl/tycho/cmd"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/compile")

// goldenCase is one testdata/compile/*.txtar: the comment holds the
// command line ("tycho compile ..." arguments) and "env NAME=VALUE" lines;
// the files are the inputs and want/manifests.yaml, want/diagnostics.txt.
type goldenCase struct {
	name    string
	path    string
	archive *txtar.Archive
	args    []string
	env     map[string]string
	stdin   string
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	paths, err := filepath.Glob("../testdata/compile/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden cases in testdata/compile")
	}
	var cases []goldenCase
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := goldenCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), path: p, archive: a, env: map[string]string{}}
		for _, line := range strings.Split(string(a.Comment), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "args:"):
				c.args = strings.Fields(strings.TrimPrefix(line, "args:"))
			case strings.HasPrefix(line, "env "):
				k, v, _ := strings.Cut(strings.TrimPrefix(line, "env "), "=")
				c.env[k] = v
			case strings.HasPrefix(line, "stdin:"):
				c.stdin = strings.TrimSpace(strings.TrimPrefix(line, "stdin:"))
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// run extracts the inputs into a directory and runs tycho compile there.
func (c goldenCase) run(t *testing.T) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	var stdin []byte
	for _, f := range c.archive.Files {
		if strings.HasPrefix(f.Name, "want/") {
			continue
		}
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if f.Name == c.stdin {
			stdin = f.Data
		}
	}
	var out, errb bytes.Buffer
	streams := cmd.Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb}
	root := cmd.NewRootCommand(streams, cmd.Deps{Env: c.env, WorkDir: dir})
	code = cmd.Execute(root, append([]string{"compile"}, c.args...), &errb)
	return out.String(), strings.ReplaceAll(errb.String(), dir, "$WORK"), code
}

func (c goldenCase) file(name string) (string, bool) {
	for _, f := range c.archive.Files {
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
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := c.run(t)
			again, stderr2, code2 := c.run(t)
			if stdout != again || stderr != stderr2 || code != code2 {
				t.Fatalf("two compiles differ: the output is not deterministic")
			}
			if strings.Contains(stderr, "panic") {
				t.Fatalf("tycho panicked:\n%s", stderr)
			}
			diagText := stderr + "exit " + strconv.Itoa(code) + "\n"
			if *update {
				c.write(t, stdout, diagText)
				return
			}
			want, _ := c.file("want/manifests.yaml")
			if diff := cmp.Diff(want, stdout); diff != "" {
				t.Errorf("manifests (-want +got):\n%s", diff)
			}
			wantDiag, _ := c.file("want/diagnostics.txt")
			if diff := cmp.Diff(wantDiag, diagText); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			// `# want "regex"` on an input line: a diagnostic at that line
			// must match.
			for _, f := range c.archive.Files {
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

func (c goldenCase) write(t *testing.T, manifests, diags string) {
	t.Helper()
	var files []txtar.File
	for _, f := range c.archive.Files {
		if !strings.HasPrefix(f.Name, "want/") {
			files = append(files, f)
		}
	}
	files = append(files, txtar.File{Name: "want/manifests.yaml", Data: []byte(manifests)}, txtar.File{Name: "want/diagnostics.txt", Data: []byte(diags)})
	c.archive.Files = files
	if err := os.WriteFile(c.path, txtar.Format(c.archive), 0o644); err != nil {
		t.Fatal(err)
	}
}
