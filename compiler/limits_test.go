package compiler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// mergeChain is the merge-key bomb of issue 15: each level holds three
// mappings that merge the level below, used by one service label.
func mergeChain(depth int) string {
	var b strings.Builder
	b.WriteString("x-0: &m0 {a: 1}\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "x-%d: &m%d {b0: {<<: *m%d}, b1: {<<: *m%d}, b2: {<<: *m%d}}\n", i, i, i-1, i-1, i-1)
	}
	fmt.Fprintf(&b, "services:\n  web:\n    image: nginx\n    labels:\n      x: *m%d\n", depth)
	return b.String()
}

// nestedLists is depth flow lists, one inside the other, under a service.
func nestedLists(depth int) string {
	return "services:\n  web:\n    image: nginx\n    x-n: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
}

func compileSource(t testing.TB, src string, env map[string]string) *compiler.Result {
	t.Helper()
	opts := defaultOptions()
	opts.Load = compiler.LoadOptions{WorkDir: t.TempDir(), Sources: []compiler.Source{{Name: "compose.yaml", Content: []byte(src)}}, Env: env}
	res, err := compiler.Compile(context.Background(), opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return res
}

// TestLoadLimits: a file whose expansion, nesting or port ranges would make
// loading explode is refused with one positioned error, before compose-go
// expands it, and nothing is produced. The work bound itself is tested in
// internal/srcmap (TestLimit counts the nodes visited).
func TestLoadLimits(t *testing.T) {
	t.Parallel()
	type want struct {
		code, path string
		line, col  int
	}
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want want
	}{
		{"merge chain of 12", mergeChain(12), nil, want{"yaml-expansion", "", 7, 31}},
		{"merge chain of 24", mergeChain(24), nil, want{"yaml-expansion", "", 7, 31}},
		{"merge key into its own anchor", "x-a: &a {<<: *a}\nservices:\n  web:\n    image: nginx\n", nil, want{"yaml-alias-cycle", "", 1, 14}},
		{"alias in its own anchor", "services:\n  web:\n    image: nginx\n    x-a: &a [1, *a]\n", nil, want{"yaml-alias-cycle", "", 4, 17}},
		{"nesting of 2000 lists", nestedLists(2000), nil, want{"yaml-depth", "", 4, 107}},
		{
			"billion laughs",
			"x-a: &a [x, x, x, x, x, x, x, x, x, x]\nx-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nx-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nx-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nservices:\n  web:\n    image: nginx\n",
			nil, want{"yaml-expansion", "", 4, 18},
		},
		{
			"published range of every port",
			"services:\n  web:\n    image: nginx\n    ports: [\"1-65535:1-65535\"]\n",
			nil, want{"port-range", "services.web.ports.0", 4, 13},
		},
		{
			"container range with an address and protocol",
			"services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n      - \"127.0.0.1:5000-5100:5000-5100/udp\"\n",
			nil, want{"port-range", "services.web.ports.1", 6, 9},
		},
		{
			// a variable makes the entry: positioned at the list
			"range from a variable",
			"services:\n  web:\n    image: nginx\n    ports:\n      - \"${RANGE}\"\n",
			map[string]string{"RANGE": "1000-2000"}, want{"port-range", "services.web.ports", 4, 5},
		},
		{
			// Tycho ignores jobs, compose-go expands their ranges
			"range in a job",
			"jobs:\n  j:\n    image: nginx\n    ports: [\"1-65535:1-65535\"]\nservices:\n  web:\n    image: nginx\n",
			nil, want{"port-range", "jobs.j.ports.0", 4, 13},
		},
		{
			"expose range of 101 ports",
			"services:\n  web:\n    image: nginx\n    expose: [\"1000-1100\"]\n",
			nil, want{"port-range", "services.web.expose.0", 4, 14},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := compileSource(t, tt.src, tt.env)
			if res.Objects != nil {
				t.Errorf("got %d objects, want none", len(res.Objects))
			}
			var got []want
			for _, d := range res.Diags {
				if d.Severity == diag.Error {
					got = append(got, want{d.Code, d.Path, d.Pos.Line, d.Pos.Col})
					if d.Pos.File != "compose.yaml" {
						t.Errorf("error in file %q, want compose.yaml", d.Pos.File)
					}
					if strings.Contains(d.Msg, "yaml:") || strings.Contains(d.Msg, "go-yaml") {
						t.Errorf("message %q shows library internals", d.Msg)
					}
				}
			}
			if diff := cmp.Diff([]want{tt.want}, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("errors (-want +got):\n%s\n%v", diff, res.Diags)
			}
		})
	}
}

// TestCheckLimits: the check Load makes, for callers that decode a
// document before compiling it, gives the same error without loading.
func TestCheckLimits(t *testing.T) {
	t.Parallel()
	got := compiler.CheckLimits([]compiler.Source{
		{Name: "ok.yaml", Content: []byte("services:\n  web:\n    image: nginx\n")},
		{Name: "bomb.yaml", Content: []byte(mergeChain(24))},
	})
	want := diag.List{{Severity: diag.Error, Code: "yaml-expansion", Pos: ast.Pos{File: "bomb.yaml", Line: 7, Col: 31}}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(diag.Diagnostic{}, "Msg")); diff != "" {
		t.Errorf("CheckLimits (-want +got):\n%s", diff)
	}
}

// TestPortRangeAtTheCap: ranges of exactly 100 ports compile, one port
// each, for ports and expose alike.
func TestPortRangeAtTheCap(t *testing.T) {
	t.Parallel()
	res := compileSource(t, "services:\n  web:\n    image: nginx\n    ports: [\"8000-8099:8000-8099\"]\n    expose: [\"9000-9099\"]\n", nil)
	if res.Diags.HasErrors() {
		t.Fatalf("errors: %v", res.Diags)
	}
	var published, exposed int
	for _, p := range res.System.Services[0].Ports {
		if p.Exposed {
			exposed++
		} else {
			published++
		}
	}
	if diff := cmp.Diff([2]int{100, 100}, [2]int{published, exposed}); diff != "" {
		t.Errorf("[published exposed] ports (-want +got):\n%s", diff)
	}
}

// TestExcessiveAliasingAgrees: srcmap applies the rule by which compose-go's
// YAML reader refuses a document of almost only alias copies (so that the
// error names the alias); it must refuse exactly the documents compose-go
// refuses, or it would reject files docker accepts.
func TestExcessiveAliasingAgrees(t *testing.T) {
	t.Parallel()
	laughs := func(depth, width, leaves int, mapping bool) string {
		list := strings.TrimSuffix(strings.Repeat("x, ", leaves), ", ")
		s := "x-0: &a0 [" + list + "]\n"
		if mapping {
			s = "x-0: &a0 {k: {k: [" + list + "]}}\n"
		}
		for i := 1; i <= depth; i++ {
			s += fmt.Sprintf("x-%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), width), ", "))
		}
		return s + "services:\n  web:\n    image: nginx\n"
	}
	// around the reader's thresholds: more than 100 copies, more than
	// 1000 nodes, more than 99% copies
	var cases [][4]int
	for _, d := range []int{1, 2, 3} {
		for _, w := range []int{3, 10, 24} {
			for _, l := range []int{1, 9, 30, 60} {
				for _, m := range []int{0, 1} {
					cases = append(cases, [4]int{d, w, l, m})
				}
			}
		}
	}
	refused := 0
	for _, c := range cases {
		src := laughs(c[0], c[1], c[2], c[3] == 1)
		lim := srcmap.Parse("c.yaml", []byte(src)).Limit()
		if lim != nil && !strings.Contains(lim.Msg, "copies") {
			continue // past the work bound: compose-go is not asked
		}
		details := types.ConfigDetails{WorkingDir: t.TempDir(), ConfigFiles: []types.ConfigFile{{Filename: "c.yaml", Content: []byte(src)}}, Environment: map[string]string{}}
		_, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
			o.SetProjectName("laughs", true)
			o.SkipConsistencyCheck = true
		})
		theirs := err != nil && strings.Contains(err.Error(), "excessive aliasing")
		if ours := lim != nil; ours != theirs {
			t.Errorf("depth %d width %d leaves %d mapping %v: Tycho refuses: %v (%v), compose-go refuses: %v (%v)", c[0], c[1], c[2], c[3] == 1, ours, lim, theirs, err)
		}
		if theirs {
			refused++
		}
	}
	if refused == 0 || refused == len(cases) {
		t.Errorf("compose-go refuses %d of %d cases: the cases do not straddle its rule", refused, len(cases))
	}
}

// BenchmarkLoadHostile shows that loading hostile files costs time linear
// in their nesting depth and in the length of their merge chains (ns/level
// stays flat as the depth doubles), where it was quadratic and exponential.
func BenchmarkLoadHostile(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		gen  func(int) string
	}{
		{"nesting", nestedLists},
		{"merge-chain", mergeChain},
	} {
		for _, depth := range []int{50, 100, 200, 400, 800, 1600, 3200} {
			src := []byte(c.gen(depth))
			b.Run(fmt.Sprintf("%s/%d", c.name, depth), func(b *testing.B) {
				opts := compiler.LoadOptions{WorkDir: b.TempDir(), Sources: []compiler.Source{{Name: "compose.yaml", Content: src}}, Env: map[string]string{}}
				for b.Loop() {
					l, _, err := compiler.Load(ctx, opts)
					if err != nil {
						b.Fatal(err)
					}
					if l != nil && depth >= 100 {
						b.Fatal("Load accepted the file, want a refusal")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(depth), "ns/level")
			})
		}
	}
}
