package server

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/api"
)

// rootOnNode is what a token holder would send to get root on a node:
// every host namespace, all capabilities, root, an unsafe sysctl.
const rootOnNode = `{"services": {"pwn": {"image": "busybox", "pid": "host", "network_mode": "host", "ipc": "host",
  "cap_add": ["ALL"], "user": "0:0", "sysctls": {"kernel.core_pattern": "|/tmp/x"}}}}`

// TestSecurityCeiling: the server's --security level is a ceiling that
// no request can raise: a system that needs more is refused with a
// diagnostic per key, nothing is started, and what is started never
// runs in a namespace above the ceiling.
func TestSecurityCeiling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ceiling string
		system  string
		want    int
		// keys are the paths of the error diagnostics, sorted
		keys []string
		// level is the started system's namespace level
		level string
	}{
		{name: "baseline refuses host namespaces, capabilities and sysctls", ceiling: "baseline", system: rootOnNode, want: 422,
			keys: []string{"services.pwn.cap_add", "services.pwn.ipc", "services.pwn.network_mode", "services.pwn.pid", "services.pwn.sysctls"}},
		{name: "baseline refuses privileged", ceiling: "baseline", system: `{"services": {"p": {"image": "busybox", "privileged": true}}}`, want: 422,
			keys: []string{"services.p.privileged"}},
		{name: "restricted refuses root too", ceiling: "restricted", system: rootOnNode, want: 422,
			keys: []string{"services.pwn.cap_add", "services.pwn.cap_add", "services.pwn.ipc", "services.pwn.network_mode", "services.pwn.pid", "services.pwn.sysctls", "services.pwn.user"}},
		{name: "restricted refuses what baseline allows", ceiling: "restricted", system: `{"services": {"w": {"image": "nginx", "cap_add": ["CHOWN"]}}}`, want: 422,
			keys: []string{"services.w.cap_add"}},
		{name: "baseline starts a plain system at baseline", ceiling: "baseline", system: okSystem, want: 200, level: "baseline"},
		{name: "privileged starts a plain system at baseline", ceiling: "privileged", system: okSystem, want: 200, level: "baseline"},
		{name: "the operator's privileged ceiling allows it", ceiling: "privileged", system: rootOnNode, want: 200, level: "privileged"},
		{name: "restricted starts a compliant system at restricted", ceiling: "restricted", system: `{"services": {"w": {"image": "nginx", "user": "1000"}}}`, want: 200, level: "restricted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			s := newTestServer(t, f, func(o *Options) { o.Compile.Security = tc.ceiling })
			w := do(t, s, request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + tc.system + `}`})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			starts, _, _ := f.created()
			if tc.want != 200 {
				if starts != 0 {
					t.Fatalf("%d systems started, want none", starts)
				}
				var res api.ErrorResult
				env := envelope(t, w, &res)
				var keys []string
				for _, d := range res.Diagnostics {
					if d.Severity == "error" {
						keys = append(keys, d.Path)
						if d.Line == 0 {
							t.Errorf("diagnostic without a position: %+v", d)
						}
					}
				}
				sort.Strings(keys)
				if diff := cmp.Diff(tc.keys, keys); diff != "" {
					t.Errorf("error keys (-want +got)\n%s", diff)
				}
				if !strings.Contains(env.Message, "does not compile") {
					t.Errorf("message %q", env.Message)
				}
				return
			}
			if starts != 1 {
				t.Fatalf("%d systems started, want 1", starts)
			}
			if got := f.specs[0].SecurityLevel; got != tc.level {
				t.Errorf("namespace level %q, want %q", got, tc.level)
			}
		})
	}
}

// TestSecurityCeilingNote: the refusal says how the operator allows it,
// and a request has no way to: the level is not a request field.
func TestSecurityCeilingNote(t *testing.T) {
	t.Parallel()
	f := newFake()
	s := newTestServer(t, f, func(o *Options) { o.Compile.Security = "baseline" })
	w := do(t, s, request{method: "POST", path: "/system/start", body: `{"name": "x", "system": ` + rootOnNode + `}`})
	var res api.ErrorResult
	envelope(t, w, &res)
	b, _ := json.Marshal(res.Diagnostics)
	if !strings.Contains(string(b), "the level allowed is baseline: allow privileged explicitly with --security privileged") {
		t.Errorf("no note on how to allow it: %s", b)
	}
	w = do(t, s, request{method: "POST", path: "/system/start", body: `{"name": "x", "security": "privileged", "system": ` + rootOnNode + `}`})
	if w.Code != 400 {
		t.Errorf("a request field security: status %d, want 400 (unknown field)", w.Code)
	}
	if starts, _, _ := f.created(); starts != 0 {
		t.Errorf("%d systems started", starts)
	}
}
