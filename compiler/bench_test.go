package compiler_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/internal/srcmap"
	"github.com/tychoctl/tycho/policy"
)

// genScript writes synthetic compose systems of N services.
var genScript = filepath.Join("..", "..", "shared", "tools", "gen_compose.py")

// benchSizes are the numbers of services of the synthetic systems.
var benchSizes = []int{10, 100, 1000, 5000}

// genCompose writes `gen_compose.py n --profile profile` to dir/compose.yaml.
func genCompose(b *testing.B, dir string, n int, profile string) string {
	b.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		b.Skipf("python3 not found: cannot generate synthetic systems: %v", err)
	}
	if _, err := os.Stat(genScript); err != nil {
		b.Skipf("generator %s not found (it lives beside the repository in shared/tools): %v", genScript, err)
	}
	out, err := exec.Command(python, genScript, strconv.Itoa(n), "--profile", profile).Output()
	if err != nil {
		b.Fatalf("%s %d --profile %s: %v", genScript, n, profile, err)
	}
	p := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkStages measures each stage of a compile, and the whole, on
// synthetic systems: BenchmarkStages/<profile>/<services>/<stage>.
// Stages: load (read + compose-go + source map), srcmap (the source map
// alone, Tycho's part of load), lower (Lower + Check),
// weave (policy.Default), generate (Kubernetes objects), print (YAML),
// afterload (lower, weave, generate and print in one: Tycho's own work
// after loading, to set against load minus srcmap), and compile
// (compiler.Compile + Print: what `tycho compile` does).
// ns/service is reported so that superlinear stages stand out.
func BenchmarkStages(b *testing.B) {
	ctx := context.Background()
	for _, profile := range []string{"simple", "rich"} {
		b.Run(profile, func(b *testing.B) {
			for _, n := range benchSizes {
				b.Run(strconv.Itoa(n), func(b *testing.B) {
					dir := b.TempDir()
					genCompose(b, dir, n, profile)
					opts := defaultOptions()
					opts.Load = compiler.LoadOptions{WorkDir: dir, Files: []string{"compose.yaml"}, Env: map[string]string{}}

					load := func(b *testing.B) *compiler.Loaded {
						l, diags, err := compiler.Load(ctx, opts.Load)
						if err != nil || diags.HasErrors() {
							b.Fatalf("load: %v %v", err, diags)
						}
						return l
					}
					lower := func(b *testing.B, l *compiler.Loaded) *ast.System {
						sys, diags := compiler.Lower(l, opts.Lower)
						diags = append(diags, compiler.Check(sys)...)
						if diags.HasErrors() {
							b.Fatalf("lower: %v", diags)
						}
						return sys
					}
					weave := func(b *testing.B, sys *ast.System) {
						if _, err := policy.Weave(sys, policy.Default(), opts.Policy); err != nil {
							b.Fatal(err)
						}
					}
					perService := func(b *testing.B) {
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/service")
					}

					// the inputs of each stage are made lazily, so that running
					// one stage (-bench .../print) does not run the others
					var (
						loaded *compiler.Loaded
						woven  *ast.System
						objs   []kubernetes.Object
					)
					getLoaded := func(b *testing.B) *compiler.Loaded {
						if loaded == nil {
							loaded = load(b)
						}
						return loaded
					}
					getWoven := func(b *testing.B) *ast.System {
						if woven == nil {
							woven = lower(b, getLoaded(b))
							weave(b, woven)
						}
						return woven
					}
					getObjs := func(b *testing.B) []kubernetes.Object {
						if objs == nil {
							objs, _ = kubernetes.Generate(getWoven(b), opts.Backend)
						}
						return objs
					}

					b.Run("load", func(b *testing.B) {
						for range b.N {
							load(b)
						}
						perService(b)
					})
					b.Run("srcmap", func(b *testing.B) {
						content, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
						if err != nil {
							b.Fatal(err)
						}
						b.ResetTimer()
						for range b.N {
							srcmap.Parse("compose.yaml", content)
						}
						perService(b)
					})
					b.Run("lower", func(b *testing.B) {
						l := getLoaded(b)
						b.ResetTimer()
						for range b.N {
							lower(b, l)
						}
						perService(b)
					})
					b.Run("weave", func(b *testing.B) {
						l := getLoaded(b)
						b.ResetTimer()
						for range b.N {
							// weavers mutate the system: each run gets a fresh one
							b.StopTimer()
							sys := lower(b, l)
							b.StartTimer()
							weave(b, sys)
						}
						perService(b)
					})
					b.Run("generate", func(b *testing.B) {
						sys := getWoven(b)
						b.ResetTimer()
						for range b.N {
							objs, _ = kubernetes.Generate(sys, opts.Backend)
						}
						perService(b)
					})
					b.Run("print", func(b *testing.B) {
						objs := getObjs(b)
						b.ResetTimer()
						for range b.N {
							if err := kubernetes.Print(io.Discard, objs, kubernetes.YAML); err != nil {
								b.Fatal(err)
							}
						}
						perService(b)
					})
					// everything Tycho does after compose-go's load, as one
					// figure to set against load (the ≤10 % target)
					b.Run("afterload", func(b *testing.B) {
						l := getLoaded(b)
						b.ResetTimer()
						for range b.N {
							sys := lower(b, l)
							weave(b, sys)
							objs, _ := kubernetes.Generate(sys, opts.Backend)
							if err := kubernetes.Print(io.Discard, objs, kubernetes.YAML); err != nil {
								b.Fatal(err)
							}
						}
						perService(b)
					})
					// free the stages' data before the whole compile
					loaded, woven, objs = nil, nil, nil
					b.Run("compile", func(b *testing.B) {
						for range b.N {
							res, err := compiler.Compile(ctx, opts)
							if err != nil {
								b.Fatal(err)
							}
							if res.Diags.HasErrors() {
								b.Fatalf("compile: %v", res.Diags)
							}
							if err := kubernetes.Print(io.Discard, res.Objects, kubernetes.YAML); err != nil {
								b.Fatal(err)
							}
						}
						perService(b)
					})
				})
			}
		})
	}
}
