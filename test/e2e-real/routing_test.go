package e2ereal

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// controllerObjects put the probe (HTTP on 80, TCP on 7000) behind the
// controller, by hand: two Ingresses (by host, by path), two HTTPRoutes
// when the Gateway provider runs, and a NetworkPolicy that admits the
// controller's pods on 80 alone, as a routed port's policy does.
const controllerObjects = `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: %[1]s}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: probe}}
  template:
    metadata: {labels: {app.kubernetes.io/name: probe}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: probe
        image: tycho.test/probe:e2e
        command: ["/probe", "serve", "80/http", "7000"]
        env: [{name: PROBE_NAME, value: controller-probe}]
---
apiVersion: v1
kind: Service
metadata: {name: probe, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: probe}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: probe, namespace: %[1]s}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: probe}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %[2]s}}
      podSelector: {matchLabels: {app.kubernetes.io/name: traefik}}
    ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: by-host, namespace: %[1]s}
spec:
  ingressClassName: %[3]s
  rules:
  - host: probe.controller.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: probe, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: by-path, namespace: %[1]s}
spec:
  ingressClassName: %[3]s
  rules:
  - http:
      paths:
      - {path: /controller/probe, pathType: Prefix, backend: {service: {name: probe, port: {number: 80}}}}
`

const controllerRoutes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-host, namespace: %[1]s}
spec:
  parentRefs: [{name: %[3]s, namespace: %[2]s}]
  hostnames: [probe-gw.controller.test]
  rules:
  - backendRefs: [{name: probe, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-path, namespace: %[1]s}
spec:
  parentRefs: [{name: %[3]s, namespace: %[2]s}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /gateway/probe}}]
    backendRefs: [{name: probe, port: 80}]
`

// outsideCompose is a system whose one pod requests others' pods: it is
// neither the controller nor part of the system under test.
const outsideCompose = `name: outside
services:
  client:
    image: tycho.test/probe:e2e
    command: ["/probe", "sleep"]
`

// TestE2ERealController checks the harness's ingress controller with
// hand-written objects: from the host, outside the pod network, requests
// through Traefik reach the probe by Host header and by path, through an
// Ingress and (when its provider runs) a Gateway API HTTPRoute; with
// NetworkPolicy enforced, the controller's pod is what the probe's policy
// sees (no address translation on the way), so it is admitted on 80 and
// refused on 7000, and a pod of another namespace is refused on 80.
func TestE2ERealController(t *testing.T) {
	need(t)
	t.Parallel()
	ing := ingressController(t)
	const ns = "controller"
	manifests := fmt.Sprintf(controllerObjects, ns, ing.Namespace, ing.Class)
	if ing.Gateway != "" {
		gwNS, gwName, _ := strings.Cut(ing.Gateway, "/")
		manifests += "---\n" + fmt.Sprintf(controllerRoutes, ns, gwNS, gwName)
	}
	s := apply(t, ns, t.TempDir(), []byte(manifests))
	s.waitReady(3*time.Minute, "probe")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Traefik's log:\n%s", traefikLogs())
		}
	})

	const want = "controller-probe\n"
	waitRouted(t, ing.URL+"/", "probe.controller.test", want, time.Minute)
	waitRouted(t, ing.URL+"/controller/probe/x", "any.invalid", want, time.Minute)
	if ing.Gateway != "" {
		waitRouted(t, ing.URL+"/", "probe-gw.controller.test", want, time.Minute)
		waitRouted(t, ing.URL+"/gateway/probe/x", "any.invalid", want, time.Minute)
	} else {
		t.Log("no Gateway API CRDs: HTTPRoutes not checked")
	}
	// Neither a route's host nor its path: no route.
	if code, body, err := getHost(context.Background(), ing.URL+"/elsewhere", "any.invalid"); err != nil || code != 404 {
		t.Errorf("GET /elsewhere (Host any.invalid): want 404, got %d %q %v", code, body, err)
	}

	if node.Enforcer == "" {
		t.Log("NetworkPolicy not enforced: the controller's admission is not checked")
		return
	}
	probeIP := podIP(t, s, "probe")
	traefik := controllerSystem(t, ing)
	if !traefik.waitFlow("traefik", net.JoinHostPort(probeIP, "80"), true, 30*time.Second) {
		t.Errorf("the controller's pod -> probe:80: refused")
	}
	if !traefik.waitFlow("traefik", net.JoinHostPort(probeIP, "7000"), false, 30*time.Second) {
		t.Errorf("the controller's pod -> probe:7000: admitted, though the policy admits it on 80 only")
	}
	out := deploy(t, "controller-outside", map[string]string{"compose.yaml": outsideCompose}, nil)
	out.waitReady(3*time.Minute, "client")
	if !out.waitFlow("client", net.JoinHostPort(probeIP, "80"), false, 30*time.Second) {
		t.Errorf("a pod of another namespace -> probe:80: admitted, though the policy admits the controller only")
	}
}

// routingCompose has one service with two published ports: 80, a
// well-known web port and so routed, and 7000, which is not HTTP and stays
// a published port as without routing. It listens on 7001 too, a port it
// neither publishes nor exposes. The routed port admits the controller's
// pods, which x-tycho.route.from names.
const routingCompose = `name: routing
services:
  web:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80/http", "7000", "7001"]
    environment: {PROBE_NAME: web}
    ports: ["8080:80", "7000:7000"]
x-tycho:
  route:
    from: namespace=%s,pod=app.kubernetes.io/name=traefik
`

// routingUnsupported matches tycho compile's refusal of the routing flags
// (before issue 13's compiler side is in).
var routingUnsupported = regexp.MustCompile(`--expose must be|unknown flag: --(host|path-prefix|ingress-class)`)

// TestE2ERealRouting compiles a system with --expose ingress, once routed
// by host and once by path prefix, and checks from the host, through the
// controller, that the routed port answers; with NetworkPolicy enforced,
// that the controller's pod reaches the routed port but no other port of
// the pod the system does not publish, that a pod outside the system does
// not reach the routed port (it is open to the controller, not the world),
// and that the unrouted published port keeps the rule of published ports
// (open to every pod).
func TestE2ERealRouting(t *testing.T) {
	need(t)
	t.Parallel()
	compose := fmt.Sprintf(routingCompose, traefikNS)
	compile := func(ns string, args ...string) (string, []byte) {
		dir, manifests, err := compileSystem(t, ns, map[string]string{"compose.yaml": compose}, nil,
			append([]string{"--expose", "ingress", "--ingress-class", traefikClass}, args...)...)
		if err != nil && routingUnsupported.MatchString(err.Error()) {
			t.Skipf("needs --expose ingress: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		return dir, manifests
	}
	hostDir, hostManifests := compile("routing-host", "--host", "{service}.{system}.example.test")
	pathDir, pathManifests := compile("routing-path", "--path-prefix", "/{system}/{service}/")

	ing := ingressController(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Traefik's log:\n%s", traefikLogs())
		}
	})
	byHost := apply(t, "routing-host", hostDir, hostManifests)
	byPath := apply(t, "routing-path", pathDir, pathManifests)
	byHost.waitReady(3*time.Minute, "web")
	byPath.waitReady(3*time.Minute, "web")

	host, _ := ingressRule(t, byHost)
	if !strings.HasPrefix(host, "web.") || !strings.HasSuffix(host, ".example.test") {
		t.Errorf("Ingress host %q: want web.{system}.example.test", host)
	}
	waitRouted(t, ing.URL+"/", host, "web\n", time.Minute)
	_, path := ingressRule(t, byPath)
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(strings.TrimSuffix(path, "/"), "/web") {
		t.Errorf("Ingress path %q: want /{system}/web/", path)
	}
	waitRouted(t, ing.URL+strings.TrimSuffix(path, "/")+"/", "any.invalid", "web\n", time.Minute)

	if node.Enforcer == "" {
		t.Log("NetworkPolicy not enforced: the routed port's admission is not checked")
		return
	}
	webIP := podIP(t, byHost, "web")
	traefik := controllerSystem(t, ing)
	if !traefik.waitFlow("traefik", net.JoinHostPort(webIP, "80"), true, 30*time.Second) {
		t.Errorf("the controller's pod -> web:80 (routed): refused")
	}
	if !traefik.waitFlow("traefik", net.JoinHostPort(webIP, "7001"), false, 30*time.Second) {
		t.Errorf("the controller's pod -> web:7001 (neither routed nor published): admitted")
	}
	out := deploy(t, "routing-outside", map[string]string{"compose.yaml": outsideCompose}, nil)
	out.waitReady(3*time.Minute, "client")
	if !out.waitFlow("client", net.JoinHostPort(webIP, "80"), false, 30*time.Second) {
		t.Errorf("a pod outside the system -> web:80 (routed): admitted, though only the controller may")
	}
	if !out.waitFlow("client", net.JoinHostPort(webIP, "7001"), false, 30*time.Second) {
		t.Errorf("a pod outside the system -> web:7001: admitted")
	}
	if !out.waitFlow("client", net.JoinHostPort(webIP, "7000"), true, 30*time.Second) {
		t.Errorf("a pod outside the system -> web:7000 (published, not routed): refused, though published ports are open to every pod")
	}
}

// ingressRule returns the host and path of the first rule of the system's
// (only) Ingress.
func ingressRule(t *testing.T, s *system) (host, path string) {
	t.Helper()
	list, err := s.client.NetworkingV1().Ingresses(s.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || len(list.Items[0].Spec.Rules) == 0 || list.Items[0].Spec.Rules[0].HTTP == nil || len(list.Items[0].Spec.Rules[0].HTTP.Paths) == 0 {
		t.Fatalf("want one Ingress with a rule in %s, got %+v", s.ns, list.Items)
	}
	r := list.Items[0].Spec.Rules[0]
	return r.Host, r.HTTP.Paths[0].Path
}

// podIP is the address of the pod of svc.
func podIP(t *testing.T, s *system, svc string) string {
	t.Helper()
	p, err := s.pod(context.Background(), svc)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.PodIP == "" {
		t.Fatalf("pod %s has no address", p.Name)
	}
	return p.Status.PodIP
}

// controllerSystem is the controller's namespace as a system, so that
// waitFlow("traefik", ...) runs the probe in the controller's pod (its
// image carries the probe).
func controllerSystem(t *testing.T, ing *ingress) *system {
	t.Helper()
	client, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &system{t: t, ns: ing.Namespace, client: client}
}
