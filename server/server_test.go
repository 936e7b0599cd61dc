package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
)

func TestDocumentValidates(t *testing.T) {
	t.Parallel()
	if _, err := LoadDocument(); err != nil {
		t.Fatal(err)
	}
}

// TestEveryRouteIsDocumented checks that the routes are exactly the
// operations of the document, and that each answers at its path.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, newFake(), nil)
	doc, err := LoadDocument()
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, path := range doc.Paths.InMatchingOrder() {
		for method := range doc.Paths.Value(path).Operations() {
			want = append(want, method+" "+path)
		}
	}
	for _, rt := range s.routes {
		got = append(got, rt.method+" "+rt.path)
	}
	if d := cmp.Diff(sorted(want), sorted(got)); d != "" {
		t.Errorf("routes differ from the document's operations (-want +got):\n%s", d)
	}
	if len(want) != 17 {
		t.Errorf("%d operations, want 17", len(want))
	}
	for _, rt := range s.routes {
		path := strings.ReplaceAll(rt.path, "{guid}", guidNone)
		r, _ := http.NewRequest(rt.method, path, nil)
		h, pattern := s.mux.Handler(r)
		if h == nil || pattern != rt.pattern() {
			t.Errorf("%s %s routes to %q, want %q", rt.method, path, pattern, rt.pattern())
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestStart starts systems through both operations and checks what the
// Systems got: compiled objects labelled with the GUID, in the system's
// namespace, bind mounts as volumes, the request's env, clients and
// username woven in.
func TestStart(t *testing.T) {
	t.Parallel()
	system := `{
	  "services": {
	    "web": {"image": "nginx:${TAG:-latest}", "volumes": ["./html:/usr/share/nginx/html:ro"]},
	    "db": {"image": "postgres:16", "environment": {"PGDATA": "${HOME:-/var/lib/postgresql}/data"}}
	  }
	}`
	tests := []struct {
		name     string
		path     string
		body     string
		status   int
		location bool
		check    func(t *testing.T, spec StartSpec)
	}{
		{
			name: "original", path: "/system/start", status: 200,
			body: `{"name": "Jupyter.DS", "env": {"TAG": "1.27"}, "system": ` + system + `,
			        "services": {"web": {"port": "80", "clients": ["127.0.0.1", "10.1.0.0/16"]}},
			        "principal": "{\"username\": \"renci\", \"access_token\": \"secret-token\"}", "serviceaccount": "default"}`,
			check: func(t *testing.T, spec StartSpec) {
				if spec.System != "jupyter-ds" || spec.Namespace != executor.NamespaceFor("jupyter-ds", spec.GUID) || spec.Wait {
					t.Errorf("spec %+v", spec)
				}
				d := find[*appsv1.Deployment](t, spec.Objects, "web")
				if got := d.Spec.Template.Spec.Containers[0].Image; got != "nginx:1.27" {
					t.Errorf("image %q, want nginx:1.27 (env interpolated)", got)
				}
				if d.Labels["username"] != "renci" {
					t.Errorf("labels %v: no username", d.Labels)
				}
				db := find[*appsv1.Deployment](t, spec.Objects, "db")
				for _, e := range db.Spec.Template.Spec.Containers[0].Env {
					if e.Name == "PGDATA" && e.Value != "/var/lib/postgresql/data" {
						t.Errorf("PGDATA %q: the server's environment leaked into the interpolation", e.Value)
					}
				}
				vols := 0
				for _, o := range spec.Objects {
					if _, ok := o.(*corev1.PersistentVolumeClaim); ok {
						vols++
					}
				}
				if vols != 1 {
					t.Errorf("%d PersistentVolumeClaims, want 1 (the bind mount)", vols)
				}
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.HostPath != nil {
						t.Errorf("volume %s is a hostPath", v.Name)
					}
				}
				found := false
				for _, o := range spec.Objects {
					if np, ok := o.(*networkingv1.NetworkPolicy); ok {
						for _, r := range np.Spec.Ingress {
							for _, p := range r.From {
								found = found || p.IPBlock != nil && p.IPBlock.CIDR == "10.1.0.0/16"
							}
						}
					}
				}
				if !found {
					t.Errorf("no NetworkPolicy admits the client 10.1.0.0/16")
				}
				// the port of a service that publishes nothing is published
				find[*corev1.Service](t, spec.Objects, "web-published")
				b, _ := json.Marshal(spec.Objects)
				if strings.Contains(string(b), "secret-token") {
					t.Errorf("the principal's token reached the objects")
				}
			},
		},
		{
			name: "nulls and a principal object", path: "/system/start", status: 200,
			body: `{"name": "n", "system": {"services": {"web": {"image": "nginx", "ports": ["80:80"]}}}, "principal": {"username": "ann"}, "serviceaccount": null}`,
			check: func(t *testing.T, spec StartSpec) {
				if d := find[*appsv1.Deployment](t, spec.Objects, "web"); d.Labels["username"] != "ann" {
					t.Errorf("labels %v: no username", d.Labels)
				}
			},
		},
		{
			name: "service account", path: "/system/start", status: 200,
			body: `{"name": "n", "system": {"services": {"web": {"image": "nginx", "ports": ["80:80"]}}}, "serviceaccount": "jupyter"}`,
			check: func(t *testing.T, spec StartSpec) {
				if d := find[*appsv1.Deployment](t, spec.Objects, "web"); d.Spec.Template.Spec.ServiceAccountName != "jupyter" {
					t.Errorf("service account %q, want jupyter", d.Spec.Template.Spec.ServiceAccountName)
				}
			},
		},
		{
			name: "principal null", path: "/system/start", status: 200,
			body: `{"name": "n", "system": {"services": {"web": {"image": "nginx", "ports": ["80:80"]}}}, "principal": null, "env": {}}`,
			check: func(t *testing.T, spec StartSpec) {
				if d := find[*appsv1.Deployment](t, spec.Objects, "web"); d.Labels["username"] != "" {
					t.Errorf("labels %v: a username", d.Labels)
				}
			},
		},
		{
			name: "route asked for", path: "/system/start", status: 200,
			body: `{"name": "shop", "system": {"services": {"web": {"image": "nginx", "ports": ["8080:80"]}, "db": {"image": "postgres", "ports": ["5432:5432"]}}},
			        "route": {"path_prefix": "/private/{system}/{guid}/{service}/"}}`,
			check: func(t *testing.T, spec StartSpec) {
				ing := find[*networkingv1.Ingress](t, spec.Objects, "web-8080")
				want := "/private/shop/" + spec.GUID + "/web/"
				if got := ing.Spec.Rules[0].HTTP.Paths[0].Path; got != want {
					t.Errorf("path %q, want %q", got, want)
				}
				if ing.Annotations[kubernetes.AnnotationURL] != want {
					t.Errorf("annotations %v: no URL %s", ing.Annotations, want)
				}
				find[*corev1.Service](t, spec.Objects, "web-routed")
				// not HTTP: load balanced as before
				find[*corev1.Service](t, spec.Objects, "db-published")
			},
		},
		{
			name: "route off", path: "/system/start", status: 200,
			body: `{"name": "shop", "system": {"services": {"web": {"image": "nginx", "ports": ["8080:80"]}}}, "route": false}`,
			check: func(t *testing.T, spec StartSpec) {
				find[*corev1.Service](t, spec.Objects, "web-published")
				for _, o := range spec.Objects {
					if _, ok := o.(*networkingv1.Ingress); ok {
						t.Errorf("Ingress %s without a route asked for", o.GetName())
					}
				}
			},
		},
		{
			name: "resource with YAML text", path: "/v1/systems", status: 201, location: true,
			body: `{"name": "demo", "system": "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n", "wait": true}`,
			check: func(t *testing.T, spec StartSpec) {
				if !spec.Wait || spec.System != "demo" {
					t.Errorf("spec %+v", spec)
				}
				for _, o := range spec.Objects {
					if o.GetLabels()[kubernetes.LabelGUID] != spec.GUID {
						t.Errorf("%s/%s is not labelled with the GUID", o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
					}
					if ns := o.GetNamespace(); ns != "" && ns != spec.Namespace {
						t.Errorf("%s is in namespace %s, want %s", o.GetName(), ns, spec.Namespace)
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			s := newTestServer(t, f, nil)
			w := do(t, s, request{method: "POST", path: tc.path, body: tc.body})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var res api.StartResult
			env := envelope(t, w, &res)
			if len(f.specs) != 1 {
				t.Fatalf("%d starts, want 1", len(f.specs))
			}
			spec := f.specs[0]
			want := api.StartResult{Name: spec.System + "-" + spec.GUID, SID: spec.GUID, System: spec.System, Namespace: spec.Namespace,
				Containers: map[string]api.Container{"web": {IPAddress: "198.51.100.7", Port: 31333}},
				Endpoints:  []api.Endpoint{{Service: "web", IPAddress: "198.51.100.7", Port: 31333, Protocol: "TCP"}},
				Ready:      true, Diagnostics: res.Diagnostics}
			if d := cmp.Diff(want, res); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
			if env.Message != "Started system "+want.Name {
				t.Errorf("message %q", env.Message)
			}
			if got := w.Header().Get("Location"); tc.location && got != "/v1/systems/"+spec.GUID {
				t.Errorf("Location %q", got)
			}
			tc.check(t, spec)
		})
	}
}

// find returns the object of type T called name.
func find[T kubernetes.Object](t *testing.T, objs []kubernetes.Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if x, ok := o.(T); ok && o.GetName() == name {
			return x
		}
	}
	var zero T
	t.Fatalf("no %T %s among the objects", zero, name)
	return zero
}

// TestLifecycle drives one system through status, modify and delete by
// both APIs.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.add(guidA)
	f.add(guidB)
	s := newTestServer(t, f, nil)

	row := func(g string) api.SystemStatus {
		return api.SystemStatus{Name: "demo-" + g, SID: g, System: "demo", Namespace: "demo-" + g[:8],
			CreationTime: "01-02-2024 03:04:05", Created: "2024-01-02T03:04:05Z", State: api.StateRunning, IsReady: false, Ready: 0, Total: 1,
			Services:  []api.ServiceState{{Name: "web", Kind: "Deployment", State: "0/1 available"}},
			Endpoints: []api.Endpoint{}}
	}
	var rows []api.SystemStatus
	env := envelope(t, do(t, s, request{method: "POST", path: "/system/status", body: `{"name": null}`}), &rows)
	if d := cmp.Diff([]api.SystemStatus{row(guidA), row(guidB)}, rows); d != "" {
		t.Errorf("status (-want +got):\n%s", d)
	}
	if env.Message != "Get status for system None" {
		t.Errorf("message %q", env.Message)
	}
	envelope(t, do(t, s, request{method: "POST", path: "/system/status", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}), &rows)
	if len(rows) != 2 {
		t.Errorf("status with a charset: %d rows, want 2", len(rows))
	}
	envelope(t, do(t, s, request{method: "POST", path: "/system/status"}), &rows)
	if len(rows) != 2 {
		t.Errorf("status without a body: %d rows, want 2", len(rows))
	}
	envelope(t, do(t, s, request{method: "GET", path: "/v1/systems"}), &rows)
	if len(rows) != 2 {
		t.Errorf("GET /v1/systems: %d rows, want 2", len(rows))
	}
	envelope(t, do(t, s, request{method: "POST", path: "/system/status", body: `{"name": "` + guidA + `"}`}), &rows)
	if d := cmp.Diff([]api.SystemStatus{row(guidA)}, rows); d != "" {
		t.Errorf("status of one (-want +got):\n%s", d)
	}
	var one api.SystemStatus
	envelope(t, do(t, s, request{method: "GET", path: "/v1/systems/" + guidB}), &one)
	if d := cmp.Diff(row(guidB), one); d != "" {
		t.Errorf("GET one (-want +got):\n%s", d)
	}

	var mod api.ModifyResult
	w := do(t, s, request{method: "POST", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "labels": {"team": "a"}, "cpu": "500m", "memory": "1Gi"}`})
	envelope(t, w, &mod)
	if w.Code != 200 || len(mod.Patches) != 1 {
		t.Fatalf("modify: %d %s", w.Code, w.Body)
	}
	wantPatch := `{"spec":{"template":{"metadata":{"labels":{"team":"a"}},"spec":{"containers":[{"name":"web","resources":{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"500m","memory":"1Gi"}}}]}}}}`
	if got := string(mod.Patches[0].Patch); got != wantPatch {
		t.Errorf("patch\n got %s\nwant %s", got, wantPatch)
	}
	w = do(t, s, request{method: "PATCH", path: "/v1/systems/" + guidB, body: `{"memory": "2Gi"}`})
	if w.Code != 200 {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	if d := cmp.Diff([]Modification{{Labels: map[string]string{"team": "a"}, CPU: "500m", Memory: "1Gi"}, {Memory: "2Gi"}}, f.modifies); d != "" {
		t.Errorf("modifications (-want +got):\n%s", d)
	}

	var del api.DeleteResult
	w = do(t, s, request{method: "POST", path: "/system/delete", body: `{"name": "` + guidA + `"}`})
	env = envelope(t, w, &del)
	if w.Code != 200 || del != (api.DeleteResult{SID: guidA, Deleted: 7, State: api.StateDeleted}) || env.Message != "Deleted system "+guidA {
		t.Errorf("delete: %d %s", w.Code, w.Body)
	}
	w = do(t, s, request{method: "DELETE", path: "/v1/systems/" + guidB + "?volumes=false"})
	if w.Code != 200 {
		t.Errorf("DELETE: %d %s", w.Code, w.Body)
	}
	if d := cmp.Diff([]DeleteOptions{{Volumes: true, Wait: true, Timeout: s.opts.DeleteTimeout}, {Volumes: false, Wait: true, Timeout: s.opts.DeleteTimeout}}, f.deletes); d != "" {
		t.Errorf("delete options (-want +got):\n%s", d)
	}
	envelope(t, do(t, s, request{method: "GET", path: "/v1/systems"}), &rows)
	if len(rows) != 0 {
		t.Errorf("%d systems left", len(rows))
	}
	if w := do(t, s, request{method: "POST", path: "/system/delete", body: `{"name": "` + guidA + `"}`}); w.Code != 404 {
		t.Errorf("second delete: %d, want 404", w.Code)
	}
}

// TestSystemsErrors checks how the errors of the Systems are answered:
// no stack, no internals for the server's own faults.
func TestSystemsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
		msg  string
	}{
		{"rolled back", &executor.UpError{GUID: guidA, Object: "Deployment ns/web", Err: fmt.Errorf("not ready after 5m0s: Deployment/web 0/1 available"), RolledBack: 3}, 502, "rolled back: deleted the 3 object(s)"},
		{"cluster down", fmt.Errorf("listing systems: %w", errBoom), 502, "the cluster failed: listing systems: boom"},
		{"invalid", &InvalidError{Err: errBoom}, 400, "boom"},
		{"timeout", context.DeadlineExceeded, 502, "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.startErr = tc.err
			s := newTestServer(t, f, nil)
			w := do(t, s, request{method: "POST", path: "/v1/systems", body: `{"name": "x", "system": ` + okSystem + `}`})
			var res api.ErrorResult
			env := envelope(t, w, &res)
			if w.Code != tc.want || !strings.Contains(env.Message, tc.msg) {
				t.Errorf("%d %q, want %d with %q", w.Code, env.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestPanicIsA500WithoutStack(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, newFake(), func(o *Options) {
		o.NewGUID = func() (string, error) { panic("guid machine broke") }
	})
	w := do(t, s, request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `}`})
	if w.Code != 500 || strings.Contains(w.Body.String(), "guid machine") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	f := newFake()
	s := newTestServer(t, f, func(o *Options) { o.Version = "v9.9.9" })
	noAuth := map[string]string{"Authorization": ""}
	tests := []struct {
		name   string
		req    request
		status int
		ctype  string
		body   []string
	}{
		{"healthz", request{method: "GET", path: "/healthz", header: noAuth}, 200, "text/plain", []string{"ok"}},
		{"readyz", request{method: "GET", path: "/readyz", header: noAuth}, 200, "text/plain", []string{"ok"}},
		{"openapi.json", request{method: "GET", path: "/openapi.json", header: noAuth}, 200, "application/json", []string{`"openapi":"3.0.3"`, `"/system/start"`}},
		{"openapi.yaml", request{method: "GET", path: "/openapi.yaml", header: noAuth}, 200, "application/yaml", []string{"openapi: 3.0.3"}},
		{"apidocs", request{method: "GET", path: "/apidocs/", header: noAuth}, 200, "text/html", []string{"Tycho Compute API", "/system/start", "/v1/systems/{guid}", "StartRequest"}},
		{"metrics", request{method: "GET", path: "/metrics"}, 200, "text/plain", []string{
			`tycho_api_build_info{version="v9.9.9"} 1`, "# TYPE tycho_api_requests_total counter",
			`tycho_api_requests_total{code="200",method="GET",route="/healthz"} 1`,
			`tycho_api_request_duration_seconds_count{route="/healthz"} 1`, "tycho_api_systems_started_total 0"}},
	}
	for _, tc := range tests { // in order: metrics counts the others
		w := do(t, s, tc.req)
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, w.Code, w.Header().Get("Content-Type"), tc.status, tc.ctype)
		}
		for _, b := range tc.body {
			if !strings.Contains(w.Body.String(), b) {
				t.Errorf("%s: body lacks %q:\n%.2000s", tc.name, b, w.Body)
			}
		}
	}
	// every operation is on the page
	page := do(t, s, request{method: "GET", path: "/apidocs/"}).Body.String()
	for _, rt := range s.routes {
		if !strings.Contains(page, `id="`+rt.op.OperationID+`"`) {
			t.Errorf("the docs page lacks %s", rt.op.OperationID)
		}
	}
	f.readyErr = errBoom
	if w := do(t, s, request{method: "GET", path: "/readyz"}); w.Code != 503 || !strings.Contains(w.Body.String(), "boom") {
		t.Errorf("readyz with the cluster down: %d %s", w.Code, w.Body)
	}
	f.readyErr = nil
	s.SetStopping()
	if w := do(t, s, request{method: "GET", path: "/readyz"}); w.Code != 503 {
		t.Errorf("readyz while stopping: %d", w.Code)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, newFake(), nil)
	for _, tc := range []struct{ in, want string }{{"abc-123", "abc-123"}, {"bad id\n", ""}} {
		w := do(t, s, request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": tc.in}})
		got := w.Header().Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == "" || got == tc.in) {
			t.Errorf("X-Request-Id %q for %q", got, tc.in)
		}
	}
}

func TestNewRefusesNoAuth(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Systems: newFake()}); err == nil {
		t.Error("New without tokens: no error")
	}
	s, err := New(Options{Systems: newFake(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(t, s, request{method: "GET", path: "/v1/systems", header: map[string]string{"Authorization": ""}}); w.Code != 200 {
		t.Errorf("insecure server: %d", w.Code)
	}
}
