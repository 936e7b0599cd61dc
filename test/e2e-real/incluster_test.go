package e2ereal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/internal/image"
	"github.com/tychoctl/tycho/test/realnode"
)

// apiImage is the name the test imports Tycho's image under: not
// deploy/'s ghcr.io/tychoctl/tycho:latest, which the kubelet would pull.
const (
	apiImage     = "tycho.test/tycho:e2e"
	apiNamespace = "tycho" // deploy/namespace.yaml
)

// inClusterOverlay is a kustomization over deploy/ as it is: Tycho's
// image by the imported name, never pulled, and the token Secret that
// deploy/deployment.yaml asks the operator to create.
const inClusterOverlay = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
images:
  - name: ghcr.io/tychoctl/tycho
    newName: tycho.test/tycho
    newTag: e2e
patches:
  - target: {kind: Deployment, name: tycho-api}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: IfNotPresent
secretGenerator:
  - name: tycho-api-token
    namespace: tycho
    literals: [token=%s]
    options:
      disableNameSuffixHash: true
`

const inClusterCompose = `name: incluster
services:
  web:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    expose: ["80"]
`

// TestInClusterAPI runs Tycho's own image, built by internal/image (make
// image), on the real node with deploy/'s manifests and least-privilege
// RBAC, and drives a start, a status and a delete through its API from the
// host, outside the pod network, with the Go client: the API reaches the
// API server with its service account, the system it starts runs, and
// after the delete nothing of the system is left; then deploy/'s objects
// are removed.
func TestInClusterAPI(t *testing.T) {
	need(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	kube, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	// The image, as make image builds it, imported as the node's runtime
	// would pull it.
	start := time.Now()
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tycho")
	if err := image.BuildBinary(ctx, root, bin, "e2e", ""); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "tycho-image.tar")
	res, err := image.Write(archive, image.Options{Binary: bin, Ref: apiImage, Version: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.ImportImage(ctx, archive, apiImage); err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s (%s, %.1f MB) built and imported in %s", res.Ref, res.Digest, float64(res.Size)/1e6, since(start))

	// The API server where the pod's in-cluster configuration looks.
	if err := node.ExposeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}

	// deploy/, with the image and the token.
	start = time.Now()
	token := randomHex(t)
	overlay := filepath.Join(dir, "overlay")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	// kustomize takes no absolute paths of resources.
	base, err := filepath.Rel(overlay, filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"),
		fmt.Appendf(nil, inClusterOverlay, base, token), 0o600); err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(dir, "deploy.yaml")
	out, err := exec.CommandContext(ctx, kubectl, "kustomize", overlay, "-o", manifests).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	t.Cleanup(func() { removeDeploy(t, kube, manifests) })
	if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc.Kubeconfig, "apply", "-f", manifests).CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	pod := waitAPIReady(ctx, t, kube)
	t.Logf("API pod %s Ready in %s", pod.Name, since(start))
	if c := pod.Spec.Containers[0]; c.Image != apiImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("API container image %s (%s), want %s (IfNotPresent)", c.Image, c.ImagePullPolicy, apiImage)
	}

	// The API from the host: deploy/'s Service at the node's address and
	// its node port. (client.FromKubeconfig would pick a kwok node's
	// address here, 127.0.0.1, where kube-proxy serves no node ports.)
	svc, err := kube.CoreV1().Services(apiNamespace).Get(ctx, client.ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("Service %s has no node port: %+v", client.ServiceName, svc.Spec.Ports)
	}
	url := "http://" + net.JoinHostPort(realnode.NodeIP, strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))
	start = time.Now()
	if err := waitHTTP(ctx, url+"/healthz", time.Minute); err != nil {
		out, _ := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
		t.Fatalf("the API at the node port: %v\nkube-proxy's rules:\n%s", err, grepLines(string(out), "tycho-api"))
	}
	t.Logf("API answers at %s after %s", url, since(start))
	c, err := client.New(url, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	noToken, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noToken.Status(ctx, ""); err == nil {
		t.Error("the API answered a call without the token")
	}

	// start -> status -> delete.
	start = time.Now()
	started, err := c.Start(ctx, api.StartRequest{Name: "incluster", System: api.YAMLSystem(inClusterCompose), Wait: true})
	if err != nil {
		t.Fatalf("start through %s: %v\nAPI logs:\n%s", url, err, apiLogs(pod.Name))
	}
	t.Logf("started %s in namespace %s in %s", started.SID, started.Namespace, since(start))
	if !started.Ready {
		t.Errorf("start with wait returned a system that is not ready: %+v", started)
	}
	sts, err := c.Status(ctx, started.SID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].State != api.StateRunning || !sts[0].IsReady || sts[0].Ready != 1 || sts[0].Total != 1 {
		t.Errorf("status %+v, want one running system with 1/1 ready", sts)
	}
	pods, err := kube.CoreV1().Pods(started.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "tycho-guid=" + started.SID})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning || !podReady(&pods.Items[0]) {
		t.Errorf("pods of the system: %d, want 1 Running and Ready: %v", len(pods.Items), describePods(pods.Items))
	}

	start = time.Now()
	del, err := c.Delete(ctx, started.SID)
	if err != nil {
		t.Fatal(err)
	}
	if del.Pending() {
		if err := c.WaitGone(ctx, started.SID, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("deleted %d objects in %s", del.Deleted, since(start))
	if _, err := c.Status(ctx, started.SID); !client.IsNotFound(err) {
		t.Errorf("status after the delete: %v, want not found", err)
	}
	if left := leftovers(ctx, kube, started.SID, started.Namespace); len(left) > 0 {
		t.Errorf("left after the delete: %s", strings.Join(left, ", "))
	}
	// deploy/'s ClusterRole was enough for everything the API did,
	// including what it does at start-up (resuming deletions).
	if logs := apiLogs(pod.Name); strings.Contains(logs, "forbidden") {
		t.Errorf("the API was refused something by RBAC:\n%s", logs)
	}
}

// waitAPIReady waits for the Ready pod of deploy/'s Deployment.
func waitAPIReady(ctx context.Context, t *testing.T, kube kubernetes.Interface) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last []corev1.Pod
	for {
		pods, err := kube.CoreV1().Pods(apiNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=tycho-api"})
		if err == nil {
			last = pods.Items
			for i := range pods.Items {
				if podReady(&pods.Items[i]) {
					return &pods.Items[i]
				}
			}
		}
		select {
		case <-ctx.Done():
			logs := ""
			if len(last) > 0 {
				logs = apiLogs(last[0].Name)
			}
			t.Fatalf("the API pod is not Ready: %s\nlogs:\n%s", describePods(last), logs)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeDeploy deletes deploy/'s objects and checks that none is left.
func removeDeploy(t *testing.T, kube kubernetes.Interface, manifests string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc.Kubeconfig, "delete", "--wait", "--ignore-not-found", "-f", manifests).CombinedOutput(); err != nil {
		t.Errorf("removing deploy/: %v\n%s", err, out)
		return
	}
	var left []string
	if _, err := kube.CoreV1().Namespaces().Get(ctx, apiNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		left = append(left, "namespace "+apiNamespace)
	}
	if _, err := kube.RbacV1().ClusterRoles().Get(ctx, "tycho-api", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		left = append(left, "clusterrole tycho-api")
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, "tycho-api", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		left = append(left, "clusterrolebinding tycho-api")
	}
	if len(left) > 0 {
		t.Errorf("left after removing deploy/: %s", strings.Join(left, ", "))
	}
}

// leftovers lists what exists of the system guid: its namespace, and any
// object that carries its label in any namespace.
func leftovers(ctx context.Context, kube kubernetes.Interface, guid, ns string) []string {
	var left []string
	if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		left = append(left, fmt.Sprintf("namespace %s (%v)", ns, err))
	}
	sel := metav1.ListOptions{LabelSelector: "tycho-guid=" + guid}
	all := metav1.NamespaceAll
	for _, k := range []struct {
		kind string
		list func() (int, error)
	}{
		{"pods", func() (int, error) { l, err := kube.CoreV1().Pods(all).List(ctx, sel); return items(l, err) }},
		{"services", func() (int, error) { l, err := kube.CoreV1().Services(all).List(ctx, sel); return items(l, err) }},
		{"configmaps", func() (int, error) { l, err := kube.CoreV1().ConfigMaps(all).List(ctx, sel); return items(l, err) }},
		{"secrets", func() (int, error) { l, err := kube.CoreV1().Secrets(all).List(ctx, sel); return items(l, err) }},
		{"serviceaccounts", func() (int, error) { l, err := kube.CoreV1().ServiceAccounts(all).List(ctx, sel); return items(l, err) }},
		{"deployments", func() (int, error) { l, err := kube.AppsV1().Deployments(all).List(ctx, sel); return items(l, err) }},
		{"replicasets", func() (int, error) { l, err := kube.AppsV1().ReplicaSets(all).List(ctx, sel); return items(l, err) }},
		{"networkpolicies", func() (int, error) {
			l, err := kube.NetworkingV1().NetworkPolicies(all).List(ctx, sel)
			return items(l, err)
		}},
		{"endpointslices", func() (int, error) {
			l, err := kube.DiscoveryV1().EndpointSlices(all).List(ctx, sel)
			return items(l, err)
		}},
	} {
		n, err := k.list()
		if err != nil {
			left = append(left, fmt.Sprintf("%s: %v", k.kind, err))
		} else if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, k.kind))
		}
	}
	return left
}

// items is the length of a list's Items.
func items(l runtime.Object, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return meta.LenList(l), nil
}

func describePods(pods []corev1.Pod) string {
	if len(pods) == 0 {
		return "no pod"
	}
	var s []string
	for i := range pods {
		s = append(s, pods[i].Name+": "+describePod(&pods[i]))
	}
	return strings.Join(s, "\n")
}

// apiLogs returns the log of the API pod, for failure messages.
func apiLogs(pod string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc.Kubeconfig, "-n", apiNamespace, "logs", pod, "--tail=200").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return string(out)
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }
