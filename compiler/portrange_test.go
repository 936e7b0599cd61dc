package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContainerRange(t *testing.T) {
	t.Parallel()
	type result struct {
		N  uint64
		OK bool
	}
	tests := []struct {
		spec string
		want result
	}{
		{"80", result{1, true}},
		{"8080:80", result{1, true}},
		{"8000-8010:80", result{1, true}}, // a host range for one port: one entry
		{"80-179", result{100, true}},
		{"8000-8099:8000-8099", result{100, true}},
		{"1-65535:1-65535", result{65535, true}},
		{"127.0.0.1:5000-5100:5000-5100/udp", result{101, true}},
		{"[::1]:80-90:80-90", result{11, true}},
		{"90-80", result{0, false}},
		{"a-b", result{0, false}},
		{"1-70000", result{0, false}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			n, ok := containerRange(tt.spec)
			if diff := cmp.Diff(tt.want, result{n, ok}); diff != "" {
				t.Errorf("containerRange(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}
