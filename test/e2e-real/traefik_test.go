package e2ereal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tychoctl/tycho/test/realnode"
)

// ingress is the ingress controller on the real node: Traefik (built by
// test/realnode/build.sh) as a pod of namespace traefik, started by the
// first test that calls ingressController and left running until the
// tests end (stopIngress). It watches the API with the standard in-cluster
// configuration (its service account, the kubernetes Service, which
// realnode's ExposeAPIServer gives an endpoint), and serves its "web" entry point (port 8000 of the pod) on a
// NodePort of NodeIP, which the tests, outside the pod network, request.
type ingress struct {
	// Namespace is the controller's namespace (traefikNS); its pods carry
	// the label app.kubernetes.io/name=traefik. A routed port's
	// NetworkPolicy admits them by both.
	Namespace string
	// Class is the IngressClass (controller traefik.io/ingress-controller).
	Class string
	// Gateway is "NAMESPACE/NAME" of a Gateway (class GatewayClass, one
	// HTTP listener on the web entry point, routes from every
	// namespace), or "" when the Gateway API CRDs were not available.
	Gateway      string
	GatewayClass string
	// URL is the web entry point as the host reaches it:
	// http://NodeIP:NODEPORT.
	URL string
}

const (
	traefikNS    = "traefik"
	traefikClass = "traefik"
	// traefikGateway is the name of the Gateway in traefikNS.
	traefikGateway = "web"
)

var (
	ingressOnce sync.Once
	ingressVal  *ingress
	ingressErr  error
)

// ingressController starts the controller once per test binary and
// returns it; a test that cannot have it fails.
func ingressController(t *testing.T) *ingress {
	t.Helper()
	need(t)
	ingressOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		ingressVal, ingressErr = startIngress(ctx)
		if ingressErr == nil {
			fmt.Fprintf(os.Stderr, "e2e-real: Traefik up at %s in %s (gateway %q)\n", ingressVal.URL, time.Since(start).Round(10*time.Millisecond), ingressVal.Gateway)
		}
	})
	if ingressErr != nil {
		t.Fatalf("ingress controller: %v", ingressErr)
	}
	return ingressVal
}

// traefikRBAC is what the Ingress and Gateway providers read and write, as
// Traefik's documentation lists it (kubernetes-gateway-rbac.yml and the
// Ingress provider's page; no pods: no OpenTelemetry).
const traefikRBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: traefik}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tycho-e2e-traefik}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [services, secrets, configmaps, nodes]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, ingressclasses]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses/status]
  verbs: [update]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, backendtlspolicies]
  verbs: [get, list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses/status, gateways/status, httproutes/status, grpcroutes/status, backendtlspolicies/status]
  verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tycho-e2e-traefik}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tycho-e2e-traefik}
subjects:
- {kind: ServiceAccount, name: traefik, namespace: traefik}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
`

// traefikGatewayObjects are the GatewayClass and Gateway of the Gateway
// provider: the listener's port is the web entry point's.
const traefikGatewayObjects = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: traefik}
spec:
  gatewayClassName: traefik
  listeners:
  - name: http
    protocol: HTTP
    port: 8000
    allowedRoutes:
      namespaces: {from: All}
`

// traefikDeployment runs the controller: the web entry point on 8000, ping
// (the readiness probe) on 8080 and the providers given. It finds the API
// server as in any cluster, from KUBERNETES_SERVICE_HOST and the service
// account's files.
const traefikDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: traefik
  namespace: traefik
  labels: {app.kubernetes.io/name: traefik}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: traefik}
  template:
    metadata:
      labels: {app.kubernetes.io/name: traefik}
    spec:
      serviceAccountName: traefik
      terminationGracePeriodSeconds: 5
      containers:
      - name: traefik
        image: %[1]s
        args:
        - --global.checknewversion=false
        - --global.sendanonymoususage=false
        - --log.level=INFO
        - --accesslog=true
        - --ping=true
        - --entrypoints.web.address=:8000
        - --entrypoints.traefik.address=:8080
        - --providers.kubernetesingress=true
%[2]s
        ports:
        - {name: web, containerPort: 8000}
        - {name: admin, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /ping, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: traefik}
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: traefik}
  ports:
  - {name: web, port: 80, targetPort: 8000}
`

func startIngress(ctx context.Context) (*ingress, error) {
	bin := filepath.Join(node.BinDir, realnode.TraefikBinary)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: build the node binaries with test/realnode/build.sh (%s=%s lacks Traefik)", err, realnode.BinDirEnv, node.BinDir)
	}
	dir, err := os.MkdirTemp("", "tycho-e2e-traefik-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "traefik.tar")
	if err := realnode.WriteTraefikArchive(archive, bin, node.ProbePath(), "/bin/busybox"); err != nil {
		return nil, err
	}
	if err := node.ImportImage(ctx, archive, realnode.TraefikImage); err != nil {
		return nil, err
	}

	ing := &ingress{
		Namespace: traefikNS,
		Class:     traefikClass,
	}
	// The Gateway API CRDs, unless the control plane has them already.
	providers := ""
	if crds := filepath.Join(node.BinDir, realnode.GatewayCRDs); fileExists(crds) {
		if _, err := kubectlIn(ctx, nil, "get", "crd", "gateways.gateway.networking.k8s.io"); err != nil {
			if out, err := kubectlIn(ctx, nil, "apply", "--server-side", "-f", crds); err != nil {
				return nil, fmt.Errorf("installing the Gateway API CRDs: %v\n%s", err, out)
			}
		}
		if out, err := kubectlIn(ctx, nil, "wait", "--for=condition=Established", "--timeout=60s",
			"crd/gatewayclasses.gateway.networking.k8s.io", "crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io"); err != nil {
			return nil, fmt.Errorf("the Gateway API CRDs: %v\n%s", err, out)
		}
		providers = "        - --providers.kubernetesgateway=true\n"
		ing.Gateway = traefikNS + "/" + traefikGateway
		ing.GatewayClass = traefikClass
	}

	if err := node.ExposeAPIServer(ctx); err != nil {
		return nil, err
	}
	manifests := "apiVersion: v1\nkind: Namespace\nmetadata: {name: traefik}\n---\n" + traefikRBAC + "---\n" +
		fmt.Sprintf(traefikDeployment, realnode.TraefikImage, strings.TrimSuffix(providers, "\n"))
	if ing.Gateway != "" {
		manifests += "---\n" + traefikGatewayObjects
	}
	if out, err := kubectlIn(ctx, strings.NewReader(manifests), "apply", "-f", "-"); err != nil {
		return nil, fmt.Errorf("kubectl apply: %v\n%s\nmanifests:\n%s", err, out, manifests)
	}

	client, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		return nil, err
	}
	s := &system{ns: traefikNS, client: client}
	for {
		p, err := s.pod(ctx, "traefik")
		if err == nil && podReady(p) {
			break
		}
		if ctx.Err() != nil {
			state := fmt.Sprint(err)
			if p != nil {
				state = describePod(p)
			}
			logs, _ := s.kubectl(context.Background(), "logs", "deploy/traefik", "--tail=30")
			return nil, fmt.Errorf("Traefik not Ready: %s\n%s", state, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	svc, err := client.CoreV1().Services(traefikNS).Get(ctx, "traefik", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	ing.URL = fmt.Sprintf("http://%s:%d", realnode.NodeIP, svc.Spec.Ports[0].NodePort)
	// Reachable from the host once kube-proxy has programmed the
	// NodePort: Traefik answers 404 for what no route matches.
	for {
		r, err := getHost(ctx, ing.URL+"/", "no-route.invalid")
		if err == nil && r.code == http.StatusNotFound {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("Traefik's NodePort %s: got %d, %v", ing.URL, r.code, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ing.Gateway != "" {
		if out, err := kubectlIn(ctx, nil, "-n", traefikNS, "wait", "--for=condition=Programmed", "--timeout=60s", "gateway/"+traefikGateway); err != nil {
			logs, _ := s.kubectl(context.Background(), "logs", "deploy/traefik", "--tail=30")
			return nil, fmt.Errorf("Gateway %s not Programmed: %v\n%s\n%s", ing.Gateway, err, out, logs)
		}
	}
	return ing, nil
}

// stopIngress removes the controller, if it was started, before the node
// stops: its Deployment would otherwise recreate the pods that the node's
// drain deletes. Deleting the Deployment in the foreground waits for its
// pods to go.
func stopIngress() {
	if ingressVal == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := kubectlIn(ctx, nil, "-n", traefikNS, "delete", "deployment", "traefik", "--cascade=foreground", "--wait=true", "--timeout=45s"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: deleting Traefik: %v\n%s", err, out)
	}
	_, _ = kubectlIn(ctx, nil, "delete", "namespace", traefikNS, "--wait=false")
}

// kubectlIn runs kubectl with the admin kubeconfig and stdin.
func kubectlIn(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// reply is an HTTP answer through the controller.
type reply struct {
	code int
	body string
	// path is the path the probe says it received (its Probe-Path
	// header): "" when the probe did not answer.
	path string
}

// probePathHeader is test/probe's PathHeader.
const probePathHeader = "Probe-Path"

// getHost requests url with the Host header host (the URL's when empty).
func getHost(ctx context.Context, url, host string) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return reply{}, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return reply{code: resp.StatusCode, body: string(b), path: resp.Header.Get(probePathHeader)}, err
}

// waitRouted requests url with Host host until the probe answers 200 with
// body want, having received the request at path (or timeout passes), and
// reports the last answer on failure.
func waitRouted(t *testing.T, url, host, want, path string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	for {
		r, err := getHost(ctx, url, host)
		if err == nil && r.code == http.StatusOK && r.body == want && r.path == path {
			t.Logf("GET %s (Host %s): %q at %s after %s", url, host, strings.TrimSpace(r.body), r.path, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			t.Errorf("GET %s (Host %s): want 200 %q at path %s, got %d %q at path %q, %v after %s", url, host, want, path, r.code, r.body, r.path, err, timeout)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// traefikLogs is the tail of the controller's log, for failure messages.
func traefikLogs() string {
	out, err := kubectlIn(context.Background(), nil, "-n", traefikNS, "logs", "deploy/traefik", "--tail=40")
	if err != nil {
		return fmt.Sprintf("(kubectl logs: %v) %s", err, out)
	}
	return out
}
