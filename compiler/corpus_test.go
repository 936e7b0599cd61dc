package compiler_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/policy"
)

// corpusDir is the public compose corpus shared by the project (outside the
// module: /work/shared/corpus next to the repository).
var corpusDir = filepath.Join("..", "..", "shared", "corpus")

// corpusUnit is one row of LOADCHECK.md's per-unit table: one file, or
// several joined with "+" that load together like `docker compose -f a -f b`.
type corpusUnit struct {
	name  string   // as written in the table
	files []string // relative to corpusDir
	ok    bool     // compose-go loads it
	msg   string   // compose-go's error, when it does not
}

// loadCheck parses the "## Per unit" table of LOADCHECK.md.
func loadCheck(t testing.TB, dir string) []corpusUnit {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "LOADCHECK.md"))
	if err != nil {
		t.Fatalf("corpus without LOADCHECK.md: %v", err)
	}
	defer f.Close()
	var units []corpusUnit
	inTable := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inTable = strings.HasPrefix(line, "## Per unit")
			continue
		}
		if !inTable || !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		// "", unit, loads, services, keys, anchors, message, ""
		if len(cols) < 8 {
			t.Fatalf("LOADCHECK.md: unexpected row %q", line)
		}
		name := strings.Trim(strings.TrimSpace(cols[1]), "`")
		u := corpusUnit{name: name, msg: strings.TrimSpace(strings.Join(cols[6:len(cols)-1], "|"))}
		for _, p := range strings.Split(name, "+") {
			u.files = append(u.files, strings.Trim(strings.TrimSpace(p), "`"))
		}
		switch loads := strings.TrimSpace(cols[2]); loads {
		case "OK":
			u.ok = true
		case "**ERROR**":
		default:
			t.Fatalf("LOADCHECK.md: unit %s: unknown load result %q", name, loads)
		}
		units = append(units, u)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Fatal("LOADCHECK.md: no per-unit table")
	}
	return units
}

// defaultOptions are the options `tycho compile` uses without flags.
func defaultOptions() compiler.Options {
	return compiler.Options{
		Lower:  compiler.LowerOptions{Bind: compiler.BindCopy, VolumeSize: compiler.DefaultVolumeSize, Expose: ast.ExposeLoadBalancer},
		Policy: policy.Options{Network: "default", Security: "baseline"},
	}
}

// unitOptions loads the files of u from the directory of the first one,
// with an empty environment so that no variable of the test process leaks
// into interpolation, and all profiles, as LOADCHECK.md did.
func unitOptions(u corpusUnit) compiler.Options {
	opts := defaultOptions()
	dir := filepath.Join(corpusDir, filepath.FromSlash(filepath.Dir(u.files[0])))
	opts.Load.WorkDir = dir
	opts.Load.Env = map[string]string{}
	opts.Load.Profiles = []string{"*"}
	for _, f := range u.files {
		rel, err := filepath.Rel(dir, filepath.Join(corpusDir, filepath.FromSlash(f)))
		if err != nil {
			rel = filepath.Join(corpusDir, f)
		}
		opts.Load.Files = append(opts.Load.Files, rel)
	}
	return opts
}

// compileSafely runs compiler.Compile and turns a panic into an error.
func compileSafely(opts compiler.Options) (res *compiler.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return compiler.Compile(context.Background(), opts)
}

var namesLine = regexp.MustCompile(`\bline \d+`)

func skipWithoutCorpus(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(corpusDir, "LOADCHECK.md")); err != nil {
		t.Skipf("public corpus not found at %s (it lives beside the repository in shared/corpus): %v", corpusDir, err)
	}
}

// TestCorpus compiles every compose file of the public corpus: what
// compose-go loads must compile without errors; what it rejects must be
// reported as a positioned error diagnostic, never a panic.
func TestCorpus(t *testing.T) {
	t.Parallel()
	skipWithoutCorpus(t)
	units := loadCheck(t, corpusDir)
	type outcome struct {
		name          string
		ok, compiled  bool
		errs, warns   int
		objects       int
		positionedErr bool
	}
	results := make(chan outcome, len(units))
	t.Run("units", func(t *testing.T) {
		for _, u := range units {
			t.Run(u.name, func(t *testing.T) {
				t.Parallel()
				o := outcome{name: u.name, ok: u.ok}
				defer func() { results <- o }()
				res, err := compileSafely(unitOptions(u))
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				o.errs, o.warns, o.objects = res.Diags.Count(diag.Error), res.Diags.Count(diag.Warning), len(res.Objects)
				if u.ok {
					if res.Diags.HasErrors() {
						t.Errorf("compose-go loads %s, but Tycho reports errors:\n%s", u.name, diagText(res.Diags))
						return
					}
					if len(res.Objects) == 0 {
						t.Errorf("compose-go loads %s, but Tycho produced no objects", u.name)
					}
					o.compiled = true
					return
				}
				if !res.Diags.HasErrors() {
					t.Errorf("compose-go rejects %s (%s), but Tycho reports no error:\n%s", u.name, u.msg, diagText(res.Diags))
					return
				}
				if res.Objects != nil {
					t.Errorf("objects produced despite errors")
				}
				for _, d := range res.Diags {
					if d.Severity != diag.Error {
						continue
					}
					if d.Pos.File == "" {
						t.Errorf("error diagnostic without a file: %s", d)
						continue
					}
					if (namesLine.MatchString(u.msg) || namesLine.MatchString(d.Msg)) && d.Pos.Line <= 0 {
						t.Errorf("the message names a line but the diagnostic has none: %s (compose-go: %s)", d, u.msg)
						continue
					}
					o.positionedErr = true
				}
			})
		}
	})
	close(results)
	var okUnits, compiled, rejected, reported, objects int
	for o := range results {
		objects += o.objects
		if o.ok {
			okUnits++
			if o.compiled {
				compiled++
			}
			continue
		}
		rejected++
		if o.positionedErr {
			reported++
		}
	}
	t.Logf("corpus: %d units; compose-go loads %d, Tycho compiles %d of them without errors (%d objects); compose-go rejects %d, Tycho reports %d of them with a positioned error",
		len(units), okUnits, compiled, objects, rejected, reported)
}

func diagText(l diag.List) string {
	var b strings.Builder
	_ = l.WriteText(&b)
	return b.String()
}
