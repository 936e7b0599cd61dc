package compiler_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/internal/goldencase"
	"github.com/tychoctl/tycho/internal/netpol"
)

// The connectivity tests compile a system, read the NetworkPolicies and
// pod labels back from the printed manifests, and ask internal/netpol, flow
// by flow, what the cluster would allow. The answer must be what the
// compose file means, computed here from the compose model alone (Load and
// Lower, never the policy package): a second, independent statement of
// docs/policy.md's rules.

// The endpoints and ports of the matrix.
const (
	outsideIP      = "203.0.113.7" // TEST-NET-3: outside any cluster
	undeclaredPort = 9999
	httpsPort      = 443
	dnsPort        = 53
)

// tally counts flows across parallel subtests.
type tally struct {
	mu                    sync.Mutex
	systems, flows, wrong int
	skipped               []string
	wrongBySystem         map[string]int
}

func (ta *tally) add(name string, flows, wrong int) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.systems++
	ta.flows += flows
	ta.wrong += wrong
	if wrong > 0 {
		if ta.wrongBySystem == nil {
			ta.wrongBySystem = map[string]int{}
		}
		ta.wrongBySystem[name] = wrong
	}
}

func (ta *tally) skip(name, why string) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.skipped = append(ta.skipped, name+" ("+why+")")
}

func (ta *tally) log(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d systems, %d flows checked, %d wrong; %d skipped", what, ta.systems, ta.flows, ta.wrong, len(ta.skipped))
	names := make([]string, 0, len(ta.wrongBySystem))
	for n := range ta.wrongBySystem {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("  %s: %d wrong flows", n, ta.wrongBySystem[n])
	}
}

// TestConnectivityGolden checks the flows of every golden case that
// compiles without errors.
func TestConnectivityGolden(t *testing.T) {
	t.Parallel()
	ta := &tally{}
	t.Run("cases", func(t *testing.T) {
		for _, c := range loadGolden(t) {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				checkGolden(t, c, ta)
			})
		}
	})
	ta.log(t, "golden cases")
}

// goldenFlags are the flags of a golden case's command line that decide
// what is loaded and which network policy is wanted; the others do not
// change who may connect to whom.
type goldenFlags struct {
	files, profiles, envFiles, disabled []string
	project, network, outDir            string
	// expose and routeFrom decide which ports are routed and who the
	// router is
	expose, routeFrom string
}

func parseGoldenFlags(args []string) (goldenFlags, error) {
	var f goldenFlags
	fs := pflag.NewFlagSet("compile", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.StringArrayVarP(&f.files, "file", "f", nil, "")
	fs.StringArrayVar(&f.profiles, "profile", nil, "")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "")
	fs.StringArrayVar(&f.disabled, "disable-weaver", nil, "")
	fs.StringVarP(&f.project, "project-name", "p", "", "")
	fs.StringVar(&f.network, "network-policy", "default", "")
	fs.StringVar(&f.outDir, "out-dir", "", "")
	fs.StringVar(&f.expose, "expose", "", "")
	fs.StringVar(&f.routeFrom, "route-from", "", "")
	// the other flags (-n, --guid, -o ...) are skipped with their values
	err := fs.Parse(args)
	for _, d := range f.disabled {
		if d == "network" {
			f.network = "none"
		}
	}
	return f, err
}

// checkGolden extracts the inputs of c, runs tycho compile in-process as
// TestGolden does, and checks the flows of its output; a case that does not
// compile is skipped.
func checkGolden(t *testing.T, c goldencase.Case, ta *tally) {
	dir, stdin := c.Extract(t)
	fl, err := parseGoldenFlags(c.Args)
	if err != nil {
		t.Fatalf("args %q: %v", c.Args, err)
	}
	if fl.outDir != "" {
		ta.skip(c.Name, "--out-dir")
		t.Skip("--out-dir: no manifests on stdout")
	}
	out, _, code := c.Compile(t, dir, stdin)
	if code != 0 {
		ta.skip(c.Name, "does not compile")
		t.Skipf("tycho compile exits %d: not a system to check", code)
	}
	loadOpts := compiler.LoadOptions{Files: fl.files, Stdin: bytes.NewReader(stdin), WorkDir: dir, Env: c.Env,
		EnvFiles: fl.envFiles, ProjectName: fl.project, Profiles: fl.profiles}
	in := modelIntent(t, loadOpts, fl.network, compiler.LowerOptions{Expose: ast.ExposeMode(fl.expose), Route: compiler.RouteOptions{From: fl.routeFrom}})
	wrong, flows := checkSystem(t, in, []byte(out))
	ta.add(c.Name, flows, wrong)
}

// modelIntent loads and lowers the compose files (the compose model,
// before any weaver ran) and states its intent for network policy mode.
func modelIntent(t *testing.T, opts compiler.LoadOptions, mode string, lower compiler.LowerOptions) *intent {
	t.Helper()
	loaded, diags, err := compiler.Load(context.Background(), opts)
	if err != nil || loaded == nil {
		t.Fatalf("loading the compose model again: %v %s", err, diagText(diags))
	}
	// only the expose mode and the router's pods matter: which ports are
	// routed is the compiler's decision (docs/routing.md), who reaches
	// them is stated here
	sys, _ := compiler.Lower(loaded, compiler.LowerOptions{Expose: lower.Expose, Route: compiler.RouteOptions{From: lower.Route.From}})
	if mode == "" {
		mode = "default"
	}
	in := &intent{sys: sys, mode: mode, public: map[string]map[portProto]bool{}, loopback: map[string]map[portProto]bool{},
		routed: map[string]map[portProto]*ast.PodSelector{}}
	for _, s := range sys.Services {
		for _, p := range s.Ports {
			if p.Route == nil {
				continue
			}
			if in.routed[s.Name] == nil {
				in.routed[s.Name] = map[portProto]*ast.PodSelector{}
			}
			sel := p.Route.From
			if sel == nil {
				sel = &ast.PodSelector{}
			}
			in.routed[s.Name][portProto{p.Target, p.Protocol}] = sel
		}
	}
	// every ports: entry is published, on an ephemeral host port when it
	// names none; one bound to a loopback host_ip is published on the host
	// alone: neither other machines nor containers reach it
	for name, s := range loaded.Project.Services {
		in.public[name] = map[portProto]bool{}
		in.loopback[name] = map[portProto]bool{}
		for _, p := range s.Ports {
			pr := ast.Protocol(strings.ToLower(p.Protocol))
			if pr == "" {
				pr = ast.TCP
			}
			pp := portProto{uint16(p.Target), pr}
			if ip, err := netip.ParseAddr(p.HostIP); err == nil && ip.IsLoopback() {
				in.loopback[name][pp] = true
			} else {
				in.public[name][pp] = true
			}
		}
	}
	return in
}

// TestConnectivityCorpus checks the flows of every corpus unit that
// compose-go loads and Tycho compiles without errors.
func TestConnectivityCorpus(t *testing.T) {
	t.Parallel()
	skipWithoutCorpus(t)
	ta := &tally{}
	t.Run("units", func(t *testing.T) {
		for _, u := range loadCheck(t, corpusDir) {
			if !u.ok {
				continue
			}
			t.Run(u.name, func(t *testing.T) {
				t.Parallel()
				opts := unitOptions(u)
				res, err := compileSafely(opts)
				if err != nil {
					t.Fatal(err)
				}
				if res.Diags.HasErrors() {
					ta.skip(u.name, "does not compile")
					t.Skipf("Tycho reports errors (TestCorpus says whether it should):\n%s", diagText(res.Diags))
				}
				var buf bytes.Buffer
				if err := kubernetes.Print(&buf, res.Objects, kubernetes.YAML); err != nil {
					t.Fatal(err)
				}
				in := modelIntent(t, opts.Load, opts.Policy.Network, opts.Lower)
				wrong, flows := checkSystem(t, in, buf.Bytes())
				ta.add(u.name, flows, wrong)
			})
		}
	})
	ta.log(t, "corpus")
}

// checkSystem evaluates the matrix of sys's flows against the printed
// manifests and reports every flow whose verdict differs from compose's
// intent.
func checkSystem(t *testing.T, in *intent, manifests []byte) (wrong, flows int) {
	t.Helper()
	sys := in.sys
	objs, err := netpol.Decode(manifests)
	if err != nil {
		t.Fatalf("reading the manifests back: %v", err)
	}
	nsLabels := netpol.NamespaceLabels(objs)
	for _, b := range sys.Services {
		for _, sel := range in.routers(b) {
			pod, l := routerPod(sel)
			nsLabels[pod.Namespace] = l
		}
	}
	ev, err := netpol.New(netpol.Policies(objs), nsLabels)
	if err != nil {
		t.Fatalf("invalid NetworkPolicy: %v", err)
	}
	workloads := map[string]netpol.Workload{}
	for _, w := range netpol.Pods(objs) {
		workloads[w.Object] = w
	}
	pods := map[string]netpol.Endpoint{}
	for _, s := range sys.Services {
		w, ok := workloads[kubernetes.DNS1035(s.Name, 63)]
		if !ok {
			t.Errorf("service %s has no workload in the output", s.Name)
			continue
		}
		pods[s.Name] = w.Endpoint
		in.ns = w.Endpoint.Namespace
		if in.ns == "" {
			in.ns = netpol.DefaultNamespace
		}
	}
	var wrongs []string
	check := func(from, to netpol.Endpoint, fromName, toName string, pp portProto, want bool, why string) {
		flows++
		v := ev.Check(from, to, int32(pp.port), proto(pp.proto))
		if v.Allowed == want {
			return
		}
		wrong++
		verb := "may not"
		if want {
			verb = "may"
		}
		wrongs = append(wrongs, fmt.Sprintf("%s -> %s on %s: compose says it %s connect (%s); the policies say %s", fromName, toName, pp, verb, why, v))
	}
	dns := netpol.ClusterDNS()
	for _, a := range sys.Services {
		from, ok := pods[a.Name]
		if !ok {
			continue
		}
		for _, b := range sys.Services {
			to, ok := pods[b.Name]
			if !ok {
				continue
			}
			for _, pp := range in.probePorts(b) {
				want, why := in.podToPod(a, b, from.Labels, pp)
				check(from, to, a.Name, b.Name, pp, want, why)
			}
		}
		for _, pp := range []portProto{{dnsPort, ast.UDP}, {dnsPort, ast.TCP}} {
			check(from, dns, a.Name, "cluster DNS", pp, true, "DNS is always reachable")
		}
		for _, ip := range in.egressProbes(a) {
			for _, pp := range in.egressPorts(a) {
				want, why := in.toOutside(a, ip, pp)
				check(from, netpol.Outside(ip.String()), a.Name, ip.String(), pp, want, why)
			}
		}
	}
	for _, b := range sys.Services {
		to, ok := pods[b.Name]
		if !ok {
			continue
		}
		for _, sel := range in.routers(b) {
			router, _ := routerPod(sel)
			for _, pp := range in.probePorts(b) {
				want, why := in.routerTo(sel, b, pp)
				check(router, to, "router "+router.String(), b.Name, pp, want, why)
			}
			if len(sel.PodLabels) > 0 {
				// another pod of the router's namespace
				other := netpol.Pod(router.Namespace, "other", map[string]string{"app": "other"})
				for _, pp := range in.probePorts(b) {
					if _, routed := in.router(b, pp); routed {
						check(other, to, "pod "+other.String(), b.Name, pp, in.mode == "none", "the router's pod labels do not select it")
					}
				}
			}
		}
		for _, ip := range in.clientProbes(b) {
			for _, pp := range in.outsidePorts(b) {
				want, why := in.outsideTo(ip, b, pp)
				check(netpol.Outside(ip.String()), to, ip.String(), b.Name, pp, want, why)
			}
		}
	}
	const maxShown = 40
	for i, w := range wrongs {
		if i == maxShown {
			t.Errorf("... and %d more wrong flows", len(wrongs)-maxShown)
			break
		}
		t.Errorf("%s", w)
	}
	return wrong, flows
}

func proto(p ast.Protocol) corev1.Protocol {
	switch p {
	case ast.UDP:
		return corev1.ProtocolUDP
	case ast.SCTP:
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

type portProto struct {
	port  uint16
	proto ast.Protocol
}

func (pp portProto) String() string { return fmt.Sprintf("%d/%s", pp.port, proto(pp.proto)) }

// intent is who may connect to whom by compose's rules (docs/policy.md),
// from the compose model alone.
type intent struct {
	sys  *ast.System
	mode string // default, strict or none
	// public are the container ports, by service, that compose publishes
	// (ports:); loopback those published on a loopback host_ip only
	public, loopback map[string]map[portProto]bool
	// routed are the container ports, by service, that the HTTP router
	// reaches, with the selector of the router's pods
	routed map[string]map[portProto]*ast.PodSelector
	// ns is the namespace of the system's pods
	ns string
}

// routerPod is a pod that a selector of router pods selects: in the
// namespace its namespace labels name (another one when they name none),
// with its pod labels.
func routerPod(sel *ast.PodSelector) (netpol.Endpoint, map[string]string) {
	ns := "tycho-router"
	nsLabels := map[string]string{}
	for _, kv := range sel.NamespaceLabels {
		nsLabels[kv.Key] = kv.Value
		if kv.Key == netpol.NamespaceNameLabel {
			ns = kv.Value
		}
	}
	labels := map[string]string{}
	for _, kv := range sel.PodLabels {
		labels[kv.Key] = kv.Value
	}
	return netpol.Pod(ns, "router", labels), nsLabels
}

// selects reports whether sel selects pod, a pod of namespace ns with
// labels.
func selects(sel *ast.PodSelector, ns string, labels map[string]string) bool {
	for _, kv := range sel.NamespaceLabels {
		if kv.Key != netpol.NamespaceNameLabel || kv.Value != ns {
			return false
		}
	}
	for _, kv := range sel.PodLabels {
		if labels[kv.Key] != kv.Value {
			return false
		}
	}
	return true
}

// netNS is the service whose network namespace s uses: itself, or the end
// of its chain of network_mode: service:X.
func (in *intent) netNS(s *ast.Service) *ast.Service {
	seen := map[string]bool{s.Name: true}
	for {
		t, ok := strings.CutPrefix(s.NetworkMode, "service:")
		if !ok {
			return s
		}
		next := in.sys.Service(t)
		if next == nil || seen[next.Name] {
			return s
		}
		seen[next.Name] = true
		s = next
	}
}

// networks are the compose networks s is attached to.
func (in *intent) networks(s *ast.Service) []string {
	ns := in.netNS(s)
	if ns.NetworkMode == "none" || ns.NetworkMode == "host" {
		return nil
	}
	var out []string
	for _, n := range ns.Networks {
		out = append(out, n.Network)
	}
	return out
}

func (in *intent) shared(a, b *ast.Service) (string, bool) {
	for _, x := range in.networks(a) {
		for _, y := range in.networks(b) {
			if x == y {
				return x, true
			}
		}
	}
	return "", false
}

// egress is how far s may connect: "open", "internal" (its networks and
// DNS), "listed" (its networks, DNS and x-tycho.egress) or "none" (DNS).
func (in *intent) egress(s *ast.Service) string {
	if in.mode == "none" {
		return "open"
	}
	if in.netNS(s).NetworkMode == "none" {
		return "none"
	}
	nets := in.networks(s)
	internal := len(nets) > 0
	for _, n := range nets {
		if nw := in.sys.Network(n); nw == nil || !nw.Internal {
			internal = false
		}
	}
	switch {
	case internal:
		return "internal"
	case s.Egress != nil:
		return "listed"
	}
	return "open"
}

// declares reports whether s declares container port pp (ports: or
// expose:).
func declares(s *ast.Service, pp portProto) bool {
	for _, p := range s.Ports {
		if p.Target == pp.port && p.Protocol == pp.proto {
			return true
		}
	}
	return false
}

// published reports whether compose makes container port pp of s
// reachable from other machines.
func (in *intent) published(s *ast.Service, pp portProto) bool {
	return in.public[s.Name][pp]
}

// router is the selector of the router's pods when pp of s is routed.
func (in *intent) router(s *ast.Service, pp portProto) (*ast.PodSelector, bool) {
	sel, ok := in.routed[s.Name][pp]
	return sel, ok
}

func (in *intent) clients(s *ast.Service) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range s.Clients {
		if p, err := netip.ParsePrefix(c.CIDR); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// podToPod: a pod of a connecting to a pod of b.
func (in *intent) podToPod(a, b *ast.Service, aLabels map[string]string, pp portProto) (bool, string) {
	if in.mode == "none" {
		return true, "--network-policy none"
	}
	net, peer := in.shared(a, b)
	// published ports are reached from anywhere a pod may go, unless
	// x-tycho.clients names the addresses (pods have none of them);
	// routed ports only from the router's pods
	sel, routed := in.router(b, pp)
	public := in.published(b, pp) && !routed && len(b.Clients) == 0
	var inOK bool
	var why string
	switch {
	case peer && in.mode == "default":
		inOK, why = true, "both on network "+net
	case peer && declares(b, pp):
		inOK, why = true, "both on network "+net+" and the port is declared (strict)"
	case public:
		inOK, why = true, "the port is published"
	case routed && selects(sel, in.ns, aLabels):
		inOK, why = true, "the port is routed and the router's selector selects "+a.Name+"'s pods"
	case routed:
		why = "no shared network; the port is routed, reached by the router's pods only"
	case peer:
		why = "both on network " + net + ", but strict mode and the port is not declared"
	case in.published(b, pp):
		why = "no shared network; the port is published only to x-tycho.clients"
	default:
		why = "no shared network"
	}
	if !inOK {
		return false, why
	}
	switch e := in.egress(a); e {
	case "open":
		return true, why
	case "none":
		return false, a.Name + " has network_mode none"
	default:
		if peer {
			return true, why
		}
		return false, why + ", but " + a.Name + "'s egress is " + e
	}
}

// outsideTo: an address outside the cluster connecting to a pod of b.
func (in *intent) outsideTo(ip netip.Addr, b *ast.Service, pp portProto) (bool, string) {
	if in.mode == "none" {
		return true, "--network-policy none"
	}
	if _, routed := in.router(b, pp); routed {
		return false, "the port is routed: only the router's pods reach it"
	}
	if !in.published(b, pp) {
		if in.loopback[b.Name][pp] {
			return false, "the port is published on a loopback host_ip only (compose: reachable from the host alone)"
		}
		return false, "the port is not published"
	}
	cl := in.clients(b)
	if len(cl) == 0 {
		return true, "the port is published (ports:)"
	}
	for _, c := range cl {
		if c.Contains(ip) {
			return true, "the port is published to " + c.String()
		}
	}
	return false, "the port is published to x-tycho.clients only"
}

// toOutside: a pod of a connecting to an address outside the cluster.
func (in *intent) toOutside(a *ast.Service, ip netip.Addr, pp portProto) (bool, string) {
	switch e := in.egress(a); e {
	case "open":
		return true, "egress is open"
	case "none":
		return false, "network_mode none"
	case "internal":
		return false, "only on internal networks"
	}
	for _, r := range a.Egress {
		cidr, err := netip.ParsePrefix(r.CIDR)
		if err != nil || !cidr.Contains(ip) {
			continue
		}
		if len(r.Ports) == 0 {
			return true, "x-tycho.egress allows " + r.CIDR
		}
		for _, p := range r.Ports {
			end := p.EndPort
			if end < p.Port {
				end = p.Port
			}
			if p.Protocol == pp.proto && p.Port <= pp.port && pp.port <= end {
				return true, "x-tycho.egress allows " + r.CIDR + " on this port"
			}
		}
	}
	return false, "x-tycho.egress does not list it"
}

// probePorts are the ports a peer tries on b: its container ports and one
// it does not declare.
func (in *intent) probePorts(b *ast.Service) []portProto {
	var out []portProto
	seen := map[portProto]bool{}
	for _, p := range b.Ports {
		pp := portProto{p.Target, p.Protocol}
		if !seen[pp] {
			seen[pp] = true
			out = append(out, pp)
		}
	}
	return append(out, unusedPort(seen))
}

// outsidePorts are the published container ports of b, its other
// declared ports and one it does not declare.
func (in *intent) outsidePorts(b *ast.Service) []portProto {
	return in.probePorts(b)
}

func unusedPort(seen map[portProto]bool) portProto {
	pp := portProto{undeclaredPort, ast.TCP}
	for seen[pp] {
		pp.port--
	}
	return pp
}

// clientProbes are the outside addresses that try b: the test address,
// and the first address of each x-tycho.clients CIDR.
func (in *intent) clientProbes(b *ast.Service) []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr(outsideIP)}
	for _, c := range in.clients(b) {
		out = append(out, c.Masked().Addr())
	}
	return out
}

// egressProbes are the outside addresses a tries: the test address and
// the first address of each x-tycho.egress CIDR.
func (in *intent) egressProbes(a *ast.Service) []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr(outsideIP)}
	for _, r := range a.Egress {
		if p, err := netip.ParsePrefix(r.CIDR); err == nil {
			out = append(out, p.Masked().Addr())
		}
	}
	return out
}

// egressPorts are 443/TCP and the first and last port of each
// x-tycho.egress range, and one past it.
func (in *intent) egressPorts(a *ast.Service) []portProto {
	out := []portProto{{httpsPort, ast.TCP}}
	seen := map[portProto]bool{out[0]: true}
	add := func(pp portProto) {
		if pp.port != 0 && !seen[pp] {
			seen[pp] = true
			out = append(out, pp)
		}
	}
	for _, r := range a.Egress {
		for _, p := range r.Ports {
			add(portProto{p.Port, p.Protocol})
			end := max(p.EndPort, p.Port)
			add(portProto{end, p.Protocol})
			if end < 65535 {
				add(portProto{end + 1, p.Protocol})
			}
		}
	}
	return out
}

// edgeCases are systems that exercise the corners of the network rules
// which no golden case covers.
var edgeCases = []struct{ name, args, compose string }{
	{name: "network-mode-chain", compose: `
name: app
services:
  a:
    image: busybox:1.37
    network_mode: service:b
  b:
    image: busybox:1.37
    network_mode: service:c
  c:
    image: busybox:1.37
    networks: [priv]
  d:
    image: busybox:1.37
    networks: [priv]
  e:
    image: busybox:1.37
networks:
  priv: {}
`},
	{name: "network-mode-service-of-none", compose: `
name: app
services:
  a:
    image: busybox:1.37
    network_mode: service:x
  x:
    image: busybox:1.37
    network_mode: none
  y:
    image: busybox:1.37
`},
	{name: "network-mode-service-of-internal", compose: `
name: app
services:
  a:
    image: busybox:1.37
    network_mode: service:db
  db:
    image: postgres:16
    networks: [back]
  web:
    image: nginx:1.27
    networks: [front]
networks:
  front: {}
  back: {internal: true}
`},
	{name: "network-names-normalised-alike", compose: `
name: app
services:
  a:
    image: busybox:1.37
    networks: [front_end]
  b:
    image: busybox:1.37
    networks: [front-end]
  c:
    image: busybox:1.37
    networks: [Front-End]
networks:
  front_end: {}
  front-end: {}
  Front-End: {}
`},
	{name: "x-tycho-labels-network-label", compose: `
name: app
x-tycho:
  labels:
    network.tycho.dev/back: "true"
services:
  web:
    image: nginx:1.27
    networks: [front]
  db:
    image: postgres:16
    networks: [back]
networks:
  front: {}
  back: {}
`},
	// a name shared across networks labels the pods of all its holders:
	// the label must open no flow
	{name: "shared-names-strict", args: "--network-policy strict", compose: `
name: app
services:
  a:
    image: busybox:1.37
    expose: ["80"]
    networks:
      front:
        aliases: [api]
  b:
    image: busybox:1.37
    expose: ["81"]
    networks:
      back:
        aliases: [api, c]
  c:
    image: busybox:1.37
    container_name: api
    networks: [back]
  d:
    image: busybox:1.37
    links: ["a:api", "b:a"]
    networks: [front]
networks:
  front: {}
  back: {}
`},
	{name: "network-mode-none-with-egress", compose: `
name: app
services:
  batch:
    image: busybox:1.37
    network_mode: none
    x-tycho:
      egress:
        - cidr: 203.0.113.0/24
`},
	{name: "strict-udp-and-ranges", args: "--network-policy strict", compose: `
name: app
services:
  dns:
    image: busybox:1.37
    expose: ["53/udp", "8000-8002"]
  client:
    image: busybox:1.37
    ports: ["8080:80/udp"]
    x-tycho:
      clients: ["203.0.113.0/28", "2001:db8::/32"]
      egress:
        - cidr: 198.51.100.0/24
          ports: ["53/udp", "1000-1010"]
`},
}

// TestConnectivityEdgeCases checks the flows of edgeCases.
func TestConnectivityEdgeCases(t *testing.T) {
	t.Parallel()
	ta := &tally{}
	t.Run("cases", func(t *testing.T) {
		for _, e := range edgeCases {
			c := goldencase.Case{Name: e.name, Env: map[string]string{}, Args: strings.Fields(e.args),
				Archive: &txtar.Archive{Files: []txtar.File{{Name: "compose.yaml", Data: []byte(strings.TrimPrefix(e.compose, "\n"))}}}}
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				checkGolden(t, c, ta)
			})
		}
	})
	ta.log(t, "edge cases")
}

// routers are the selectors of the router pods that reach b's routed
// ports, each once.
func (in *intent) routers(b *ast.Service) []*ast.PodSelector {
	var out []*ast.PodSelector
	for _, p := range b.Ports {
		sel, ok := in.router(b, portProto{p.Target, p.Protocol})
		if ok && !slices.Contains(out, sel) {
			out = append(out, sel)
		}
	}
	return out
}

// routerTo: a pod of the router that sel selects connecting to a pod of b.
func (in *intent) routerTo(sel *ast.PodSelector, b *ast.Service, pp portProto) (bool, string) {
	if in.mode == "none" {
		return true, "--network-policy none"
	}
	if s, routed := in.router(b, pp); routed {
		if s == sel || selectorsEqual(s, sel) {
			return true, "the port is routed by this router"
		}
		return false, "the port is routed by another router"
	}
	if in.published(b, pp) && len(b.Clients) == 0 {
		return true, "the port is published"
	}
	return false, "the port is neither routed nor published to anyone"
}

func selectorsEqual(a, b *ast.PodSelector) bool {
	return slices.Equal(a.NamespaceLabels, b.NamespaceLabels) && slices.Equal(a.PodLabels, b.PodLabels)
}
