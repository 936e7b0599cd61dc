package goldencase

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/tychoctl/tycho/cmd"
)

// Case is one golden case: a txtar archive and what its comment says.
type Case struct {
	// Name is the file name without .txtar.
	Name string
	// Path is the archive's file, for -update.
	Path    string
	Archive *txtar.Archive
	// Args are the arguments of tycho compile.
	Args []string
	// Env is the environment tycho sees.
	Env map[string]string
	// Stdin names the input file given on standard input, if any.
	Stdin string
}

// Load reads the cases that glob matches; it fails the test when none do.
func Load(t testing.TB, glob string) []Case {
	t.Helper()
	paths, err := filepath.Glob(glob)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden cases in %s: %v", glob, err)
	}
	var cases []Case
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(p), ".txtar"), Path: p, Archive: a, Env: map[string]string{}}
		for _, line := range strings.Split(string(a.Comment), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "args:"):
				c.Args = strings.Fields(strings.TrimPrefix(line, "args:"))
			case strings.HasPrefix(line, "env "):
				k, v, _ := strings.Cut(strings.TrimPrefix(line, "env "), "=")
				c.Env[k] = v
			case strings.HasPrefix(line, "stdin:"):
				c.Stdin = strings.TrimSpace(strings.TrimPrefix(line, "stdin:"))
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// Extract writes the case's inputs (its files outside want/) into a new
// temporary directory and returns it with the data of the stdin file.
func (c Case) Extract(t testing.TB) (dir string, stdin []byte) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range c.Archive.Files {
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
		if f.Name == c.Stdin {
			stdin = f.Data
		}
	}
	return dir, stdin
}

// Compile runs tycho compile in-process in dir, with the case's arguments
// followed by more, its environment and stdin.
func (c Case) Compile(t testing.TB, dir string, stdin []byte, more ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	streams := cmd.Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb}
	root := cmd.NewRootCommand(streams, cmd.Deps{Env: c.Env, WorkDir: dir})
	code = cmd.Execute(root, append(append([]string{"compile"}, c.Args...), more...), &errb)
	return out.String(), errb.String(), code
}
