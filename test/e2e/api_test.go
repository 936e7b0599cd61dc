package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/server"
)

const apiToken = "e2e-api-token-0123456789abcdef"

// apiSystem is a two-service system with a bind mount (which becomes a
// volume) and an interpolated image tag.
const apiSystem = `services:
  web:
    image: registry.example/web:${TAG:-1}
    ports:
      - "8080:80"
    volumes:
      - ./html:/usr/share/nginx/html:ro
  cache:
    image: registry.example/cache:7
`

// apiServer serves the API over the shared cluster as cfg's user (nil:
// the admin), exposing published ports as node ports (the cluster has no
// load balancer), and returns a client of it.
func apiServer(t *testing.T, cfg *rest.Config) (*client.Client, *httptest.Server) {
	t.Helper()
	return apiServerWith(t, cfg, nil)
}

// apiServerWith is apiServer with options changed by mod.
func apiServerWith(t *testing.T, cfg *rest.Config, mod func(*server.Options)) (*client.Client, *httptest.Server) {
	t.Helper()
	if cfg == nil {
		cfg = shared(t).RESTConfig()
	}
	cfg.QPS, cfg.Burst = 100, 200
	ec, err := executor.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := server.Options{
		Systems:       &server.Cluster{Client: ec, PollInterval: 250 * time.Millisecond},
		Tokens:        []string{apiToken},
		Compile:       server.CompileOptions{Expose: ast.ExposeNodePort},
		StartTimeout:  3 * time.Minute,
		DeleteTimeout: 3 * time.Minute,
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validatingHandler(t, s))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL, client.WithToken(apiToken))
	if err != nil {
		t.Fatal(err)
	}
	return c, ts
}

// validatingHandler serves h and checks each of its responses against
// the OpenAPI document, with kin-openapi's router and openapi3filter.
func validatingHandler(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	doc, err := server.LoadDocument()
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		route, params, err := router.FindRoute(r)
		if err != nil {
			t.Errorf("%s %s: no operation: %v", r.Method, r.URL.Path, err)
		} else {
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
				Status:                 rec.Code,
				Header:                 rec.Header(),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			}
			in.SetBodyBytes(rec.Body.Bytes())
			if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
				t.Errorf("%s %s: response %d does not match the OpenAPI document: %v", r.Method, r.URL.Path, rec.Code, err)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// deployRBAC installs deploy/'s ClusterRole for a ServiceAccount of a
// new namespace, as deploy/ does for the API's, and returns the admin's
// configuration impersonating it: what the API does with it, deploy/
// allows.
func deployRBAC(t *testing.T) *rest.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "clusterrole.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("deploy/clusterrole.yaml: %v", err)
	}
	kube := clientset(t)
	ctx := context.Background()
	ns := newNamespace(t, "restricted")
	sa, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tycho-api"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.ObjectMeta = metav1.ObjectMeta{Name: "tycho-api-" + ns}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns}}}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	cfg := shared(t).RESTConfig()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa.Name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	return cfg
}

// TestE2EDeployManifests dry-runs deploy/ on the real API server with
// strict validation, in a namespace that enforces the restricted Pod
// Security level.
func TestE2EDeployManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("deploy/*.yaml: %v", err)
	}
	var docs []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	warnings, err := dryRunStrict(t, newNamespace(t, "restricted"), strings.Join(docs, "\n---\n"))
	if err != nil {
		t.Errorf("deploy/ rejected: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w)
	}
}

// apiLeft lists "kind namespace/name" of the objects of the kinds Tycho
// emits (and those controllers make from them) still labelled with guid,
// and the system's namespace if it still exists.
func apiLeft(t *testing.T, guid, namespace string) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(shared(t).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var left []string
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "namespaces"}, {Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "services"}, {Version: "v1", Resource: "persistentvolumeclaims"},
		{Version: "v1", Resource: "pods"}, {Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "replicasets"}, {Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
	} {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: "tycho-guid=" + guid})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		for _, o := range list.Items {
			left = append(left, fmt.Sprintf("%s %s/%s", gvr.Resource, o.GetNamespace(), o.GetName()))
		}
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, namespace, metav1.GetOptions{}); err == nil {
		left = append(left, "namespace "+namespace)
	}
	sort.Strings(left)
	return left
}

// waitReady polls the status of a system until it is ready.
func waitReady(t *testing.T, c *client.Client, guid string) api.SystemStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var last []api.SystemStatus
	for {
		st, err := c.Status(ctx, guid)
		if err != nil {
			t.Fatalf("status of %s: %v (last %+v)", guid, err, last)
		}
		last = st
		if len(st) == 1 && st[0].IsReady && st[0].Total > 0 {
			return st[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("system %s not ready: %+v", guid, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// TestE2EAPILifecycle starts a system through the Go client and the HTTP
// API on the real control plane, with deploy/'s RBAC, waits for it to be
// ready, modifies it, deletes it and checks that nothing of it is left.
func TestE2EAPILifecycle(t *testing.T) {
	c, ts := apiServer(t, deployRBAC(t))
	ctx := context.Background()

	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()

	res, err := c.Start(ctx, api.StartRequest{
		Name:      "e2e-api",
		Env:       map[string]string{"TAG": "2"},
		System:    api.YAMLSystem(apiSystem),
		Services:  map[string]api.Service{"web": {Port: 80, Clients: []string{"10.0.0.0/8"}}},
		Principal: []byte(`{"username": "renci"}`),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("started %s in %s; diagnostics: %v", res.Name, res.Namespace, res.Diagnostics)
	if res.System != "e2e-api" || res.Namespace != executor.NamespaceFor("e2e-api", res.SID) {
		t.Errorf("result %+v", res)
	}
	t.Cleanup(func() { _, _ = c.Delete(context.Background(), res.SID) })

	st := waitReady(t, c, res.SID)
	if st.Total != 2 || st.Ready != 2 || len(st.Endpoints) == 0 || st.Port == "" || st.IPAddress == "" {
		t.Errorf("status %+v: want 2/2 ready with the node port of web", st)
	}
	kube := clientset(t)
	web, err := kube.AppsV1().Deployments(res.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := web.Spec.Template.Spec.Containers[0].Image; img != "registry.example/web:2" {
		t.Errorf("image %q, want the env's tag", img)
	}
	if web.Labels["username"] != "renci" {
		t.Errorf("labels %v: no username", web.Labels)
	}
	pvcs, err := kube.CoreV1().PersistentVolumeClaims(res.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(pvcs.Items) != 1 {
		t.Errorf("the bind mount is not a volume: %v, %v", pvcs, err)
	}

	mod, err := c.Modify(ctx, res.SID, api.SystemPatch{Labels: map[string]string{"team": "e2e"}, CPU: "100m", Memory: "64Mi"})
	if err != nil {
		t.Fatalf("modify: %v", err)
	}
	if len(mod.Patches) != 2 {
		t.Errorf("%d patches, want 2 (one per Deployment)", len(mod.Patches))
	}
	web, _ = kube.AppsV1().Deployments(res.Namespace).Get(ctx, "web", metav1.GetOptions{})
	lim := web.Spec.Template.Spec.Containers[0].Resources.Limits
	if web.Spec.Template.Labels["team"] != "e2e" || lim.Cpu().String() != "100m" || lim.Memory().String() != "64Mi" {
		t.Errorf("web not modified: labels %v, limits %v", web.Spec.Template.Labels, lim)
	}
	var cerr *client.Error
	if _, err := c.Modify(ctx, res.SID, api.SystemPatch{Labels: map[string]string{"app.kubernetes.io/name": "x"}}); !errors.As(err, &cerr) || cerr.StatusCode != 400 {
		t.Errorf("modifying a selector label: %v, want 400", err)
	}
	// issue 15.4: a network label would join web to any network, and
	// username would change who started the system
	for _, k := range []string{kubernetes.NetworkLabel("back"), "username", "pod-template-hash"} {
		if _, err := c.Modify(ctx, res.SID, api.SystemPatch{Labels: map[string]string{k: "true"}}); !errors.As(err, &cerr) || cerr.StatusCode != 400 {
			t.Errorf("modifying the label %s: %v, want 400", k, err)
		}
	}
	web, _ = kube.AppsV1().Deployments(res.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if l := web.Spec.Template.Labels; l[kubernetes.NetworkLabel("back")] != "" || l["username"] != "renci" || l["pod-template-hash"] != "" {
		t.Errorf("a refused modify changed the pod labels: %v", l)
	}

	del, err := c.Delete(ctx, res.SID)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if del.Deleted == 0 {
		t.Errorf("delete result %+v", del)
	}
	if left := apiLeft(t, res.SID, res.Namespace); len(left) > 0 {
		t.Errorf("left after delete: %s", strings.Join(left, ", "))
	}
	if _, err := c.Status(ctx, res.SID); !client.IsNotFound(err) {
		t.Errorf("status after delete: %v, want not found", err)
	}
	if _, err := c.Delete(ctx, res.SID); !client.IsNotFound(err) {
		t.Errorf("second delete: %v, want not found", err)
	}
}

// TestE2EAPIBadSystemCreatesNothing sends systems that must be refused
// and checks that no namespace appeared.
func TestE2EAPIBadSystemCreatesNothing(t *testing.T) {
	c, _ := apiServer(t, nil)
	ctx := context.Background()
	before, err := clientset(t).CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "executor=tycho"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range []string{
		"services:\n  web:\n    image: x\n    imagex: 1\n",
		"services:\n  web:\n    image: x\n    env_file: /etc/passwd\n",
		// issue 15: reserved labels, operator limits, image names
		"x-tycho:\n  labels:\n    network.tycho.dev/back: 'true'\nservices:\n  web:\n    image: nginx\n",
		"services:\n  web:\n    image: nginx\n    cpus: 64\n",
		"services:\n  web:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    x-tycho: {size: 1Ti}\n",
		"services:\n  web:\n    image: Nginx\n",
	} {
		_, err := c.Start(ctx, api.StartRequest{Name: "bad", System: api.YAMLSystem(sys)})
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode/100 != 4 {
			t.Errorf("start of %q: %v, want a 4xx", sys, err)
		}
	}
	after, err := clientset(t).CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "executor=tycho"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) > len(before.Items) {
		t.Errorf("namespaces appeared: %d before, %d after", len(before.Items), len(after.Items))
	}
}

// TestE2EAPILoad runs 20 clients asking for status while 5 systems are
// started and deleted, and reports the latencies.
func TestE2EAPILoad(t *testing.T) {
	c, _ := apiServer(t, deployRBAC(t))
	ctx := context.Background()
	const (
		statusClients = 20
		statusCalls   = 25 // per client
		cycles        = 5
	)
	var (
		mu        sync.Mutex
		latencies = map[string][]time.Duration{}
		errs      []error
		wg        sync.WaitGroup
	)
	record := func(op string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		latencies[op] = append(latencies[op], d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", op, err))
		}
	}
	stop := make(chan struct{})
	for i := 0; i < statusClients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < statusCalls; j++ {
				start := time.Now()
				_, err := c.Status(ctx, "")
				record("status", time.Since(start), err)
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	var cw sync.WaitGroup
	guids := make([]string, cycles)
	namespaces := make([]string, cycles)
	for i := 0; i < cycles; i++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			start := time.Now()
			res, err := c.Start(ctx, api.StartRequest{Name: fmt.Sprintf("load-%d", i), System: api.YAMLSystem(apiSystem), Wait: true})
			record("start (wait)", time.Since(start), err)
			if err != nil {
				return
			}
			guids[i], namespaces[i] = res.SID, res.Namespace
			start = time.Now()
			_, err = c.Delete(ctx, res.SID)
			record("delete (wait)", time.Since(start), err)
		}()
	}
	cw.Wait()
	close(stop)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	for _, op := range []string{"status", "start (wait)", "delete (wait)"} {
		ds := latencies[op]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if len(ds) == 0 {
			continue
		}
		pct := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1)+0.5)] }
		t.Logf("%-14s n=%-4d p50=%-10s p99=%-10s max=%s", op, len(ds), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	for i, g := range guids {
		if g == "" {
			continue
		}
		if left := apiLeft(t, g, namespaces[i]); len(left) > 0 {
			t.Errorf("system %s left: %s", g, strings.Join(left, ", "))
		}
	}
}
