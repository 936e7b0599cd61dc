package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/ast"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"system": "shop", "service": "web", "port": "8080", "guid": ""}
	for _, tc := range []struct {
		name, template, want, err string
	}{
		{"host", "{service}.{system}.example.com", "web.shop.example.com", ""},
		{"port", "/{system}/{service}-{port}/", "/shop/web-8080/", ""},
		{"literal", "/app/", "/app/", ""},
		{"unknown", "{app}.example.com", "", "unknown placeholder {app}: use {system}, {service}, {port} or {guid}"},
		{"no guid", "/{guid}/", "", "{guid} needs the system's GUID (compile with --guid; up and the API assign one)"},
		{"unbalanced", "/{system/", "", "unbalanced braces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := expand(tc.template, vars)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			} else if got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.template, got, tc.want)
			}
			if gotErr != tc.err {
				t.Errorf("error %q, want %q", gotErr, tc.err)
			}
		})
	}
}

func TestParsePodSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     *ast.PodSelector
		err      string
	}{
		{"namespace and pod", "namespace=traefik,pod=app.kubernetes.io/name=traefik",
			&ast.PodSelector{NamespaceLabels: []ast.KV{{Key: "kubernetes.io/metadata.name", Value: "traefik"}},
				PodLabels: []ast.KV{{Key: "app.kubernetes.io/name", Value: "traefik"}}}, ""},
		{"sorted labels", "pod=b=1, pod=a=2,namespace-label=team=web",
			&ast.PodSelector{NamespaceLabels: []ast.KV{{Key: "team", Value: "web"}},
				PodLabels: []ast.KV{{Key: "a", Value: "2"}, {Key: "b", Value: "1"}}}, ""},
		{"any", "any", &ast.PodSelector{}, ""},
		{"no equals", "traefik", nil, `"traefik": write namespace=NAME, namespace-label=KEY=VALUE or pod=KEY=VALUE`},
		{"unknown key", "node=a", nil, `"node=a": unknown selector "node" (namespace, namespace-label or pod)`},
		{"bad namespace", "namespace=Traefik", nil, `namespace "Traefik": label "Traefik" must be lower-case letters, digits and '-', starting and ending with a letter or digit`},
		{"pod without value", "pod=app", nil, `"pod=app": pod needs KEY=VALUE`},
		{"bad label value", "pod=app=a b", nil, `"pod=app=a b": "a b" is not a valid label value`},
		{"twice", "pod=a=1,pod=a=2", nil, `"pod=a=2": label a is given twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePodSelector(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseGatewayIssuer(t *testing.T) {
	t.Parallel()
	if g, err := ParseGateway("infra/public"); err != nil || g != (ast.GatewayRef{Namespace: "infra", Name: "public"}) {
		t.Errorf("ParseGateway(infra/public) = %v, %v", g, err)
	}
	if g, err := ParseGateway("public"); err != nil || g != (ast.GatewayRef{Name: "public"}) {
		t.Errorf("ParseGateway(public) = %v, %v", g, err)
	}
	for _, bad := range []string{"", "infra/", "a/b/c", "In fra/x"} {
		if _, err := ParseGateway(bad); err == nil {
			t.Errorf("ParseGateway(%q) accepted", bad)
		}
	}
	for in, want := range map[string][2]string{
		"letsencrypt": {"ClusterIssuer", "letsencrypt"}, "Issuer/ca": {"Issuer", "ca"}, "ClusterIssuer/le": {"ClusterIssuer", "le"},
	} {
		k, n, err := ParseIssuer(in)
		if err != nil || k != want[0] || n != want[1] {
			t.Errorf("ParseIssuer(%q) = %q, %q, %v; want %v", in, k, n, err, want)
		}
	}
	for _, bad := range []string{"Certificate/x", "Issuer/", "ca_1"} {
		if _, _, err := ParseIssuer(bad); err == nil {
			t.Errorf("ParseIssuer(%q) accepted", bad)
		}
	}
}

func TestNotHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		port ast.Port
		http bool
	}{
		{"web port", ast.Port{Target: 80, Protocol: ast.TCP}, true},
		{"8080", ast.Port{Target: 8080, Protocol: ast.TCP}, true},
		{"tls port", ast.Port{Target: 443, Protocol: ast.TCP}, false},
		{"database", ast.Port{Target: 5432, Protocol: ast.TCP}, false},
		{"app_protocol http", ast.Port{Target: 9000, Protocol: ast.TCP, AppProtocol: "HTTP"}, true},
		{"app_protocol ws", ast.Port{Target: 9000, Protocol: ast.TCP, AppProtocol: "kubernetes.io/ws"}, true},
		{"app_protocol on a web port", ast.Port{Target: 80, Protocol: ast.TCP, AppProtocol: "grpc"}, false},
		{"udp web port", ast.Port{Target: 80, Protocol: ast.UDP}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			why := notHTTP(&tc.port)
			if (why == "") != tc.http {
				t.Errorf("notHTTP = %q, want HTTP %v", why, tc.http)
			}
		})
	}
}

func TestHostLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"web": "web", "My_Web.1": "my-web-1", "_x_": "x"} {
		if got := hostLabel(in); got != want {
			t.Errorf("hostLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckHostPathPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, template, err string
		check               func(string) error
	}{
		{"host", "{service}-{guid}.apps.example.com", "", CheckHost},
		{"host none", "", "", CheckHost},
		{"host unknown placeholder", "{app}.example.com", "unknown placeholder {app}: use {system}, {service}, {port} or {guid}", CheckHost},
		{"host brace not closed", "{service.example.com", "unbalanced braces", CheckHost},
		{"host upper case", "Web-{service}.example.com", `"Web-{service}.example.com" is not a valid host name: label "Web-s" must be lower-case letters, digits and '-', starting and ending with a letter or digit`, CheckHost},
		{"host empty label", "{service}..example.com", `"{service}..example.com" is not a valid host name: an empty label`, CheckHost},
		{"host IP address", "10.0.0.{port}", `"10.0.0.{port}" is not a valid host name: an IP address: Ingress and HTTPRoute match host names only (leave the host out to match any)`, CheckHost},
		{"path", "/private/{system}/{guid}/{service}/", "", CheckPathPrefix},
		{"path root", "/", "", CheckPathPrefix},
		{"path without slashes", "{system}", "", CheckPathPrefix},
		{"path brace not opened", "/system}/", "unbalanced braces", CheckPathPrefix},
		{"path space", "/a b/{service}", `path prefix "/a b/{service}" is not a path of segments of letters, digits and -._~`, CheckPathPrefix},
		{"path empty segment", "/a//{service}/", `path prefix "/a//{service}/" is not a path of segments of letters, digits and -._~`, CheckPathPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			if err := tc.check(tc.template); err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
		})
	}
}
