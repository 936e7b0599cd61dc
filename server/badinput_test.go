package server

import (
	"strings"
	"testing"

	"github.com/tychoctl/tycho/api"
)

const okSystem = `{"services": {"web": {"image": "nginx:1.27", "ports": ["8080:80"]}}}`

// TestBadInput sends requests that must fail: each gets its status, the
// error envelope with a message naming what is wrong, and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	big := `{"name": "big", "system": {"services": {"web": {"image": "` + strings.Repeat("x", 70<<10) + `"}}}}`
	tests := []struct {
		name string
		req  request
		// want is the status; field the result's field; msg a part of
		// the message.
		want  int
		field string
		msg   string
		// diags asks for positioned diagnostics.
		diags bool
	}{
		{name: "malformed JSON", req: request{method: "POST", path: "/system/start", body: `{"name": "x", `},
			want: 400, msg: "not valid JSON"},
		{name: "not an object", req: request{method: "POST", path: "/system/start", body: `[1, 2]`},
			want: 400, msg: "must be an object"},
		{name: "wrong type of name", req: request{method: "POST", path: "/system/start", body: `{"name": 5, "system": {}}`},
			want: 400, field: "name", msg: "name: "},
		{name: "bad name", req: request{method: "POST", path: "/v1/systems", body: `{"name": "-x", "system": {}}`},
			want: 400, field: "name", msg: "name: string doesn't match the regular expression"},
		{name: "wrong type of env value", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "env": {"A": 1}, "system": {}}`},
			want: 400, field: "env.A", msg: "env.A: "},
		{name: "wrong type of port", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "services": {"web": {"port": true}}}`},
			want: 400, field: "services.web.port", msg: "must be integer from 1 to 65535 or string"},
		{name: "wrong type of system", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": 3}`},
			want: 400, field: "system", msg: "must be object or string"},
		{name: "unknown field", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {}, "bogus": 1}`},
			want: 400, msg: `"bogus"`},
		{name: "unknown nested field", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "services": {"web": {"prot": 80}}}`},
			want: 400, field: "services.web", msg: `"prot"`},
		{name: "missing system", req: request{method: "POST", path: "/system/start", body: `{"name": "x"}`},
			want: 400, field: "system", msg: `property "system" is missing`},
		{name: "empty body", req: request{method: "POST", path: "/system/start", body: ""},
			want: 400, msg: "required"},
		{name: "not JSON content type", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {}}`, header: map[string]string{"Content-Type": "text/plain"}},
			want: 415, msg: "application/json"},
		{name: "compose that does not load", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx", "ports": [{"target": "eighty"}]}}}}`},
			want: 422, field: "system", msg: "services.web.ports", diags: true},
		{name: "compose with an unknown key", req: request{method: "POST", path: "/v1/systems", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx", "imagex": 1}}}}`},
			want: 422, field: "system", msg: "imagex", diags: true},
		{name: "compose YAML that does not parse", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": "services:\n  web:\n    image: [nginx\n"}`},
			want: 422, field: "system", msg: "compose.yaml:", diags: true},
		{name: "compose YAML that is not a mapping", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": "- a\n- b\n"}`},
			want: 400, field: "system", msg: "not a mapping"},
		{name: "undefined variable", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx:${TAG:?set TAG}"}}}}`},
			want: 422, field: "system", msg: "TAG", diags: true},
		{name: "secret from a variable the request lacks", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx", "secrets": ["s"]}}, "secrets": {"s": {"environment": "PASSWORD"}}}}`},
			want: 422, field: "system", msg: "environment variable PASSWORD is not set", diags: true},
		{name: "config from a variable the request lacks", req: request{method: "POST", path: "/v1/systems", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx", "configs": ["c"]}}, "configs": {"c": {"environment": "GREETING"}}}}`},
			want: 422, field: "system", msg: "environment variable GREETING is not set", diags: true},
		{name: "env_file reads the server's files", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx", "env_file": "/etc/passwd"}}}}`},
			want: 400, field: "system.services.web.env_file", msg: "reads no files"},
		{name: "config file reads the server's files", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"image": "nginx"}}, "configs": {"c": {"file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}}}`},
			want: 400, field: "system.configs.c.file", msg: "content:"},
		{name: "secret file in YAML text", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": "services:\n  web: {image: nginx}\nsecrets:\n  s:\n    file: /etc/shadow\n"}`},
			want: 400, field: "system.secrets.s.file", msg: "reads no files"},
		{name: "include", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"include": ["/etc/compose.yaml"], "services": {}}}`},
			want: 400, field: "system.include", msg: "reads no files"},
		{name: "extends a file", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": {"services": {"web": {"extends": {"file": "/x.yaml", "service": "a"}}}}}`},
			want: 400, field: "system.services.web.extends.file", msg: "reads no files"},
		{name: "metadata of a missing service", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "services": {"db": {"port": 5432}}}`},
			want: 400, field: "services.db", msg: `no service "db"`},
		{name: "port out of range", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "services": {"web": {"port": "99999"}}}`},
			want: 400, field: "services.web.port", msg: "out of range"},
		{name: "bad client CIDR", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "services": {"web": {"port": 80, "clients": ["10.0.0.0/8", "nowhere"]}}}`},
			want: 400, field: "services.web.clients.1", msg: `"nowhere"`},
		{name: "bad username", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "principal": "{\"username\": \"a b@c\"}"}`},
			want: 400, field: "principal.username", msg: "label value"},
		{name: "bad principal", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "principal": "not json"}`},
			want: 400, field: "principal", msg: "username"},
		{name: "bad service account", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `, "serviceaccount": "Admin!"}`},
			want: 400, field: "serviceaccount", msg: "serviceaccount: string doesn't match"},
		{name: "body over the limit", req: request{method: "POST", path: "/system/start", body: big},
			want: 413, msg: "larger than"},
		{name: "missing token", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `}`, header: map[string]string{"Authorization": ""}},
			want: 401, msg: "bearer token"},
		{name: "wrong token", req: request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + okSystem + `}`, header: map[string]string{"Authorization": "Bearer " + testToken + "x"}},
			want: 401, msg: "bearer token"},
		{name: "basic auth", req: request{method: "GET", path: "/v1/systems", header: map[string]string{"Authorization": "Basic " + testToken}},
			want: 401, msg: "bearer token"},
		{name: "metrics need the token", req: request{method: "GET", path: "/metrics", header: map[string]string{"Authorization": ""}},
			want: 401, msg: "bearer token"},
		{name: "status of an unknown GUID", req: request{method: "POST", path: "/system/status", body: `{"name": "` + guidNone + `"}`},
			want: 404, msg: guidNone},
		{name: "status of a bad GUID", req: request{method: "POST", path: "/system/status", body: `{"name": "xyz"}`},
			want: 400, field: "name", msg: "name: string doesn't match"},
		{name: "status filtered by username", req: request{method: "POST", path: "/system/status", body: `{"username": "renci"}`},
			want: 400, msg: `"username"`},
		{name: "get an unknown GUID", req: request{method: "GET", path: "/v1/systems/" + guidNone},
			want: 404, msg: "not found"},
		{name: "get a bad GUID", req: request{method: "GET", path: "/v1/systems/XYZ"},
			want: 400, field: "guid", msg: "guid"},
		{name: "delete an unknown GUID", req: request{method: "POST", path: "/system/delete", body: `{"name": "` + guidNone + `"}`},
			want: 404, msg: "not found"},
		{name: "delete without a GUID", req: request{method: "POST", path: "/system/delete", body: `{}`},
			want: 400, field: "name", msg: `property "name" is missing`},
		{name: "delete a bad GUID", req: request{method: "DELETE", path: "/v1/systems/" + guidNone + "0"},
			want: 400, field: "guid"},
		{name: "delete with a bad flag", req: request{method: "DELETE", path: "/v1/systems/" + guidA + "?volumes=perhaps"},
			want: 400, field: "volumes"},
		{name: "delete an unknown GUID by resource", req: request{method: "DELETE", path: "/v1/systems/" + guidNone},
			want: 404, msg: "not found"},
		{name: "modify an unknown GUID", req: request{method: "POST", path: "/system/modify", body: `{"tycho-guid": "` + guidNone + `", "cpu": "1"}`},
			want: 404, msg: "not found"},
		{name: "modify nothing", req: request{method: "PATCH", path: "/v1/systems/" + guidA, body: `{}`},
			want: 400, msg: "nothing to modify"},
		{name: "modify a reserved label", req: request{method: "PATCH", path: "/v1/systems/" + guidA, body: `{"labels": {"tycho-guid": "x"}}`},
			want: 400, field: "labels.tycho-guid", msg: "cannot be changed"},
		{name: "modify with a bad label value", req: request{method: "PATCH", path: "/v1/systems/" + guidA, body: `{"labels": {"team": "a b"}}`},
			want: 400, field: "labels.team", msg: "label value"},
		{name: "modify with a bad cpu", req: request{method: "POST", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "cpu": "lots"}`},
			want: 400, field: "cpu", msg: "quantity"},
		{name: "modify with a negative memory", req: request{method: "POST", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "memory": "-1Gi"}`},
			want: 400, field: "memory", msg: "quantity"},
		{name: "modify with the wrong type of cpu", req: request{method: "POST", path: "/system/modify", body: `{"tycho-guid": "` + guidA + `", "cpu": 2}`},
			want: 400, field: "cpu", msg: "cpu: "},
		{name: "restart without a body", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: ""},
			want: 400, msg: "the request body is required"},
		{name: "restart with a duplicate key", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"wait": true, "wait": false}`},
			want: 400, field: "wait", msg: `the key "wait" appears twice`},
		{name: "restart with trailing data", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{} {}`},
			want: 400, msg: "after"},
		{name: "restart with the wrong type of services", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"services": "web"}`},
			want: 400, field: "services", msg: "services"},
		{name: "restart of too many services", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"services": [` + strings.Repeat(`"web",`, 1000) + `"web"]}`},
			want: 400, field: "services", msg: "maximum number of items is 1000"},
		{name: "restart not JSON", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}},
			want: 415, msg: "application/json"},
		{name: "restart body over the limit", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"services": ["` + strings.Repeat("x", 70<<10) + `"]}`},
			want: 413, msg: "larger than"},
		{name: "restart with a wrong token", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{}`, header: map[string]string{"Authorization": "Bearer " + testToken + "x"}},
			want: 401, msg: "bearer token"},
		{name: "restart of a bad GUID", req: request{method: "POST", path: "/v1/systems/XYZ/restart", body: `{}`},
			want: 400, field: "guid", msg: "guid"},
		{name: "services with a wrong token", req: request{method: "GET", path: "/v1/systems/" + guidA + "/services", header: map[string]string{"Authorization": "Bearer " + testToken + "x"}},
			want: 401, msg: "bearer token"},
		{name: "unknown route", req: request{method: "GET", path: "/system/start"},
			want: 405, msg: "allowed: POST"},
		{name: "unknown path", req: request{method: "POST", path: "/system/restart", body: `{}`},
			want: 404, msg: "no operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.add(guidA)
			s := newTestServer(t, f, nil)
			w := do(t, s, tc.req)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d\n%s", w.Code, tc.want, w.Body)
			}
			if starts, deletes, modifies := f.created(); starts+deletes+modifies != 0 {
				t.Errorf("changed something: %d starts, %d deletes, %d modifies", starts, deletes, modifies)
			}
			f.mu.Lock()
			restarts := len(f.restarts)
			f.mu.Unlock()
			if restarts != 0 {
				t.Errorf("restarted something: %d restarts", restarts)
			}
			var res api.ErrorResult
			env := envelope(t, w, &res)
			if env.Status != api.StatusError {
				t.Errorf("status %q, want %q", env.Status, api.StatusError)
			}
			if res.Field != tc.field {
				t.Errorf("field %q, want %q (message %q)", res.Field, tc.field, env.Message)
			}
			if !strings.Contains(env.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", env.Message, tc.msg)
			}
			if res.Error != env.Message {
				t.Errorf("result.error %q differs from the message %q", res.Error, env.Message)
			}
			if res.RequestID == "" || res.RequestID != w.Header().Get("X-Request-Id") {
				t.Errorf("request id %q, header %q", res.RequestID, w.Header().Get("X-Request-Id"))
			}
			if tc.diags {
				if len(res.Diagnostics) == 0 {
					t.Fatalf("no diagnostics")
				}
				d := res.Diagnostics[0]
				if d.Severity != "error" || d.File == "" || d.Line == 0 || d.Message == "" {
					t.Errorf("first diagnostic is not a positioned error: %+v", d)
				}
			}
			if strings.Contains(w.Body.String(), "goroutine") || strings.Contains(w.Body.String(), ".go:") {
				t.Errorf("the response leaks a stack: %s", w.Body)
			}
		})
	}
}
