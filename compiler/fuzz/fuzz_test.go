// Package fuzz holds FuzzCompile apart from the compiler's other tests, so
// that the fuzz binary instruments only what Compile runs (not the CLI and
// client-go the golden tests import): a cold fuzz build stays short.
package fuzz

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
)

// fuzzMaxInput bounds an input: the run time of a compile grows with the
// file, and a file this size already holds every shape of key; a larger
// input would only slow the search (a hang is caught by the fuzz
// engine's timeout, whatever the size).
const fuzzMaxInput = 64 << 10

// corpusDir is the public compose corpus beside the repository.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus")

// fileLevelCodes are the error codes that are about a whole file, not a
// place in it, and so may have no line (documented in docs/fuzzing.md).
var fileLevelCodes = map[string]bool{}

// internals are texts of libraries that must never reach the user.
var internals = []string{
	"goroutine ", "panic:", "interface {}", "interface{}", "time.Time", "map[string]",
	"yaml: unmarshal errors", "decoding failed due to", "[]interface", "float64", "uint64",
	"strconv.", "mapstructure",
}

// FuzzCompile compiles mutated compose files: Compile never panics, and
// every error it reports has a line and a column, a code and a message
// free of library internals. Seeds: the compose files of the golden
// cases and of the public corpus (when present).
//
//	go test ./compiler/fuzz -run XXX -fuzz FuzzCompile -fuzztime 30s
func FuzzCompile(f *testing.F) {
	goldens, _ := filepath.Glob("../../testdata/compile/*.txtar")
	for _, p := range goldens {
		a, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			if strings.HasSuffix(file.Name, ".yaml") && !strings.HasPrefix(file.Name, "want/") {
				f.Add(file.Data)
			}
		}
	}
	_ = filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			if b, err := os.ReadFile(p); err == nil && len(b) <= fuzzMaxInput {
				f.Add(b)
			}
		}
		return nil
	})
	// the reproducers of the panics, hangs and lost positions found by
	// mutation fuzzing (issue 11)
	for _, s := range fuzzRegressions {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		res, err := compiler.Compile(context.Background(), compiler.Options{
			Load: compiler.LoadOptions{
				Sources: []compiler.Source{{Name: "compose.yaml", Content: data}},
				WorkDir: dir,
				Env:     map[string]string{},
			},
		})
		if err != nil {
			return // I/O and options, not the input's mistakes
		}
		for _, d := range res.Diags {
			if msg := checkDiagnostic(d, dir); msg != "" {
				t.Errorf("%s: %s", msg, d)
			}
		}
	})
}

// checkDiagnostic says what is wrong with a diagnostic of a compile of
// compose.yaml in dir, or "".
func checkDiagnostic(d diag.Diagnostic, dir string) string {
	if d.Severity != diag.Error {
		return ""
	}
	switch {
	case d.Code == "load-internal":
		return "compose-go panicked on a value precheck does not catch"
	case d.Code == "":
		return "no code"
	case d.Pos.File != "compose.yaml":
		return "not positioned in compose.yaml"
	case (d.Pos.Line <= 0 || d.Pos.Col <= 0) && !fileLevelCodes[d.Code]:
		return "no line:col"
	case d.Code == "compose-load" && d.Path == "" && d.Pos.Line == 1 && d.Pos.Col == 1:
		return "a compose-go message errors.go does not map (placed at the file's start)"
	case strings.Contains(d.Msg, dir):
		return "the machine's path in the message"
	}
	for _, s := range internals {
		if strings.Contains(d.Msg, s) {
			return "library internals (" + s + ") in the message"
		}
	}
	return ""
}

// fuzzRegressions are one-line reproducers of what mutation fuzzing found.
var fuzzRegressions = []string{
	"services:\n  web:\n    image: nginx\n    pid: null\n",
	"services:\n  web:\n    image: nginx\n    ulimits:\n      nofile: 1e9\n",
	"services:\n  web:\n    image: nginx\n    ulimits:\n      nofile: 9223372036854775808\n",
	"services:\n  web:\n    image: nginx\n    ulimits:\n      nofile: {soft: 2001-12-14, hard: 1}\n",
	"services:\n  web:\n    image: nginx\n    configs: [{source: c, target: true}]\nconfigs:\n  c:\n    content: x\n",
	"services:\n  web:\n    image: nginx\n    secrets: [{source: c, target: 99999999999999999999999}]\nsecrets:\n  c:\n    content: x\n",
	"services:\n  web:\n    image: nginx\n    configs: [{source: c, target: {a: b}}]\nconfigs:\n  c:\n    content: x\n",
	"services:\n  web:\n    image: nginx\n    command: [2001-12-14]\n",
	"services:\n  web:\n    image: nginx\n    depends_on: [2001-12-14]\n",
	"services:\n  web:\n    image: nginx\n    networks: [2001-12-14]\n",
	"services:\n  web:\n    image: nginx\n    build:\n      context: 2001-12-14\n",
	"services:\n  web:\n    image: nginx\n    env_file: /dev/zero\n",
	"services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    file: /dev/urandom\n",
	"services:\n  web:\n    image: nginx\n    dns: [::1]\n    ports: 80\n",
}
