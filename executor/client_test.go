package executor_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tychoctl/tycho/executor"
)

func TestNewGUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		random  []byte
		want    string
		wantErr string
	}{
		{name: "Zeros", random: make([]byte, 16), want: "00000000000040008000000000000000"},
		{name: "Ones", random: bytes.Repeat([]byte{0xff}, 16), want: "ffffffffffff4fffbfffffffffffffff"},
		{name: "Short", random: make([]byte, 15), wantErr: "generating a GUID: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := executor.NewGUID(bytes.NewReader(tt.random))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("NewGUID: error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NewGUID = %q, %v; want %q", got, err, tt.want)
			}
			if err := executor.ValidateGUID(got); err != nil {
				t.Errorf("ValidateGUID(NewGUID()): %v", err)
			}
		})
	}
	g, err := executor.NewGUID(nil)
	if err != nil || executor.ValidateGUID(g) != nil || g[12] != '4' {
		t.Errorf("NewGUID(nil) = %q, %v; want a random version 4 GUID", g, err)
	}
}

func TestValidateGUID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		guid string
		ok   bool
	}{
		{guid1, true},
		{strings.ToUpper(guid1), false},
		{guid1[:31], false},
		{guid1 + "0", false},
		{"0123456789abcdef-123456789abcdef", false},
		{"", false},
	} {
		if err := executor.ValidateGUID(tt.guid); (err == nil) != tt.ok {
			t.Errorf("ValidateGUID(%q) = %v, want ok=%v", tt.guid, err, tt.ok)
		}
	}
}

func TestNamespaceFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ system, want string }{
		{"shop", "shop-01234567"},
		{"My_Shop", "my-shop-01234567"},
		{strings.Repeat("a", 63), strings.Repeat("a", 47) + "-7d3e74-01234567"},
	} {
		got := executor.NamespaceFor(tt.system, guid1)
		if got != tt.want || len(got) > 63 {
			t.Errorf("NamespaceFor(%q) = %q, want %q", tt.system, got, tt.want)
		}
	}
}
