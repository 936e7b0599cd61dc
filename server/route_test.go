package server

import (
	"strings"
	"testing"

	"github.com/tychoctl/tycho/api"
)

// TestStartBadRoute: a start request whose route cannot be made is
// refused, naming the request's field: 400 when the template is wrong for
// any system, 422 with a positioned diagnostic whose note names the field
// when only this system's names make it wrong. Nothing is started.
func TestStartBadRoute(t *testing.T) {
	t.Parallel()
	start := func(system, route string) string {
		return `{"name": "shop", "system": ` + system + `, "route": ` + route + `}`
	}
	long := strings.Repeat("w", 60)
	tests := []struct {
		name, body string
		want       int
		field, msg string
		// note is a part of the first diagnostic's notes (422 only)
		note string
	}{
		{name: "unknown placeholder in the host", body: start(okSystem, `{"host": "{app}.example.com"}`),
			want: 400, field: "route.host", msg: "route.host: unknown placeholder {app}"},
		{name: "host brace not closed", body: start(okSystem, `{"host": "{service.example.com"}`),
			want: 400, field: "route.host", msg: "route.host: unbalanced braces"},
		{name: "host not a host name", body: start(okSystem, `{"host": "Web_{service}.example.com"}`),
			want: 400, field: "route.host", msg: `route.host: "Web_{service}.example.com" is not a valid host name`},
		{name: "host an IP address", body: start(okSystem, `{"host": "192.0.2.1"}`),
			want: 400, field: "route.host", msg: "an IP address"},
		{name: "path prefix brace not opened", body: start(okSystem, `{"path_prefix": "/{system}}/"}`),
			want: 400, field: "route.path_prefix", msg: "route.path_prefix: unbalanced braces"},
		{name: "path prefix not a path", body: start(okSystem, `{"path_prefix": "/a b/{service}/"}`),
			want: 400, field: "route.path_prefix", msg: "is not a path of segments"},
		{name: "host too long with this service's name",
			body: start(`{"services": {"`+long+`": {"image": "nginx:1.27", "ports": ["8080:80"]}}}`, `{"host": "{service}-{port}.example.com"}`),
			want: 422, field: "system", msg: "is longer than 63 characters", note: "route.host gives it, for port 8080 of " + long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			s := newTestServer(t, f, nil)
			w := do(t, s, request{method: "POST", path: "/v1/systems", body: tc.body})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d\n%s", w.Code, tc.want, w.Body)
			}
			if starts, deletes, modifies := f.created(); starts+deletes+modifies != 0 {
				t.Errorf("changed something: %d starts, %d deletes, %d modifies", starts, deletes, modifies)
			}
			var res api.ErrorResult
			env := envelope(t, w, &res)
			if res.Field != tc.field {
				t.Errorf("field %q, want %q (message %q)", res.Field, tc.field, env.Message)
			}
			if !strings.Contains(env.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", env.Message, tc.msg)
			}
			if tc.note == "" {
				return
			}
			if len(res.Diagnostics) == 0 {
				t.Fatal("no diagnostics")
			}
			d := res.Diagnostics[0]
			if d.Severity != "error" || d.Code != "route-host" || d.File == "" || d.Line == 0 || d.Col == 0 {
				t.Errorf("first diagnostic is not a positioned route-host error: %+v", d)
			}
			if !strings.Contains(strings.Join(d.Notes, "\n"), tc.note) {
				t.Errorf("notes %q do not contain %q", d.Notes, tc.note)
			}
		})
	}
}
