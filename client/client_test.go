package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tychoctl/tycho/api"
)

const guid = "0123456789abcdef0123456789abcdef"

// seen is a request as the test server got it.
type seen struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   string
}

// serve answers every request with status and the envelope of result,
// and records it.
func serve(t *testing.T, status int, env string) (*Client, *seen) {
	t.Helper()
	got := &seen{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, env)
	}))
	t.Cleanup(ts.Close)
	c, err := New(ts.URL+"/", WithToken("tok"), WithHTTPClient(ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c, got
}

func TestCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		status int // 0: 200
		env    string
		call   func(c *Client) (any, error)
		want   seen
		res    any
	}{
		{
			name: "start",
			env:  `{"status":"success","result":{"name":"demo-` + guid + `","sid":"` + guid + `","system":"demo","namespace":"demo-01234567","containers":{},"endpoints":[],"ready":false,"diagnostics":[]},"message":"Started"}`,
			call: func(c *Client) (any, error) {
				return c.Start(ctx, api.StartRequest{Name: "demo", System: api.YAMLSystem("services: {}\n")})
			},
			want: seen{Method: "POST", Path: "/v1/systems", Auth: "Bearer tok", ContentType: "application/json", Body: `{"name":"demo","system":"services: {}\n"}`},
			res:  &api.StartResult{Name: "demo-" + guid, SID: guid, System: "demo", Namespace: "demo-01234567", Containers: map[string]api.Container{}, Endpoints: []api.Endpoint{}, Diagnostics: []api.Diagnostic{}},
		},
		{
			name: "status of all",
			env:  `{"status":"success","result":[],"message":"m"}`,
			call: func(c *Client) (any, error) { return c.Status(ctx, "") },
			want: seen{Method: "GET", Path: "/v1/systems", Auth: "Bearer tok"},
			res:  []api.SystemStatus{},
		},
		{
			name: "status of one",
			env:  `{"status":"success","result":{"name":"demo-x","sid":"` + guid + `","is_ready":true},"message":"m"}`,
			call: func(c *Client) (any, error) { return c.Status(ctx, guid) },
			want: seen{Method: "GET", Path: "/v1/systems/" + guid, Auth: "Bearer tok"},
			res:  []api.SystemStatus{{Name: "demo-x", SID: guid, IsReady: true}},
		},
		{
			name: "delete keeping volumes",
			env:  `{"status":"success","result":{"sid":"` + guid + `","deleted":4},"message":"m"}`,
			call: func(c *Client) (any, error) { return c.Delete(ctx, guid, KeepVolumes(), NoWait()) },
			want: seen{Method: "DELETE", Path: "/v1/systems/" + guid, Query: "volumes=false&wait=false", Auth: "Bearer tok"},
			res:  &api.DeleteResult{SID: guid, Deleted: 4},
		},
		{
			name:   "delete accepted",
			status: 202,
			env:    `{"status":"success","result":{"sid":"` + guid + `","deleted":4,"state":"deleting","status_url":"/v1/systems/` + guid + `"},"message":"m"}`,
			call:   func(c *Client) (any, error) { return c.Delete(ctx, guid) },
			want:   seen{Method: "DELETE", Path: "/v1/systems/" + guid, Auth: "Bearer tok"},
			res:    &api.DeleteResult{SID: guid, Deleted: 4, State: api.StateDeleting, StatusURL: "/v1/systems/" + guid},
		},
		{
			name: "modify",
			env:  `{"status":"success","result":{"patches":[]},"message":"m"}`,
			call: func(c *Client) (any, error) { return c.Modify(ctx, guid, api.SystemPatch{CPU: "1"}) },
			want: seen{Method: "PATCH", Path: "/v1/systems/" + guid, Auth: "Bearer tok", ContentType: "application/json", Body: `{"cpu":"1"}`},
			res:  &api.ModifyResult{Patches: []api.Patch{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := tc.status
			if status == 0 {
				status = 200
			}
			c, got := serve(t, status, tc.env)
			res, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.res, res); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     *Error
		notFound bool
	}{
		{"diagnostics", 422,
			`{"status":"error","result":{"error":"does not compile","field":"system","diagnostics":[{"severity":"error","code":"c","path":"services.web","file":"compose.yaml","line":3,"col":5,"message":"bad"}],"request_id":"r1"},"message":"does not compile"}`,
			&Error{StatusCode: 422, Message: "does not compile", Field: "system", RequestID: "r1",
				Diagnostics: []api.Diagnostic{{Severity: "error", Code: "c", Path: "services.web", File: "compose.yaml", Line: 3, Col: 5, Message: "bad"}}}, false},
		{"not found", 404, `{"status":"error","result":{"error":"system x: system not found"},"message":"system x: system not found"}`,
			&Error{StatusCode: 404, Message: "system x: system not found"}, true},
		{"not Tycho", 502, "<html>bad gateway</html>", &Error{StatusCode: 502, Message: "<html>bad gateway</html>"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := serve(t, tc.status, tc.body)
			_, err := c.Status(context.Background(), guid)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if d := cmp.Diff(tc.want, e); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if IsNotFound(err) != tc.notFound {
				t.Errorf("IsNotFound %v", !tc.notFound)
			}
			if !strings.Contains(err.Error(), tc.want.Message) {
				t.Errorf("Error() %q lacks the message", err)
			}
		})
	}
}

func TestContextCancels(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(block)
	c, _ := New(ts.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a deadline", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{{"http://localhost:5000", true}, {"https://h/prefix/", true}, {"localhost:5000", false}, {"ftp://h", false}, {"http://", false}} {
		_, err := New(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q): %v", tc.url, err)
		}
	}
}

func node(name, ip string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

func service(ns string, typ corev1.ServiceType, port, nodePort int32, lb string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ServiceName}, Spec: corev1.ServiceSpec{Type: typ,
		Ports: []corev1.ServicePort{{Name: "http", Port: port, NodePort: nodePort}}}}
	if lb != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lb}}
	}
	return s
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"load balancer", []runtime.Object{service("tycho", corev1.ServiceTypeLoadBalancer, 80, 30080, "203.0.113.9"), node("n1", "10.0.0.1", true)}, "http://203.0.113.9:80"},
		{"node port of a ready node", []runtime.Object{service("default", corev1.ServiceTypeNodePort, 5000, 30500, ""), node("a", "10.0.0.1", false), node("b", "10.0.0.2", true)}, "http://10.0.0.2:30500"},
		{"cluster IP only", []runtime.Object{service("tycho", corev1.ServiceTypeClusterIP, 5000, 0, "")}, DefaultURL},
		{"no service", nil, DefaultURL},
		{"first namespace wins", []runtime.Object{service("tycho", corev1.ServiceTypeLoadBalancer, 443, 0, "203.0.113.1"), service("default", corev1.ServiceTypeLoadBalancer, 80, 0, "203.0.113.2")}, "https://203.0.113.1:443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Discover(context.Background(), fake.NewClientset(tc.objs...), DefaultNamespaces)
			if got != tc.want {
				t.Errorf("Discover = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStartRequestJSON checks the wire form of the original fields.
func TestStartRequestJSON(t *testing.T) {
	t.Parallel()
	var req api.StartRequest
	in := `{"name":"n","env":{"A":"1"},"system":{"services":{}},"services":{"web":{"port":"8888","clients":["127.0.0.1"]}},"principal":"{\"username\":\"renci\"}","serviceaccount":"default"}`
	if err := json.Unmarshal([]byte(in), &req); err != nil {
		t.Fatal(err)
	}
	if req.Services["web"].Port != 8888 {
		t.Errorf("port %d, want 8888 from a string", req.Services["web"].Port)
	}
	b, _ := json.Marshal(req)
	if !strings.Contains(string(b), `"port":8888`) {
		t.Errorf("port not written as a number: %s", b)
	}
}

// WaitGone polls until the server answers 404.
func TestWaitGone(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) < 3 {
			_, _ = io.WriteString(w, `{"status":"success","result":{"sid":"`+guid+`","state":"deleting"},"message":"m"}`)
			return
		}
		w.WriteHeader(404)
		_, _ = io.WriteString(w, `{"status":"error","result":{"error":"not found"},"message":"not found"}`)
	}))
	t.Cleanup(ts.Close)
	c, err := New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitGone(context.Background(), guid, time.Millisecond); err != nil || calls.Load() != 3 {
		t.Errorf("WaitGone: %v after %d calls, want nil after 3", err, calls.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	calls.Store(-1 << 20) // deleting for ever
	if err := c.WaitGone(ctx, guid, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitGone of a system that stays: %v, want the deadline", err)
	}
}
