package executor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnified(t *testing.T) {
	t.Parallel()
	lines := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(i + 1)
		}
		return out
	}
	with := func(base []string, at int, line string) []string {
		out := append([]string(nil), base...)
		out[at] = line
		return out
	}
	tests := []struct {
		name string
		a, b []string
		want string
	}{
		{name: "Same", a: lines(5), b: lines(5), want: ""},
		{name: "BothEmpty", want: ""},
		{name: "Create", b: []string{"a", "b"}, want: "@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{name: "Prune", a: []string{"a"}, want: "@@ -1,1 +0,0 @@\n-a\n"},
		{
			name: "OneLine",
			a:    lines(10), b: with(lines(10), 4, "five"),
			want: "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			// changes 7 lines apart stay one hunk (context 3 on each side)
			name: "CloseChangesOneHunk",
			a:    lines(12), b: with(with(lines(12), 1, "two"), 8, "nine"),
			want: "@@ -1,12 +1,12 @@\n 1\n-2\n+two\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+nine\n 10\n 11\n 12\n",
		},
		{
			name: "FarChangesTwoHunks",
			a:    lines(20), b: with(with(lines(20), 0, "one"), 19, "twenty"),
			want: "@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -17,4 +17,4 @@\n 17\n 18\n 19\n-20\n+twenty\n",
		},
		{
			name: "Insert",
			a:    []string{"a", "c"}, b: []string{"a", "b", "c"},
			want: "@@ -1,2 +1,3 @@\n a\n+b\n c\n",
		},
		{
			name: "Reorder",
			a:    []string{"x", "a", "b", "y"}, b: []string{"x", "b", "a", "y"},
			want: "@@ -1,4 +1,4 @@\n x\n-a\n b\n+a\n y\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, unified(tt.a, tt.b, 3)); diff != "" {
				t.Errorf("unified (-want +got):\n%s", diff)
			}
		})
	}
}

// Past maxLCS the middle is shown as removed, then added: still a correct
// diff.
func TestUnifiedLarge(t *testing.T) {
	t.Parallel()
	n := 2100 // n*n > maxLCS
	a, b := make([]string, n), make([]string, n)
	for i := range a {
		a[i], b[i] = fmt.Sprint("a", i), fmt.Sprint("b", i)
	}
	got := unified(a, b, 3)
	if !strings.HasPrefix(got, fmt.Sprintf("@@ -1,%d +1,%d @@\n-a0\n", n, n)) || strings.Count(got, "\n") != 2*n+1 {
		t.Errorf("unified of %d different lines: %d lines, starting %q", n, strings.Count(got, "\n"), got[:40])
	}
}
