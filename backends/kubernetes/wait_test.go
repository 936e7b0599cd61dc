package kubernetes

import (
	"strings"
	"testing"

	"github.com/tychoctl/tycho/ast"
)

// The wait logic runs in init containers, which kwok does not really run:
// these tests pin what the loops wait for.
func TestWaitScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		service string
		port    uint16
		want    string
	}{
		{"tcp port: connect through the Service", "db", 5432, "until nc -z -w 2 db 5432; do echo waiting for db:5432; sleep 2; done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := WaitScript(tt.service, tt.port); got != tt.want {
				t.Errorf("WaitScript(%q, %d) =\n%s\nwant\n%s", tt.service, tt.port, got, tt.want)
			}
		})
	}
}

func TestWaitsPerCondition(t *testing.T) {
	t.Parallel()
	db := &ast.Service{Name: "db", Ports: []ast.Port{{Target: 5432, Protocol: ast.TCP}}}
	udp := &ast.Service{Name: "dns", Ports: []ast.Port{{Target: 53, Protocol: ast.UDP}}}
	job := &ast.Service{Name: "migrate", Lifecycle: ast.RunToCompletion}
	web := &ast.Service{Name: "web", DependsOn: []ast.Dependency{
		{Service: "db", Condition: ast.ServiceHealthy},
		{Service: "dns", Condition: ast.ServiceStarted},
		{Service: "migrate", Condition: ast.ServiceCompletedSuccessfully},
	}}
	for _, s := range []*ast.Service{db, udp, job, web} {
		s.Networks = []ast.NetworkAttachment{{Network: "default"}}
	}
	sys := &ast.System{Name: "app", Namespace: "ns", Services: []*ast.Service{db, udp, job, web}}
	objs, diags := Generate(sys, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var found bool
	for _, o := range objs {
		if o.GetName() != "web" || o.GetObjectKind().GroupVersionKind().Kind != "Deployment" {
			continue
		}
		found = true
		b, err := Marshal(o, YAML)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, want := range []string{
			"name: wait-for-db", "until nc -z -w 2 db 5432",
			"name: wait-for-dns", "- rollout\n", "- deployment/dns\n",
			"name: wait-for-migrate", "job/migrate", "--for=condition=complete",
			"serviceAccountName: app-waiter", "automountServiceAccountToken: false",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("web's Deployment lacks %q:\n%s", want, s)
			}
		}
	}
	if !found {
		t.Fatal("no Deployment web")
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetObjectKind().GroupVersionKind().Kind] = true
	}
	for _, k := range []string{"ServiceAccount", "Role", "RoleBinding", "Job"} {
		if !kinds[k] {
			t.Errorf("no %s emitted", k)
		}
	}
}
