package policy

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/ast"
)

func svc(name string, nets ...string) *ast.Service {
	s := &ast.Service{Name: name}
	for _, n := range nets {
		s.Networks = append(s.Networks, ast.NetworkAttachment{Network: n})
	}
	return s
}

// reaches evaluates the woven rules as Kubernetes does: from may reach to
// on port when to's ingress admits from on that port and from's egress (if
// restricted) admits to on that port.
func reaches(np *ast.NetworkPolicy, from, to string, port uint16) bool {
	var fr, tr *ast.ServiceRules
	for i := range np.Rules {
		switch np.Rules[i].Service {
		case from:
			fr = &np.Rules[i]
		case to:
			tr = &np.Rules[i]
		}
	}
	admits := func(flows []ast.Flow, peer string) bool {
		for _, f := range flows {
			okPeer := f.Peer.Anywhere || slices.Contains(f.Peer.Services, peer)
			for _, n := range f.Peer.Networks {
				for _, r := range np.Rules {
					if r.Service == peer && slices.Contains(r.Networks, n) {
						okPeer = true
					}
				}
			}
			okPort := len(f.Ports) == 0
			for _, p := range f.Ports {
				if p.Port == port || (p.EndPort != 0 && port >= p.Port && port <= p.EndPort) {
					okPort = true
				}
			}
			if okPeer && okPort {
				return true
			}
		}
		return false
	}
	if tr == nil || !admits(tr.Ingress, from) {
		return false
	}
	return fr == nil || !fr.EgressRestricted || admits(fr.Egress, to)
}

func TestNetworkReachability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sys     *ast.System
		mode    string
		want    map[[2]string]bool // pair -> reachable on port 5432
		port    uint16
		outside map[string]bool // reachable from anywhere on port
	}{
		{
			name: "shared default network, undeclared port",
			sys:  &ast.System{Services: []*ast.Service{svc("db", "default"), svc("web", "default")}},
			port: 5432,
			want: map[[2]string]bool{{"web", "db"}: true, {"db", "web"}: true},
		},
		{
			name: "no shared network",
			sys: &ast.System{Services: []*ast.Service{svc("db", "back"), svc("web", "front")},
				Networks: []*ast.Network{{Name: "back"}, {Name: "front"}}},
			port: 5432,
			want: map[[2]string]bool{{"web", "db"}: false, {"db", "web"}: false},
		},
		{
			name: "strict allows only declared ports",
			sys: &ast.System{Services: []*ast.Service{
				func() *ast.Service {
					s := svc("db", "default")
					s.Ports = []ast.Port{{Target: 5432, Protocol: ast.TCP, Exposed: true}}
					return s
				}(), svc("web", "default")}},
			mode: "strict",
			port: 5432,
			want: map[[2]string]bool{{"web", "db"}: true, {"db", "web"}: false},
		},
		{
			name: "network_mode service shares the networks",
			sys: &ast.System{Services: []*ast.Service{func() *ast.Service { s := svc("app"); s.NetworkMode = "service:vpn"; return s }(), svc("db", "back"), svc("vpn", "back")}, // sorted by name, as the AST is
				Networks: []*ast.Network{{Name: "back"}}},
			port: 5432,
			want: map[[2]string]bool{{"app", "db"}: true, {"db", "app"}: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diags := (Network{}).Weave(tt.sys, Options{Network: tt.mode}); diags.HasErrors() {
				t.Fatalf("diagnostics: %v", diags)
			}
			got := map[[2]string]bool{}
			for pair := range tt.want {
				got[pair] = reaches(tt.sys.Policy.Network, pair[0], pair[1], tt.port)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reachability (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishedAndInternal(t *testing.T) {
	t.Parallel()
	web := svc("web", "front")
	web.Ports = []ast.Port{{Target: 80, Published: 8080, Protocol: ast.TCP}}
	db := svc("db", "back")
	sys := &ast.System{Services: []*ast.Service{db, web}, Networks: []*ast.Network{{Name: "front"}, {Name: "back", Internal: true}}}
	(Network{}).Weave(sys, Options{})
	var webRules, dbRules ast.ServiceRules
	for _, r := range sys.Policy.Network.Rules {
		if r.Service == "web" {
			webRules = r
		} else {
			dbRules = r
		}
	}
	var public bool
	for _, f := range webRules.Ingress {
		if f.Peer.Anywhere && slices.Contains(f.Ports, ast.PortRange{Port: 80, Protocol: ast.TCP}) {
			public = true
		}
	}
	if !public {
		t.Errorf("published port 80 of web is not reachable from anywhere: %+v", webRules.Ingress)
	}
	if webRules.EgressRestricted {
		t.Errorf("web is on a non-internal network but its egress is restricted")
	}
	if !dbRules.EgressRestricted {
		t.Fatalf("db is only on an internal network but may leave it")
	}
	var dns bool
	for _, f := range dbRules.Egress {
		if f.Peer.Anywhere || len(f.Peer.CIDRs) > 0 {
			t.Errorf("db may reach the outside: %+v", f)
		}
		if f.Peer.ClusterDNS {
			dns = true
		}
	}
	if !dns {
		t.Errorf("db may not reach the cluster DNS")
	}

	web.Clients = []ast.CIDR{{CIDR: "10.0.0.0/8"}}
	(Network{}).Weave(sys, Options{})
	for _, r := range sys.Policy.Network.Rules {
		for _, f := range r.Ingress {
			if r.Service == "web" && f.Peer.Anywhere {
				t.Errorf("web's published port is open to anywhere although clients are given")
			}
		}
	}
}

// TestRoutedPortModes: a routed port admits only the router's pods with
// the default and strict policies (the network's peers keep reaching it);
// with none there is no policy, and router pods given are reported unused.
func TestRoutedPortModes(t *testing.T) {
	t.Parallel()
	router := &ast.PodSelector{NamespaceLabels: []ast.KV{{Key: "kubernetes.io/metadata.name", Value: "traefik"}}}
	mk := func(from *ast.PodSelector) *ast.System {
		web := svc("web", "default")
		web.Ports = []ast.Port{
			{Target: 80, Published: 8080, Protocol: ast.TCP, Route: &ast.Route{PathPrefix: "/", From: from, Pos: ast.Pos{File: "compose.yaml", Line: 7, Col: 9}}},
			{Target: 5432, Published: 5432, Protocol: ast.TCP},
		}
		db := svc("db", "default")
		db.Ports = []ast.Port{{Target: 5432, Protocol: ast.TCP}}
		return &ast.System{Services: []*ast.Service{web, db}}
	}
	routed := ast.Flow{Peer: ast.Peer{Pods: router}, Ports: []ast.PortRange{{Port: 80, Protocol: ast.TCP}}}
	published := ast.Flow{Peer: ast.Peer{Anywhere: true}, Ports: []ast.PortRange{{Port: 5432, Protocol: ast.TCP}}}
	for _, tc := range []struct {
		mode  string
		want  []ast.Flow // web's ingress
		codes []string
	}{
		{"", []ast.Flow{{Peer: ast.Peer{Networks: []string{"default"}}}, routed, published}, nil},
		{"strict", []ast.Flow{{Peer: ast.Peer{Networks: []string{"default"}}, Ports: []ast.PortRange{{Port: 80, Protocol: ast.TCP}, {Port: 5432, Protocol: ast.TCP}}}, routed, published}, nil},
		{"none", nil, []string{"route-from-unused"}},
	} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			t.Parallel()
			sys := mk(router)
			diags := Network{}.Weave(sys, Options{Network: tc.mode})
			var codes []string
			for _, d := range diags {
				codes = append(codes, d.Code)
				if d.Pos.Line != 7 {
					t.Errorf("%s: not at the port", d.String())
				}
			}
			if diff := cmp.Diff(tc.codes, codes); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if tc.mode == "none" {
				if sys.Policy.Network != nil {
					t.Errorf("a network policy with --network-policy none")
				}
				return
			}
			i := slices.IndexFunc(sys.Policy.Network.Rules, func(r ast.ServiceRules) bool { return r.Service == "web" })
			if diff := cmp.Diff(tc.want, sys.Policy.Network.Rules[i].Ingress); diff != "" {
				t.Errorf("web's ingress (-want +got):\n%s", diff)
			}
		})
	}
	// no router pods given (any pod): nothing to report with none
	if diags := (Network{}).Weave(mk(nil), Options{Network: "none"}); len(diags) != 0 {
		t.Errorf("diagnostics without router pods: %v", diags)
	}
}
