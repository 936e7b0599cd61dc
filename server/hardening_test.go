package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tychoctl/tycho/api"
)

// refusal is a request that the server must refuse, sent through a real
// HTTP server, and what the answer must be.
type refusal struct {
	name   string
	method string
	path   string
	body   string
	// contentType defaults to application/json
	contentType string
	// want is the status, field the result's field, msgs parts of the
	// message (all must be in it)
	want  int
	field string
	msgs  []string
	// diag, when set, must be the code of an error diagnostic of the
	// answer, at a line of the file
	diag string
}

// checkRefusals sends each request to a server over a fake that holds
// the system guidA, and checks the answer and that nothing was started,
// modified or deleted.
func checkRefusals(t *testing.T, tests []refusal, mod func(*Options)) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.add(guidA)
			ts := httptest.NewServer(validating(t, newTestServer(t, f, mod)))
			defer ts.Close()
			method := tc.method
			if method == "" {
				method = "POST"
			}
			req, err := http.NewRequest(method, ts.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d\n%s", resp.StatusCode, tc.want, body)
			}
			if starts, deletes, modifies := f.created(); starts+deletes+modifies != 0 {
				t.Errorf("changed something: %d starts, %d deletes, %d modifies", starts, deletes, modifies)
			}
			var env api.Envelope
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("decoding the envelope: %v\n%s", err, body)
			}
			var res api.ErrorResult
			if err := json.Unmarshal(env.Result, &res); err != nil {
				t.Fatalf("decoding the result: %v\n%s", err, body)
			}
			if env.Status != api.StatusError {
				t.Errorf("status %q, want %q", env.Status, api.StatusError)
			}
			if res.Field != tc.field {
				t.Errorf("field %q, want %q (message %q)", res.Field, tc.field, env.Message)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(env.Message, m) {
					t.Errorf("message %q does not contain %q", env.Message, m)
				}
			}
			if tc.diag != "" {
				found := false
				for _, d := range res.Diagnostics {
					if d.Code == tc.diag && d.Severity == "error" && d.Line > 0 {
						found = true
					}
				}
				if !found {
					t.Errorf("no positioned error %s in the diagnostics %+v", tc.diag, res.Diagnostics)
				}
			}
		})
	}
}

// TestModifyReservedLabels: a modify cannot set a label that Tycho or
// Kubernetes owns (issue 15.4: a network label joined any service to any
// network), nor can a started system's compose document or principal.
func TestModifyReservedLabels(t *testing.T) {
	t.Parallel()
	patch := func(labels string) string { return `{"labels": ` + labels + `}` }
	legacy := func(labels string) string { return `{"tycho-guid": "` + guidA + `", "labels": ` + labels + `}` }
	res := "/v1/systems/" + guidA
	tests := []refusal{
		{name: "network label", method: "PATCH", path: res, body: patch(`{"network.tycho.dev/back": "true"}`),
			want: 400, field: "labels.network.tycho.dev/back", msgs: []string{"belongs to Tycho", "cannot be changed"}},
		{name: "network label, legacy", path: "/system/modify", body: legacy(`{"network.tycho.dev/back": "true"}`),
			want: 400, field: "labels.network.tycho.dev/back", msgs: []string{"belongs to Tycho"}},
		{name: "other tycho.dev label", method: "PATCH", path: res, body: patch(`{"x.tycho.dev/a": "b"}`),
			want: 400, field: "labels.x.tycho.dev/a", msgs: []string{"belongs to Tycho"}},
		{name: "username", method: "PATCH", path: res, body: patch(`{"username": "mallory"}`),
			want: 400, field: "labels.username", msgs: []string{"belongs to Tycho"}},
		{name: "guid", method: "PATCH", path: res, body: patch(`{"tycho-guid": "x"}`),
			want: 400, field: "labels.tycho-guid", msgs: []string{"belongs to Tycho"}},
		{name: "executor", method: "PATCH", path: res, body: patch(`{"executor": "x"}`),
			want: 400, field: "labels.executor", msgs: []string{"belongs to Tycho"}},
		{name: "name", method: "PATCH", path: res, body: patch(`{"name": "x"}`),
			want: 400, field: "labels.name", msgs: []string{"belongs to Tycho"}},
		{name: "part-of", method: "PATCH", path: res, body: patch(`{"app.kubernetes.io/part-of": "other"}`),
			want: 400, field: "labels.app.kubernetes.io/part-of", msgs: []string{"belongs to Tycho"}},
		{name: "pod-template-hash", method: "PATCH", path: res, body: patch(`{"pod-template-hash": "abc"}`),
			want: 400, field: "labels.pod-template-hash", msgs: []string{"belongs to Kubernetes"}},
		{name: "controller-revision-hash", method: "PATCH", path: res, body: patch(`{"controller-revision-hash": "abc"}`),
			want: 400, field: "labels.controller-revision-hash", msgs: []string{"belongs to Kubernetes"}},
		{name: "job-name", method: "PATCH", path: res, body: patch(`{"job-name": "x"}`),
			want: 400, field: "labels.job-name", msgs: []string{"belongs to Kubernetes"}},
		{name: "batch.kubernetes.io", method: "PATCH", path: res, body: patch(`{"batch.kubernetes.io/controller-uid": "x"}`),
			want: 400, field: "labels.batch.kubernetes.io/controller-uid", msgs: []string{"belongs to Kubernetes"}},
		{name: "k8s.io", method: "PATCH", path: res, body: patch(`{"node-role.k8s.io/x": "y"}`),
			want: 400, field: "labels.node-role.k8s.io/x", msgs: []string{"belongs to Kubernetes"}},
		{name: "one reserved among others", method: "PATCH", path: res, body: patch(`{"team": "a", "pod-template-hash": "abc"}`),
			want: 400, field: "labels.pod-template-hash", msgs: []string{"pod-template-hash"}},
		{name: "compose network label", path: "/system/start",
			body: `{"name": "x", "system": {"x-tycho": {"labels": {"network.tycho.dev/back": "true"}}, "services": {"web": {"image": "nginx:1.27"}}}}`,
			want: 422, field: "system", msgs: []string{"network.tycho.dev/back is Tycho's own"}, diag: "reserved-label"},
		{name: "compose username", path: "/v1/systems",
			body: `{"name": "x", "system": {"x-tycho": {"labels": {"username": "alice"}}, "services": {"web": {"image": "nginx:1.27"}}}}`,
			want: 422, field: "system", msgs: []string{"label username is Tycho's own"}, diag: "reserved-label"},
		{name: "compose Kubernetes annotation", path: "/v1/systems",
			body: `{"name": "x", "system": {"x-tycho": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}, "services": {"web": {"image": "nginx:1.27"}}}}`,
			want: 422, field: "system", msgs: []string{"reserved for Kubernetes"}, diag: "reserved-annotation"},
	}
	checkRefusals(t, tests, nil)
}

// TestStartUsername: the principal's username labels every object, and a
// compose document cannot set it (TestModifyReservedLabels).
func TestStartUsername(t *testing.T) {
	t.Parallel()
	f := newFake()
	s := newTestServer(t, f, nil)
	w := do(t, s, request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "principal": "{\"username\": \"renci\"}"}`})
	if w.Code != 200 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	if len(f.specs) != 1 || len(f.specs[0].Objects) == 0 {
		t.Fatalf("started %+v", f.specs)
	}
	for _, o := range f.specs[0].Objects {
		if got := o.GetLabels()["username"]; got != "renci" {
			t.Errorf("%T %s: username %q, want renci", o, o.GetName(), got)
		}
	}
}

// TestStrictJSON: a body is one JSON document in UTF-8 without a key
// twice (issue 15.5); each of these was accepted.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	start := `{"name": "x", "system": ` + okSystem + `}`
	modify := `{"tycho-guid": "` + guidA + `", "cpu": "1"}`
	tests := []refusal{
		{name: "trailing word", path: "/system/start", body: start + ` trailing`,
			want: 400, msgs: []string{"data after its JSON document", "at byte " + strconv.Itoa(len(start)+1)}},
		{name: "two documents", path: "/system/start", body: start + start,
			want: 400, msgs: []string{"data after its JSON document", "at byte " + strconv.Itoa(len(start))}},
		{name: "two documents on lines", path: "/system/modify", body: modify + "\n" + modify + "\n",
			want: 400, msgs: []string{"data after its JSON document"}},
		{name: "trailing bracket", path: "/system/modify", body: modify + "}",
			want: 400, msgs: []string{"data after its JSON document"}},
		{name: "duplicate top-level key", path: "/system/start", body: `{"name": "x", "name": "y", "system": ` + okSystem + `}`,
			want: 400, field: "name", msgs: []string{`the key "name" appears twice`, "at byte 14"}},
		{name: "duplicate key in the compose document", path: "/v1/systems",
			body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27", "privileged": false, "image": "evil"}}}}`,
			want: 400, field: "system.services.web.image", msgs: []string{`system.services.web.image: the key "image" appears twice`}},
		{name: "duplicate service", path: "/v1/systems",
			body: `{"name": "x", "system": {"services": {"web": {"image": "a"}, "web": {"image": "b"}}}}`,
			want: 400, field: "system.services.web", msgs: []string{`"web" appears twice`}},
		{name: "duplicate key in an array's object", path: "/v1/systems",
			body: `{"name": "x", "system": {"services": {"web": {"image": "a", "ports": [{"target": 80}, {"target": 80, "target": 81}]}}}}`,
			want: 400, field: "system.services.web.ports.1.target", msgs: []string{`"target" appears twice`}},
		{name: "duplicate key written with an escape", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "cpu": "1", "\u0063pu": "64"}`,
			want: 400, field: "cpu", msgs: []string{`"cpu" appears twice`}},
		{name: "duplicate among many keys", path: "/system/start",
			body: `{"name": "x", "env": {` + manyEnv(40) + `, "K7": "again"}, "system": ` + okSystem + `}`,
			want: 400, field: "env.K7", msgs: []string{`"K7" appears twice`}},
		{name: "duplicate label", path: "/v1/systems/" + guidA, method: "PATCH", body: `{"labels": {"team": "a", "team": "b"}}`,
			want: 400, field: "labels.team", msgs: []string{`"team" appears twice`}},
		{name: "invalid UTF-8", path: "/system/start", body: `{"name": "x", "env": {"A": "` + "\xff\xfe" + `"}, "system": ` + okSystem + `}`,
			want: 400, msgs: []string{"not valid UTF-8", "at byte 28"}},
		{name: "overlong UTF-8", path: "/system/start", body: `{"name": "` + "\xc0\xaf" + `", "system": ` + okSystem + `}`,
			want: 400, msgs: []string{"not valid UTF-8"}},
		{name: "lone surrogate escape", path: "/system/start", body: `{"name": "x", "env": {"A": "\ud800"}, "system": ` + okSystem + `}`,
			want: 400, field: "env.A", msgs: []string{"surrogate", "not valid UTF-8"}},
		{name: "charset utf-16", path: "/system/start", body: start, contentType: "application/json; charset=utf-16",
			want: 415, msgs: []string{"UTF-8", "charset=utf-16"}},
		{name: "charset latin1", path: "/v1/systems/" + guidA, method: "PATCH", body: `{"cpu": "1"}`, contentType: `application/json; charset="ISO-8859-1"`,
			want: 415, msgs: []string{"charset=ISO-8859-1"}},
		{name: "malformed JSON is still a syntax error", path: "/system/start", body: `{"name": "x", `,
			want: 400, msgs: []string{"not valid JSON"}},
		{name: "other types are still 415", path: "/system/start", body: "name=x", contentType: "application/x-www-form-urlencoded",
			want: 415, msgs: []string{"application/json"}},
	}
	checkRefusals(t, tests, nil)
}

// TestStrictJSONAccepts: what strictness must not refuse.
func TestStrictJSONAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, ct, body string }{
		{"charset utf-8", "application/json; charset=UTF-8", `{"name": "x", "system": ` + okSystem + `}`},
		{"same key in sibling objects", "application/json", `{"name": "x", "system": {"services": {"a": {"image": "nginx:1.27"}, "b": {"image": "nginx:1.27"}}}}`},
		{"surrogate pair and whitespace", "application/json", "\n {\"name\": \"x\", \"env\": {\"E\": \"\\ud83d\\ude00 é\"}, \"system\": " + okSystem + "} \n\t"},
		{"many keys", "application/json", `{"name": "x", "env": {` + manyEnv(100) + `}, "system": ` + okSystem + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			w := do(t, newTestServer(t, f, nil), request{method: "POST", path: "/system/start", body: tc.body, header: map[string]string{"Content-Type": tc.ct}})
			if w.Code != 200 {
				t.Errorf("status %d, want 200\n%s", w.Code, w.Body)
			}
		})
	}
}

func manyEnv(n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"K` + strconv.Itoa(i) + `": "v"`)
	}
	return b.String()
}

// TestCheckJSONPaths checks the field named for a duplicate key after
// closed siblings, in arrays and in deep nesting.
func TestCheckJSONPaths(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, field string }{
		{`{"a": {"x": 1, "y": 2}, "b": [1, {"c": 1, "c": 2}]}`, "b.1.c"},
		{`{"a": {"x": 1}, "a2": {"x": 1, "z": [], "x": 2}}`, "a2.x"},
		{`[{"k": 1}, {"k": 1}, [{"k": {"a": {}, "a": 1}}]]`, "2.0.k.a"},
		{`{"a": 1, "b": {"a": 1}, "c": {"b": {"a": 1}}, "a": 2}`, "a"},
		{`{"a": 1, "b": {"a": 1}}`, ""},
		{`{"` + strings.Repeat("k", 3) + `": "\"\\", "kkk\u0000": 1, "k\u006bk": 2}`, "kkk"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			field, msg := checkJSON([]byte(tc.body))
			if field != tc.field || (tc.field == "") != (msg == "") {
				t.Errorf("field %q (message %q), want %q", field, msg, tc.field)
			}
		})
	}
}

// TestCheckJSONLinear: a body of the largest size with one object of
// many keys is checked with a number of key comparisons linear in the
// keys (comparing each key with all before it would be quadratic: 10^9),
// and deep nesting is checked too.
func TestCheckJSONLinear(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("{")
	keys := 0
	for ; b.Len() < DefaultMaxBodyBytes-64; keys++ {
		if keys > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(keys) + `":1`)
	}
	b.WriteString(`,"k7":2}`)
	sc := newScanner(b.Bytes())
	if field, _ := sc.scan(); field != "k7" {
		t.Errorf("field %q, want k7", field)
	}
	if max := 2 * manyKeys * (keys + 1); sc.compares > max {
		t.Errorf("%d key comparisons for %d keys, want at most %d", sc.compares, keys+1, max)
	}
	deep := strings.Repeat(`{"a":[`, 4000) + `{"b":1,"b":2}` + strings.Repeat(`]}`, 4000)
	if field, _ := checkJSON([]byte(deep)); field != strings.Repeat("a.0.", 4000)+"b" {
		t.Errorf("deep: field of %d bytes, want %d", len(field), 4*4000+1)
	}
}

func BenchmarkCheckJSON(b *testing.B) {
	body := []byte(`{"name": "x", "env": {` + manyEnv(20) + `}, "system": {"services": {"web": {"image": "nginx:1.27", "ports": ["8080:80"], "environment": {"A": "1", "B": "2"}}, "db": {"image": "postgres:16"}}}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, msg := checkJSON(body); msg != "" {
			b.Fatal(msg)
		}
	}
}

// TestNoServerPaths: diagnostics through the API never show the server's
// paths (issue 15.6: a bind mount of ~/.kube answered "bind mount of
// /root/.kube"): paths stay as the request wrote them.
func TestNoServerPaths(t *testing.T) {
	t.Parallel()
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	tests := []struct {
		name string
		body string
		want int
		// msg must be in a diagnostic's message or notes
		msg string
	}{
		{name: "short bind of ~", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27", "volumes": ["~/.kube:/data"]}}}}`,
			want: 200, msg: "bind mount of ~/.kube becomes the volume"},
		{name: "bind of ~ alone", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27", "volumes": ["~:/data"]}}}}`,
			want: 200, msg: "bind mount of ~ becomes the volume"},
		{name: "long bind of ~", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27", "volumes": [{"type": "bind", "source": "~/.ssh", "target": "/data"}]}}}}`,
			want: 200, msg: "bind mount of ~/.ssh becomes the volume"},
		{name: "~ from the request's env", body: `{"name": "x", "env": {"H": "~"}, "system": {"services": {"web": {"image": "nginx:1.27", "volumes": ["${H}/.kube:/data"]}}}}`,
			want: 200, msg: "bind mount of ~/.kube becomes the volume"},
		{name: "relative bind", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27", "volumes": ["./html:/data"]}}}}`,
			want: 200, msg: "bind mount of ./html becomes the volume"},
		{name: "build context in ~", body: `{"name": "x", "system": {"services": {"web": {"build": {"context": "~/src"}}}}}`,
			want: 200, msg: "docker build -t x-web ~/src"},
		{name: "relative build context", body: `{"name": "x", "system": "services:\n  web:\n    build: ./src\n"}`,
			want: 200, msg: "docker build -t x-web ./src"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			ts := httptest.NewServer(validating(t, newTestServer(t, f, nil)))
			defer ts.Close()
			req, _ := http.NewRequest("POST", ts.URL+"/v1/systems", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want && !(tc.want == 200 && resp.StatusCode == 201) {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.want, body)
			}
			var env api.Envelope
			var res api.StartResult
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(env.Result, &res); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range res.Diagnostics {
				if strings.Contains(d.Message+strings.Join(d.Notes, "\n"), tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no diagnostic says %q: %s", tc.msg, body)
			}
			for _, p := range []string{home, wd} {
				if len(p) > 1 && bytes.Contains(body, []byte(p)) {
					t.Errorf("the answer shows the server's path %s: %s", p, body)
				}
			}
		})
	}
}

// TestOperatorLimits: compute and storage beyond the operator's limits,
// and image names that are not references, are refused (issue 15.5),
// with the service or volume named and the diagnostic positioned.
func TestOperatorLimits(t *testing.T) {
	t.Parallel()
	sys := func(svc string, rest ...string) string {
		return `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27"` + svc + `}}` + strings.Join(rest, "") + `}}`
	}
	res := "/v1/systems/" + guidA
	tests := []refusal{
		{name: "cpu limit", path: "/v1/systems", body: sys(`, "deploy": {"resources": {"limits": {"cpus": "16"}}}`),
			want: 422, field: "system", msgs: []string{"service web: a CPU limit of 16 CPUs is over this server's limit of 4"}, diag: "limit-cpu"},
		{name: "service-level cpus", path: "/system/start", body: sys(`, "cpus": 4.5`),
			want: 422, field: "system", msgs: []string{"4.5 CPUs is over this server's limit of 4"}, diag: "limit-cpu"},
		{name: "cpu reservation", path: "/v1/systems", body: sys(`, "deploy": {"resources": {"reservations": {"cpus": "64"}}}`),
			want: 422, field: "system", msgs: []string{"a CPU reservation of 64 CPUs"}, diag: "limit-cpu"},
		{name: "memory limit", path: "/v1/systems", body: sys(`, "deploy": {"resources": {"limits": {"memory": "64g"}}}`),
			want: 422, field: "system", msgs: []string{"service web: a memory limit of 64Gi is over this server's memory limit of 8Gi"}, diag: "limit-memory"},
		{name: "mem_reservation", path: "/v1/systems", body: sys(`, "mem_reservation": "9g"`),
			want: 422, field: "system", msgs: []string{"a memory reservation of 9Gi"}, diag: "limit-memory"},
		{name: "tmpfs", path: "/v1/systems", body: sys(`, "volumes": [{"type": "tmpfs", "target": "/cache", "tmpfs": {"size": "20g"}}]`),
			want: 422, field: "system", msgs: []string{"tmpfs at /cache: 20Gi is over"}, diag: "limit-memory"},
		{name: "shm_size", path: "/v1/systems", body: sys(`, "shm_size": "16g"`),
			want: 422, field: "system", msgs: []string{"shm_size 16Gi is over"}, diag: "limit-memory"},
		{name: "volume size", path: "/v1/systems", body: sys(`, "volumes": ["data:/data"]`, `, "volumes": {"data": {"x-tycho": {"size": "1Ti"}}}`),
			want: 422, field: "system", msgs: []string{"volume data: 1Ti is over this server's largest volume, 10Gi"}, diag: "limit-volume-size"},
		{name: "storage class", path: "/v1/systems", body: sys(`, "volumes": ["data:/data"]`, `, "volumes": {"data": {"x-tycho": {"storageClass": "fast-ssd"}}}`),
			want: 422, field: "system", msgs: []string{`volume data: storage class "fast-ssd" is not allowed`}, diag: "limit-storage-class"},
		{name: "image in upper case", path: "/v1/systems", body: `{"name": "x", "system": {"services": {"web": {"image": "Nginx:1.27"}}}}`,
			want: 422, field: "system", msgs: []string{`service web: image "Nginx:1.27" is not a valid image reference`}, diag: "image-name"},
		{name: "image with a space", path: "/system/start", body: `{"name": "x", "system": "services:\n  db:\n    image: 'postgres 16'\n"}`,
			want: 422, field: "system", msgs: []string{`service db: image "postgres 16"`}, diag: "image-name"},
		{name: "image with a bad tag", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:1.27:x"}}}}`,
			want: 422, field: "system", msgs: []string{"service web: image"}, diag: "image-name"},
		{name: "modify cpu", method: "PATCH", path: res, body: `{"cpu": "64"}`,
			want: 422, field: "cpu", msgs: []string{"cpu: 64 CPUs is over this server's limit of 4"}},
		{name: "modify cpu, legacy", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "cpu": "4001m"}`,
			want: 422, field: "cpu", msgs: []string{"4.001 CPUs is over"}},
		{name: "modify memory", method: "PATCH", path: res, body: `{"memory": "1Ti"}`,
			want: 422, field: "memory", msgs: []string{"memory: 1Ti is over this server's memory limit of 8Gi"}},
	}
	checkRefusals(t, tests, func(o *Options) { o.Resources.StorageClasses = []string{"standard"} })
}

// TestOperatorLimitsAccept: values at the limits, and any value without
// limits, are accepted.
func TestOperatorLimitsAccept(t *testing.T) {
	t.Parallel()
	at := `{"name": "x", "system": {"services": {"web": {"image": "ghcr.io/org/app:v1@sha256:` + strings.Repeat("a", 64) + `", "volumes": ["data:/data"],
	  "deploy": {"resources": {"limits": {"cpus": "4", "memory": "8g"}}}}}, "volumes": {"data": {"x-tycho": {"size": "10Gi", "storageClass": "standard"}}}}}`
	big := `{"name": "x", "system": {"services": {"web": {"image": "nginx", "volumes": ["data:/data"],
	  "deploy": {"resources": {"limits": {"cpus": "64", "memory": "1024g"}}}}}, "volumes": {"data": {"x-tycho": {"size": "100Ti", "storageClass": "any"}}}}}`
	tests := []struct {
		name   string
		limits ResourceLimits
		body   string
	}{
		{"at the default limits", ResourceLimits{StorageClasses: []string{"standard"}}, at},
		{"no limits", ResourceLimits{MaxCPUMilli: -1, MaxMemory: -1, MaxVolumeSize: -1}, big},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			s := newTestServer(t, f, func(o *Options) { o.Resources = tc.limits })
			if w := do(t, s, request{method: "POST", path: "/system/start", body: tc.body}); w.Code != 200 {
				t.Errorf("start: %d, want 200\n%s", w.Code, w.Body)
			}
			f.add(guidA)
			if w := do(t, s, request{method: "PATCH", path: "/v1/systems/" + guidA, body: `{"cpu": "4", "memory": "8Gi"}`}); w.Code != 200 {
				t.Errorf("modify: %d, want 200\n%s", w.Code, w.Body)
			}
		})
	}
}

// TestNewRefusesOptionsOverLimits: a default volume or storage class
// beyond the limits would refuse every bind mount.
func TestNewRefusesOptionsOverLimits(t *testing.T) {
	t.Parallel()
	for name, mod := range map[string]func(*Options){
		"volume size":   func(o *Options) { o.Compile.VolumeSize = 20 << 30 },
		"storage class": func(o *Options) { o.Compile.StorageClass = "fast"; o.Resources.StorageClasses = []string{"standard"} },
	} {
		opts := Options{Systems: newFake(), Tokens: []string{testToken}}
		mod(&opts)
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
}

// TestParseLimits reads the flags' values.
func TestParseLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		cpu     int64
		size    int64
		cpuErr  bool
		sizeErr bool
	}{
		{in: "4", cpu: 4000, size: 4},
		{in: "500m", cpu: 500, size: 500 << 20}, // compose's units: m is MiB
		{in: "8Gi", cpuErr: false, cpu: 8 << 30 * 1000, size: 8 << 30},
		{in: "none", cpu: -1, size: -1},
		{in: "", cpu: 0, size: 0},
		{in: "-1", cpuErr: true, sizeErr: true},
		{in: "lots", cpuErr: true, sizeErr: true},
	} {
		cpu, err := ParseCPULimit(tc.in)
		if (err != nil) != tc.cpuErr || (err == nil && cpu != tc.cpu) {
			t.Errorf("ParseCPULimit(%q) = %d, %v; want %d (error %v)", tc.in, cpu, err, tc.cpu, tc.cpuErr)
		}
		size, err := ParseSizeLimit(tc.in)
		if (err != nil) != tc.sizeErr || (err == nil && size != tc.size) {
			t.Errorf("ParseSizeLimit(%q) = %d, %v; want %d (error %v)", tc.in, size, err, tc.size, tc.sizeErr)
		}
	}
}
