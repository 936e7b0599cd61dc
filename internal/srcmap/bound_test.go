package srcmap

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/tychoctl/tycho/ast"
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

// laughs is a billion laughs: each level lists the level below width
// times.
func laughs(depth, width int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat("*a"+strconv.Itoa(i-1)+", ", width), ", "))
	}
	return b.String()
}

// nested is depth flow lists, one inside the other, under a service.
func nested(depth int) string {
	return "services:\n  web:\n    image: nginx\n    x-n: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
}

// blockNested is depth block mappings, one inside the other.
func blockNested(depth int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	fmt.Fprintf(&b, "%sleaf: 1\n", strings.Repeat(" ", depth))
	return b.String()
}

// sourceNodes counts the nodes of content as written (an alias is one
// node): the unit of the work bound of the tests.
func sourceNodes(t *testing.T, content string) int {
	t.Helper()
	n := 0
	var count func(*yaml.Node)
	count = func(x *yaml.Node) {
		n++
		if x.Kind != yaml.AliasNode {
			for _, c := range x.Content {
				count(c)
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(content))
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return n
		}
		count(&doc)
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	longKey := strings.Repeat("k", 900)
	tests := []struct {
		name string
		src  string
		// want is nil for a file within bounds
		want *LimitError
	}{
		{
			name: "anchors as real files use them",
			src: `x-common: &common
  restart: always
  environment: {A: "1", B: "2"}
  logging: {driver: json-file, options: {max-size: 10m}}
services:
  web: {<<: *common, image: nginx}
  db: {<<: *common, image: postgres, environment: *common}
`,
		},
		{name: "merge chain of 5", src: mergeChain(5)},
		{
			name: "merge chain of 12",
			src:  mergeChain(12),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 7, Col: 31}, Code: CodeExpansion},
		},
		{
			name: "merge chain of 24",
			src:  mergeChain(24),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 7, Col: 31}, Code: CodeExpansion},
		},
		{
			name: "merge of a list of anchors",
			src:  strings.Replace(mergeChain(12), "{<<: *m5}", "{<<: [*m5, *m5, *m5]}", 1),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 7, Col: 16}, Code: CodeExpansion},
		},
		{
			// almost only copies: compose-go's reader refuses it below
			// the bound, Tycho names the alias first
			name: "billion laughs",
			src:  laughs(9, 10),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 4, Col: 20}, Code: CodeExpansion},
		},
		{
			// enough plain nodes that copies stay under 99%
			name: "billion laughs past the bound",
			src:  "pad: [" + strings.TrimSuffix(strings.Repeat("x, ", 3000), ", ") + "]\n" + laughs(9, 10),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 5, Col: 35}, Code: CodeExpansion},
		},
		{
			name: "merge key into its own anchor",
			src:  "x-a: &a {<<: *a}\nservices:\n  web:\n    image: nginx\n",
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 1, Col: 14}, Code: CodeCycle},
		},
		{
			name: "alias in its own list",
			src:  "x-a: &a [1, *a]\n",
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 1, Col: 13}, Code: CodeCycle},
		},
		{
			name: "alias deep inside its own anchor",
			src:  "x-a: &a\n  b:\n    c: [1, {d: *a}]\n",
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 3, Col: 16}, Code: CodeCycle},
		},
		// services, web and x-n are three levels
		{name: "nesting at the bound", src: nested(MaxDepth - 3)},
		{
			name: "flow nesting past the bound",
			src:  nested(MaxDepth - 2),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 4, Col: 9 + MaxDepth - 2}, Code: CodeDepth},
		},
		{
			name: "flow nesting of 2000",
			src:  nested(2000),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 4, Col: 9 + MaxDepth - 2}, Code: CodeDepth},
		},
		{
			name: "block nesting past the bound",
			src:  blockNested(150),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: MaxDepth + 1, Col: MaxDepth + 1}, Code: CodeDepth},
		},
		{
			// each anchor is shallow, the alias puts one inside the other
			name: "nesting made by an alias",
			src:  "x-a: &a " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\nx-b: " + strings.Repeat("[", 50) + "*a" + strings.Repeat("]", 50) + "\n",
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 2, Col: 56}, Code: CodeDepth},
		},
		{
			// reported at the list item where the work crosses the bound
			name: "long keys above many nodes",
			src:  "x-" + longKey + ":\n  " + longKey + ":\n    a: [" + strings.TrimSuffix(strings.Repeat("x, ", 5000), ", ") + "]\n",
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 3, Col: 1701}, Code: CodeKeyPaths},
		},
		{
			// the bound is on the file: each document is within it
			// (merge chain of 5), the second crosses it
			name: "expansion spread over documents",
			src:  strings.Repeat("---\n"+mergeChain(5), 8),
			want: &LimitError{Pos: ast.Pos{File: "f.yaml", Line: 19, Col: 16}, Code: CodeExpansion},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idx := Parse("f.yaml", []byte(tt.src))
			got := idx.Limit()
			if got != nil && tt.want != nil {
				if got.Msg == "" || strings.Contains(got.Msg, "yaml:") {
					t.Errorf("message %q: want plain words", got.Msg)
				}
				// the message is checked for words, not letter by letter
				tt.want.Msg = got.Msg
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Limit() (-want +got):\n%s", diff)
			}
			// Measuring is linear: each source node is walked once, and
			// measured at most once more through each alias to it.
			if n := sourceNodes(t, tt.src); idx.bounds.visits > 3*n+3 {
				t.Errorf("measuring visited %d nodes for a source of %d: want at most %d", idx.bounds.visits, n, 3*n+3)
			}
		})
	}
}

// TestLimitWithinBound checks the work of a file at the bound is what
// the work model says: no file is refused below it.
func TestLimitWithinBound(t *testing.T) {
	t.Parallel()
	// 100 services merging a 40-key anchor: a real file's pattern
	var b strings.Builder
	b.WriteString("x-common: &common\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	b.WriteString("services:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "  s%d:\n    <<: *common\n    image: nginx\n", i)
	}
	idx := Parse("f.yaml", []byte(b.String()))
	if l := idx.Limit(); l != nil {
		t.Fatalf("Limit() = %v, want nil", l)
	}
	if idx.bounds.work <= 0 || idx.bounds.work > idx.bounds.budget {
		t.Errorf("work %d, budget %d", idx.bounds.work, idx.bounds.budget)
	}
	if !idx.Has("services.s99.k39") {
		t.Errorf("index misses a merged key")
	}
}

// BenchmarkLimit shows that measuring is linear in the nesting depth and
// in the length of a merge chain, past the bounds as below them:
// ns/level stays flat as the depth doubles.
func BenchmarkLimit(b *testing.B) {
	for _, c := range []struct {
		name string
		gen  func(int) string
	}{
		{"nesting", nested},
		{"merge-chain", mergeChain},
	} {
		for _, depth := range []int{50, 100, 200, 400, 800, 1600} {
			src := []byte(c.gen(depth))
			b.Run(c.name+"/"+strconv.Itoa(depth), func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					Parse("f.yaml", bytes.Clone(src))
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(depth), "ns/level")
			})
		}
	}
}
