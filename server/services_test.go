package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/api"
)

func TestServicesAndRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      request
		wantCode int
		wantBody string // a part of the body
		want     any    // the whole result, decoded into its type
	}{
		{
			name: "Services", req: request{method: "GET", path: "/v1/systems/" + guidA + "/services"}, wantCode: 200,
			want: []api.ServiceStatus{{Service: "web", Kind: "Deployment", Ready: 0, Desired: 1, Restarts: 3, State: "CrashLoopBackOff",
				Ports: []string{"80/tcp"}, Endpoints: []string{"198.51.100.7:31333"}}},
		},
		{name: "ServicesUnknown", req: request{method: "GET", path: "/v1/systems/" + guidNone + "/services"}, wantCode: 404, wantBody: "system not found"},
		{name: "ServicesBadGUID", req: request{method: "GET", path: "/v1/systems/nope/services"}, wantCode: 400},
		{name: "ServicesNoToken", req: request{method: "GET", path: "/v1/systems/" + guidA + "/services", header: map[string]string{"Authorization": ""}}, wantCode: 401},
		{
			name: "Restart", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"services": ["web"], "wait": true}`}, wantCode: 200,
			want: api.RestartResult{Restarted: []string{"Deployment/web"}},
		},
		{name: "RestartAll", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{}`}, wantCode: 200,
			want: api.RestartResult{Restarted: []string{"Deployment/web"}}},
		{name: "RestartUnknownService", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"services": ["cache"]}`},
			wantCode: 400, wantBody: "has no service cache"},
		{name: "RestartUnknownSystem", req: request{method: "POST", path: "/v1/systems/" + guidNone + "/restart", body: `{}`}, wantCode: 404},
		{name: "RestartUnknownField", req: request{method: "POST", path: "/v1/systems/" + guidA + "/restart", body: `{"service": "web"}`}, wantCode: 400},
		{name: "RestartGET", req: request{method: "GET", path: "/v1/systems/" + guidA + "/restart"}, wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.add(guidA)
			s := newTestServer(t, f, nil)
			w := do(t, s, tt.req)
			if w.Code != tt.wantCode {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.wantCode)
			}
			if !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("body %s, want it to contain %q", w.Body, tt.wantBody)
			}
			if tt.want == nil {
				return
			}
			var env api.Envelope
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			switch want := tt.want.(type) {
			case []api.ServiceStatus:
				var got []api.ServiceStatus
				if err := json.Unmarshal(env.Result, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			case api.RestartResult:
				var got api.RestartResult
				if err := json.Unmarshal(env.Result, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				if len(f.restarts) != 1 || f.restarts[0].Timeout != s.opts.StartTimeout {
					t.Errorf("restarts %+v, want one with the start timeout", f.restarts)
				}
			}
		})
	}
}
