package compiler

import "testing"

func TestShellWord(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"sync", "sync"},
		{"/usr/bin/nginx", "/usr/bin/nginx"},
		{"-s", "-s"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"A=1", "'A=1'"}, // never an assignment
		{"x;rm", "'x;rm'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := shellWord(tt.in); got != tt.want {
				t.Errorf("shellWord(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
