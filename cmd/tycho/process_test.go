package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// corpus is the public compose corpus beside the repository.
var corpus = filepath.Join("..", "..", "..", "shared", "corpus", "awesome-compose")

// BenchmarkProcess measures `tycho compile` as a user runs it: a fresh
// process per file, from the file's directory, output discarded, as
// kompose's figures in shared/reference/kompose.md were taken (kompose
// convert --stdout: 81 ms for a 2-service file, 84 ms for 4, 89 ms for 5,
// including ~15 ms of harness). Sub-benchmarks: start (`tycho version`),
// three files of those sizes, and every awesome-compose file in turn
// (reported per file).
func BenchmarkProcess(b *testing.B) {
	if _, err := os.Stat(corpus); err != nil {
		b.Skipf("public corpus not found at %s (it lives beside the repository in shared/corpus): %v", corpus, err)
	}
	bin := filepath.Join(b.TempDir(), "tycho")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(b *testing.B, dir string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("tycho %v in %s: %v\n%s", args, dir, err, out)
		}
	}
	perRun := func(b *testing.B, runs int) {
		b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N*runs), "ms/run")
	}
	b.Run("start", func(b *testing.B) {
		for range b.N {
			run(b, ".", "version")
		}
		perRun(b, 1)
	})
	for _, name := range []string{"flask-redis", "nginx-golang-postgres", "nginx-nodejs-redis"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				run(b, filepath.Join(corpus, name), "compile")
			}
			perRun(b, 1)
		})
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "compose.yaml"))
	b.Run("awesome-compose", func(b *testing.B) {
		for range b.N {
			for _, f := range files {
				run(b, filepath.Dir(f), "compile")
			}
		}
		perRun(b, len(files))
	})
}
