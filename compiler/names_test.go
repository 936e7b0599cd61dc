package compiler_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
)

// TestNamesResolve compiles systems whose services share DNS names and
// checks, through the label selectors of the generated objects, what each
// name resolves to: the pods of every service that holds it, as docker's
// resolver answers a name with every container carrying it. It also checks
// that no NetworkPolicy selects by a name label, so that sharing a name
// grants no reachability.
func TestNamesResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		compose string
		args    []string // compiler options: "strict", "guid"
		// want is, per Service, the services whose pods it selects
		want map[string][]string
	}{
		{name: "alias shared on one network", compose: `
name: app
services:
  reader:
    image: nginx:1.27
    networks: {default: {aliases: [search]}}
  writer:
    image: nginx:1.27
    networks: {default: {aliases: [search]}}
  web:
    image: nginx:1.27
`, want: map[string][]string{"reader": {"reader"}, "writer": {"writer"}, "web": {"web"}, "search": {"reader", "writer"}}},
		{name: "alias shared on two networks", compose: `
name: app
services:
  a:
    image: nginx:1.27
    networks: {front: {aliases: [api]}}
  b:
    image: nginx:1.27
    networks: {back: {aliases: [api]}}
  c:
    image: nginx:1.27
    networks: {back: {aliases: [api, api]}}
networks: {front: {}, back: {}}
`, want: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "api": {"a", "b", "c"}}},
		{name: "service name is another's alias", compose: `
name: app
services:
  db:
    image: postgres:16
  replica:
    image: postgres:16
    networks: {default: {aliases: [db, ro]}}
`, want: map[string][]string{"db": {"db", "replica"}, "replica": {"replica"}, "ro": {"replica"}}},
		{name: "links alias and network alias shared", compose: `
name: app
services:
  cache1:
    image: redis:7
    networks: {default: {aliases: [cache]}}
  cache2:
    image: redis:7
  web:
    image: nginx:1.27
    links: ["cache2:cache"]
`, want: map[string][]string{"cache": {"cache1", "cache2"}, "cache1": {"cache1"}, "cache2": {"cache2"}, "web": {"web"}}},
		{name: "container_name is another's alias", compose: `
name: app
services:
  primary:
    image: nginx:1.27
    container_name: front
  secondary:
    image: nginx:1.27
    networks: {default: {aliases: [front]}}
`, want: map[string][]string{"front": {"primary", "secondary"}, "primary": {"primary"}, "secondary": {"secondary"}}},
		{name: "self aliases", compose: `
name: app
services:
  my-app:
    image: nginx:1.27
    container_name: my_app
    networks: {default: {aliases: [My-App]}}
  db:
    image: postgres:16
  web:
    image: nginx:1.27
    links: ["db:DB"]
`, want: map[string][]string{"my-app": {"my-app"}, "db": {"db"}, "web": {"web"}}},
		{name: "long alias cut to a label", compose: `
name: app
services:
  a:
    image: nginx:1.27
    networks: {default: {aliases: [` + longAlias + `]}}
  b:
    image: nginx:1.27
    networks: {default: {aliases: [` + longAlias + `]}}
`, want: map[string][]string{"a": {"a"}, "b": {"b"}, kubernetes.DNS1035(longAlias, 63): {"a", "b"}}},
		{name: "with a guid and strict policy", args: []string{"strict", "guid"}, compose: `
name: app
services:
  a:
    image: nginx:1.27
    expose: ["80"]
    networks: {default: {aliases: [both]}}
  b:
    image: nginx:1.27
    networks: {default: {aliases: [both]}}
`, want: map[string][]string{"a": {"a"}, "b": {"b"}, "both": {"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := defaultOptions()
			opts.Load.Files = []string{"-"}
			opts.Load.Stdin = strings.NewReader(strings.TrimPrefix(tt.compose, "\n"))
			opts.Load.WorkDir = t.TempDir()
			opts.Load.Env = map[string]string{}
			for _, a := range tt.args {
				switch a {
				case "strict":
					opts.Policy.Network = "strict"
				case "guid":
					opts.GUID = "0123456789abcdef0123456789abcdef"
				}
			}
			res, err := compiler.Compile(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Diags.HasErrors() {
				t.Fatalf("errors:\n%s", diagText(res.Diags))
			}
			pods := map[string]labels.Set{} // by service (app.kubernetes.io/name)
			var policies []*networkingv1.NetworkPolicy
			var services []*corev1.Service
			for _, o := range res.Objects {
				switch o := o.(type) {
				case *appsv1.Deployment:
					pods[o.Name] = o.Spec.Template.Labels
				case *corev1.Service:
					services = append(services, o)
				case *networkingv1.NetworkPolicy:
					policies = append(policies, o)
				}
			}
			for svc, l := range pods {
				for k := range l {
					if errs := validation.IsQualifiedName(k); len(errs) > 0 {
						t.Errorf("pod label %q of %s: %s", k, svc, strings.Join(errs, "; "))
					}
				}
			}
			got := map[string][]string{}
			for _, s := range services {
				sel := labels.SelectorFromSet(s.Spec.Selector)
				got[s.Name] = []string{}
				for svc, l := range pods {
					if sel.Matches(l) {
						got[s.Name] = append(got[s.Name], svc)
					}
				}
				sort.Strings(got[s.Name])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("services a Service selects (-want +got):\n%s", diff)
			}
			for _, p := range policies {
				for _, sel := range policySelectors(p) {
					for k := range sel.MatchLabels {
						if strings.HasPrefix(k, "name.tycho.dev/") {
							t.Errorf("NetworkPolicy %s selects by the name label %s: sharing a name would grant reachability", p.Name, k)
						}
					}
				}
			}
		})
	}
}

// longAlias is an alias longer than a DNS label: it is cut with a hash
// suffix.
var longAlias = strings.Repeat("shared-name-", 6)

// policySelectors are every pod selector of p.
func policySelectors(p *networkingv1.NetworkPolicy) []*metav1.LabelSelector {
	out := []*metav1.LabelSelector{&p.Spec.PodSelector}
	add := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, peer := range peers {
			if peer.PodSelector != nil {
				out = append(out, peer.PodSelector)
			}
		}
	}
	for _, r := range p.Spec.Ingress {
		add(r.From)
	}
	for _, r := range p.Spec.Egress {
		add(r.To)
	}
	return out
}
