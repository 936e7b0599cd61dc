package e2ereal

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
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
	waitRouted(t, ing.URL+"/", "probe.controller.test", want, "/", time.Minute)
	waitRouted(t, ing.URL+"/controller/probe/x", "any.invalid", want, "/controller/probe/x", time.Minute)
	if ing.Gateway != "" {
		waitRouted(t, ing.URL+"/", "probe-gw.controller.test", want, "/", time.Minute)
		waitRouted(t, ing.URL+"/gateway/probe/x", "any.invalid", want, "/gateway/probe/x", time.Minute)
	} else {
		t.Log("no Gateway API CRDs: HTTPRoutes not checked")
	}
	// Neither a route's host nor its path: no route.
	if r, err := getHost(context.Background(), ing.URL+"/elsewhere", "any.invalid"); err != nil || r.code != 404 {
		t.Errorf("GET /elsewhere (Host any.invalid): want 404, got %d %q %v", r.code, r.body, err)
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
var routingUnsupported = regexp.MustCompile(`--expose must be|unknown flag: --(host|path-prefix|ingress-class|gateway|strip-prefix)`)

// routingMode is one API a routed port is reached by. The controller
// serves the routes of both modes on one entry point: their host and path
// templates differ.
type routingMode struct {
	name string
	// args select the mode and its controller.
	args []string
	// host and pathPrefix are the templates (--host, --path-prefix).
	host, pathPrefix string
	// strip adds --strip-prefix to the path route: the probe then
	// receives the path below the prefix.
	strip bool
	// rule reads the host and path of the system's one route.
	rule func(t *testing.T, s *system) (host, path string)
}

var routingModes = []routingMode{
	{
		name:       "ingress",
		args:       []string{"--expose", "ingress", "--ingress-class", traefikClass},
		host:       "{service}.{system}.example.test",
		pathPrefix: "/{system}/{service}/",
		rule:       ingressRule,
	},
	{
		name:       "gateway",
		args:       []string{"--expose", "gateway", "--gateway", traefikNS + "/" + traefikGateway},
		host:       "{service}.{system}.gateway.test",
		pathPrefix: "/gateway/{system}/{service}/",
		strip:      true,
		rule:       httpRouteRule,
	},
}

// checkWebSocket opens a TCP connection from the host to the controller's
// entry point (base, http://ADDR), sends a WebSocket upgrade request for
// path with Host host, and checks that the probe behind the route answers
// 101 with the accept value of RFC 6455 for the key, having received the
// request at received, and that bytes written after the 101 come back
// through the router (the probe echoes them). Run it once the route
// answers GET (waitRouted).
func checkWebSocket(t *testing.T, base, host, path, received string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	what := fmt.Sprintf("WebSocket upgrade of %s (Host %s) through %s", path, host, u.Host)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := base64.StdEncoding.EncodeToString(nonce)
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Errorf("%s: sending the request: %v", what, err)
		return
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s: reading the answer: %v", what, err)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Errorf("%s: %s %q, want 101 Switching Protocols", what, resp.Status, body)
		return
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != accept {
		t.Errorf("%s: Sec-WebSocket-Accept %q, want %q (key %s)", what, got, accept, key)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Errorf("%s: Upgrade %q, want websocket", what, got)
	}
	if got := resp.Header.Get(probePathHeader); got != received {
		t.Errorf("%s: the probe received path %q, want %q", what, got, received)
	}
	for _, msg := range []string{"hello through the router\n", "and again\n"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Errorf("%s: writing after the 101: %v", what, err)
			return
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Errorf("%s: echo %q, %v; want %q", what, got, err, msg)
			return
		}
	}
	t.Logf("%s: 101, accept %s, echo ok", what, accept)
}

// TestE2ERealRouting compiles a system with --expose ingress and with
// --expose gateway, each once routed by host and once by path prefix
// (stripped through the Gateway's HTTPRoute), and checks from the host,
// through the controller, that the routed port answers, at the path the
// route promises, and takes a WebSocket upgrade (checkWebSocket); with NetworkPolicy enforced, that the controller's pod
// reaches the routed port but no other port of the pod the system does
// not publish, that a pod outside the system does not reach the routed
// port (it is open to the controller, not the world), and that the
// unrouted published port keeps the rule of published ports (open to
// every pod).
func TestE2ERealRouting(t *testing.T) {
	need(t)
	t.Parallel()
	compose := fmt.Sprintf(routingCompose, traefikNS)
	for _, m := range routingModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			compile := func(ns string, args ...string) (string, []byte) {
				dir, manifests, err := compileSystem(t, ns, map[string]string{"compose.yaml": compose}, nil, append(m.args, args...)...)
				if err != nil && routingUnsupported.MatchString(err.Error()) {
					t.Skipf("needs --expose %s: %v", m.name, err)
				}
				if err != nil {
					t.Fatal(err)
				}
				return dir, manifests
			}
			nsHost, nsPath := "routing-"+m.name+"-host", "routing-"+m.name+"-path"
			hostDir, hostManifests := compile(nsHost, "--host", m.host)
			pathArgs := []string{"--path-prefix", m.pathPrefix}
			if m.strip {
				pathArgs = append(pathArgs, "--strip-prefix")
			}
			pathDir, pathManifests := compile(nsPath, pathArgs...)

			ing := ingressController(t)
			if m.name == "gateway" && ing.Gateway == "" {
				t.Skip("no Gateway API CRDs: HTTPRoutes not checked")
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("Traefik's log:\n%s", traefikLogs())
				}
			})
			byHost := apply(t, nsHost, hostDir, hostManifests)
			byPath := apply(t, nsPath, pathDir, pathManifests)
			byHost.waitReady(3*time.Minute, "web")
			byPath.waitReady(3*time.Minute, "web")

			wantHost := strings.NewReplacer("{service}", "web", "{system}", "routing").Replace(m.host)
			if host, path := m.rule(t, byHost); host != wantHost || path != "/" {
				t.Errorf("route by host: host %q, path %q; want %q, /", host, path, wantHost)
			}
			// routed checks a route with a GET and a WebSocket
			// upgrade: Host host, path path; the probe receives
			// path received.
			routed := func(host, path, received string) {
				t.Helper()
				waitRouted(t, ing.URL+path, host, "web\n", received, time.Minute)
				checkWebSocket(t, ing.URL, host, path, received)
			}
			routed(wantHost, "/x", "/x")

			wantPrefix := strings.NewReplacer("{service}", "web", "{system}", "routing").Replace(m.pathPrefix)
			if host, path := m.rule(t, byPath); host != "" || path != wantPrefix {
				t.Errorf("route by path: host %q, path %q; want any host, %q", host, path, wantPrefix)
			}
			// the probe sees the whole path, or the part below the
			// prefix when stripped
			received := wantPrefix + "x"
			if m.strip {
				received = "/x"
			}
			routed("any.invalid", wantPrefix+"x", received)

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
			out := deploy(t, "routing-"+m.name+"-outside", map[string]string{"compose.yaml": outsideCompose}, nil)
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
		})
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

// httpRouteRule returns the hostname (the first, "" for none) and the
// path prefix of the first match of the system's (only) HTTPRoute.
func httpRouteRule(t *testing.T, s *system) (host, path string) {
	t.Helper()
	out, err := s.kubectl(context.Background(), "get", "httproutes.gateway.networking.k8s.io", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl get httproutes: %v\n%s", err, out)
	}
	var list gatewayv1.HTTPRouteList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("kubectl get httproutes: %v\n%s", err, out)
	}
	if len(list.Items) != 1 || len(list.Items[0].Spec.Rules) == 0 || len(list.Items[0].Spec.Rules[0].Matches) == 0 ||
		list.Items[0].Spec.Rules[0].Matches[0].Path == nil || list.Items[0].Spec.Rules[0].Matches[0].Path.Value == nil {
		t.Fatalf("want one HTTPRoute with a path match in %s, got %s", s.ns, out)
	}
	r := list.Items[0].Spec
	if len(r.Hostnames) > 0 {
		host = string(r.Hostnames[0])
	}
	return host, *r.Rules[0].Matches[0].Path.Value
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
	return systemIn(t, ing.Namespace)
}
