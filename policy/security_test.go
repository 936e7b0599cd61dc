package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// hostRoot is a service that asks for every host namespace, all
// capabilities, root and an unsafe sysctl: what a token holder would send
// to get root on a node.
func hostRoot() *ast.Service {
	s := &ast.Service{Name: "root"}
	root := int64(0)
	s.Container.Security = ast.Security{HostNetwork: true, HostPID: true, HostIPC: true, CapAdd: []string{"ALL"}, RunAsUser: &root}
	s.Sysctls = []ast.KV{{Key: "kernel.core_pattern", Value: "|/x"}}
	return s
}

func TestSecurityLevels(t *testing.T) {
	t.Parallel()
	type got struct {
		Level string
		Diags map[string]int // "severity code path" → count
	}
	privNeeds := func(sev string) map[string]int {
		return map[string]int{
			sev + " security-privileged services.root.network_mode": 1,
			sev + " security-privileged services.root.pid":          1,
			sev + " security-privileged services.root.ipc":          1,
			sev + " security-privileged services.root.cap_add":      1,
			sev + " security-privileged services.root.sysctls":      1,
		}
	}
	tests := []struct {
		name    string
		svc     *ast.Service
		level   string
		ceiling bool
		want    got
	}{
		{"plain service at baseline", &ast.Service{Name: "web"}, "baseline", false, got{"baseline", map[string]int{}}},
		{"plain service under a baseline ceiling", &ast.Service{Name: "web"}, "baseline", true, got{"baseline", map[string]int{}}},
		{"plain service under a privileged ceiling meets baseline", &ast.Service{Name: "web"}, "privileged", true, got{"baseline", map[string]int{}}},
		// compile reports and raises
		{"compile at baseline raises to privileged", hostRoot(), "baseline", false, got{"privileged", privNeeds("warning")}},
		// up and the API: the level is a ceiling
		{"baseline ceiling refuses and never raises", hostRoot(), "baseline", true, got{"baseline", privNeeds("error")}},
		{"privileged ceiling allows, noted", hostRoot(), "privileged", true, got{"privileged", privNeeds("info")}},
		{"restricted ceiling refuses root too", hostRoot(), "restricted", true, got{"restricted", map[string]int{
			"error security-restricted services.root.network_mode": 1,
			"error security-restricted services.root.pid":          1,
			"error security-restricted services.root.ipc":          1,
			"error security-restricted services.root.cap_add":      2, // the need, and ALL ≠ NET_BIND_SERVICE
			"error security-restricted services.root.sysctls":      1,
			"error security-restricted services.root.user":         1,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := &ast.System{Name: "s", Services: []*ast.Service{tt.svc}}
			ds := Security{}.Weave(sys, Options{Security: tt.level, SecurityCeiling: tt.ceiling})
			g := got{Level: sys.Policy.SecurityLevel, Diags: map[string]int{}}
			for _, d := range ds {
				g.Diags[d.Severity.String()+" "+d.Code+" "+d.Path]++
			}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestSecurityCeilingNote(t *testing.T) {
	t.Parallel()
	sys := &ast.System{Name: "s", Services: []*ast.Service{hostRoot()}}
	ds := Security{}.Weave(sys, Options{Security: "baseline", SecurityCeiling: true})
	if len(ds) == 0 || ds[0].Severity != diag.Error {
		t.Fatalf("want errors, got %v", ds)
	}
	want := []string{"the level allowed is baseline: allow privileged explicitly with --security privileged, or change the service"}
	if diff := cmp.Diff(want, ds[0].Notes); diff != "" {
		t.Errorf("notes (-want +got)\n%s", diff)
	}
}

func TestLevelAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ceiling, level string
		want           bool
	}{
		{"baseline", "baseline", true},
		{"baseline", "", true},
		{"baseline", "restricted", true},
		{"baseline", "privileged", false},
		{"restricted", "baseline", false},
		{"privileged", "privileged", true},
		{"baseline", "bogus", false},
	}
	for _, tt := range tests {
		if got := LevelAllows(tt.ceiling, tt.level); got != tt.want {
			t.Errorf("LevelAllows(%q, %q) = %v, want %v", tt.ceiling, tt.level, got, tt.want)
		}
	}
}
