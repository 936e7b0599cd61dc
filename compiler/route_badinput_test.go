package compiler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
)

// TestRouteBadInput: odd x-tycho.route input gives a positioned error at
// the key or list entry at fault, and never a panic nor an error repeated
// as a route collision.
func TestRouteBadInput(t *testing.T) {
	t.Parallel()
	// line 10 holds the route setting, at column 9
	const head = "name: shop\nx-tycho:\n  expose: ingress\nservices:\n  web:\n    image: nginx\n" +
		"    ports: [\"80:80\", \"9000:9000\", \"53:53/udp\", \"5432:5432\"]\n    x-tycho:\n      route:\n"
	long := strings.Repeat("a", 60)
	manyPorts := "        ports: [80" + strings.Repeat(", 80", 2000) + "]\n"
	tests := []struct {
		name, in string
		// want is the first error; errors how many there are
		want   string
		errors int
	}{
		{"host not a string", "        host: [a]\n",
			"compose.yaml:10:9: error: services.web.x-tycho.route.host: invalid x-tycho: must be a string, not array [x-tycho]", 1},
		{"host unknown placeholder", "        host: \"{app}.example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "{app}.example.com": unknown placeholder {app}: use {system}, {service}, {port} or {guid} [route-host]`, 1},
		{"host brace not closed", "        host: \"{service.example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "{service.example.com": unbalanced braces [route-host]`, 1},
		{"host brace not opened", "        host: \"service}.example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "service}.example.com": unbalanced braces [route-host]`, 1},
		{"host braces nested", "        host: \"{{port}}.example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "{{port}}.example.com": unbalanced braces [route-host]`, 1},
		{"host an IP address", "        host: 192.0.2.1\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "192.0.2.1" is not a valid host name: an IP address: Ingress and HTTPRoute match host names only (leave the host out to match any) [route-host]`, 1},
		{"host label too long", "        host: \"{service}-" + long + ".example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "web-` + long + `.example.com" is not a valid host name: label "web-` + long + `" is longer than 63 characters [route-host]`, 1},
		{"host too long", "        host: \"" + strings.Repeat(long+".", 4) + "{port}.example.com\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.host: host "` + strings.Repeat(long+".", 4) + `80.example.com" is not a valid host name: longer than 253 characters [route-host]`, 1},
		{"path prefix brace not closed", "        pathPrefix: \"/{system/\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.pathPrefix: path prefix "/{system/": unbalanced braces [route-path]`, 1},
		{"path prefix too long", "        pathPrefix: \"/" + strings.Repeat("a", 1100) + "/{port}/\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.pathPrefix: path prefix "/` + strings.Repeat("a", 1100) + `/80/" is longer than 1024 characters [route-path]`, 1},
		{"stripPrefix not a boolean", "        stripPrefix: \"yes\"\n",
			"compose.yaml:10:9: error: services.web.x-tycho.route.stripPrefix: invalid x-tycho: must be true or false, not string [x-tycho]", 1},
		{"ports not a list", "        ports: \"80\"\n",
			"compose.yaml:10:9: error: services.web.x-tycho.route.ports: invalid x-tycho: must be a list, not string [x-tycho]", 1},
		{"port out of range", "        ports: [70000]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: must be a published port (1-65535) or a mapping with a port, not 70000 [x-tycho]", 1},
		{"port negative", "        ports: [80, -1]\n",
			"compose.yaml:10:21: error: services.web.x-tycho.route.ports.1: invalid x-tycho: must be a published port (1-65535) or a mapping with a port, not -1 [x-tycho]", 1},
		{"port as text", "        ports: [\"80\"]\n",
			`compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: must be a published port (1-65535) or a mapping with a port, not "80" [x-tycho]`, 1},
		{"port empty", "        ports: [~]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: must be a published port (1-65535) or a mapping with a port, not null [x-tycho]", 1},
		{"port zero", "        ports: [0]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: must be a published port (1-65535) or a mapping with a port, not 0 [x-tycho]", 1},
		{"port listed twice", "        ports: [80, {port: 80, host: a.example.com}]\n",
			"compose.yaml:10:21: error: services.web.x-tycho.route.ports.1: port 80 is listed twice (also at ports.0) [x-tycho]", 1},
		{"many ports listed twice", manyPorts,
			"compose.yaml:10:21: error: services.web.x-tycho.route.ports.1: port 80 is listed twice (also at ports.0) [x-tycho]", 2000},
		{"port not published", "        ports: [9999]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: port 9999 is not a published TCP port of web [x-tycho]", 1},
		{"port UDP", "        ports: [53]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: port 53 is not a published TCP port of web [x-tycho]", 1},
		{"port mapping without a port", "        ports: [{host: a.example.com}]\n",
			"compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: an entry of route.ports that is a mapping needs a port [x-tycho]", 1},
		{"port mapping with an unknown key", "        ports: [{port: 80, hots: a.example.com}]\n",
			`compose.yaml:10:17: error: services.web.x-tycho.route.ports.0: invalid x-tycho: unknown field "hots" [x-tycho]`, 1},
		{"port mapping with a wrong type", "        ports: [{port: 80, host: [a]}]\n",
			"compose.yaml:10:28: error: services.web.x-tycho.route.ports.0.host: invalid x-tycho: must be a string, not array [x-tycho]", 1},
		{"port mapping with a port out of range", "        ports: [{port: 65536}]\n",
			"compose.yaml:10:18: error: services.web.x-tycho.route.ports.0.port: invalid x-tycho: must be a published port (1-65535), not number 65536 [x-tycho]", 1},
		{"port mapping with ports", "        ports: [{port: 80, ports: [8080]}]\n",
			"compose.yaml:10:28: error: services.web.x-tycho.route.ports.0.ports: invalid x-tycho: route.ports cannot be nested: list the ports in the service's route.ports [x-tycho]", 1},
		{"port listed twice, the second with settings", "        ports: [80, {port: 80, host: \"{x}\"}]\n",
			"compose.yaml:10:21: error: services.web.x-tycho.route.ports.1: port 80 is listed twice (also at ports.0) [x-tycho]", 1},
		{"port mapping with a bad host", "        ports: [{port: 80, host: \"{x}\"}]\n",
			`compose.yaml:10:28: error: services.web.x-tycho.route.ports.0.host: host "{x}": unknown placeholder {x}: use {system}, {service}, {port} or {guid} [route-host]`, 1},
		{"annotations not a mapping", "        annotations: [a]\n",
			"compose.yaml:10:9: error: services.web.x-tycho.route.annotations: invalid x-tycho: must be a mapping, not array [x-tycho]", 1},
		{"from empty item", "        from: \"namespace=a,\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.from: router pods "namespace=a,": "": write namespace=NAME, namespace-label=KEY=VALUE or pod=KEY=VALUE [route-from]`, 1},
		{"tls secret empty label", "        tlsSecret: \"a..b\"\n",
			`compose.yaml:10:9: error: services.web.x-tycho.route.tlsSecret: TLS secret "a..b" is not a valid name: an empty label [route-tls]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := compiler.Compile(context.Background(), compiler.Options{Load: compiler.LoadOptions{
				Sources: []compiler.Source{{Name: "compose.yaml", Content: []byte(head + tt.in)}},
				WorkDir: t.TempDir(),
				Env:     map[string]string{},
			}})
			if err != nil {
				t.Fatal(err)
			}
			got, n := "", 0
			for _, d := range res.Diags {
				if d.Severity != diag.Error {
					continue
				}
				if d.Pos.Line == 0 {
					t.Errorf("unpositioned error: %s", d.String())
				}
				if d.Code == "route-collision" {
					t.Errorf("a bad route is reported again as a collision: %s", d.String())
				}
				if n++; got == "" {
					d.Notes = nil
					got = d.String()
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("first error (-want +got):\n%s", diff)
			}
			if n != tt.errors {
				t.Errorf("%d errors, want %d", n, tt.errors)
			}
			if res.Objects != nil {
				t.Errorf("objects made despite errors")
			}
		})
	}
}

// TestRouteSeveralPorts: a service with several routed ports gets a path
// per port by default, so a file docker runs compiles with --expose
// ingress; a host with {port} keeps the path "/"; an explicit path
// prefix without {port} is the user's to keep apart (route-collision).
func TestRouteSeveralPorts(t *testing.T) {
	t.Parallel()
	const compose = "name: shop\nservices:\n  web:\n    image: nginx\n    ports: [\"80:80\", \"8080:8080\"]\n"
	tests := []struct {
		name       string
		route      compiler.RouteOptions
		want       []string // host+path of ports 80 and 8080
		collisions int
	}{
		{"path", compiler.RouteOptions{}, []string{"/shop/web/80/", "/shop/web/8080/"}, 0},
		{"host", compiler.RouteOptions{Host: "{service}.example.com"}, []string{"web.example.com/80/", "web.example.com/8080/"}, 0},
		{"host with port", compiler.RouteOptions{Host: "{service}-{port}.example.com"}, []string{"web-80.example.com/", "web-8080.example.com/"}, 0},
		{"explicit path", compiler.RouteOptions{PathPrefix: "/app/"}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := compiler.Compile(context.Background(), compiler.Options{
				Load:  compiler.LoadOptions{Stdin: strings.NewReader(compose), Files: []string{"-"}, WorkDir: t.TempDir()},
				Lower: compiler.LowerOptions{Expose: "ingress", Route: tt.route},
			})
			if err != nil {
				t.Fatal(err)
			}
			collisions := 0
			for _, d := range res.Diags {
				if d.Code == "route-collision" {
					collisions++
				} else if d.Severity == diag.Error {
					t.Errorf("unexpected error: %v", d)
				}
			}
			if collisions != tt.collisions {
				t.Errorf("%d route-collision errors, want %d: %v", collisions, tt.collisions, res.Diags)
			}
			if tt.want == nil {
				return
			}
			var got []string
			for _, p := range res.System.Services[0].Ports {
				if p.Route != nil {
					got = append(got, p.Route.Host+p.Route.PathPrefix)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}
