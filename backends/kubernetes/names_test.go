package kubernetes

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/ast"
)

var hashSuffix = regexp.MustCompile(`-[0-9a-f]{6}$`)

// long makes a name of n characters from a prefix, for the cut cases.
func long(prefix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix))
}

func TestDNSLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int
		want string // "" means: only the properties are checked
	}{
		{name: "plain", in: "web", max: 63, want: "web"},
		{name: "upper case", in: "WebApp", max: 63, want: "webapp"},
		{name: "underscore and dot", in: "my_app.v2", max: 63, want: "my-app-v2"},
		{name: "leading and trailing junk", in: "_web_", max: 63, want: "web"},
		{name: "digits first stay", in: "1web", max: 63, want: "1web"},
		{name: "empty", in: "", max: 63, want: "x"},
		{name: "only junk", in: "___", max: 63, want: "x"},
		{name: "unicode", in: "café", max: 63, want: "caf"},
		{name: "inner unicode", in: "naïve-app", max: 63, want: "na-ve-app"},
		{name: "exactly 63", in: long("a", 63), max: 63, want: long("a", 63)},
		{name: "64 is cut", in: long("a", 64), max: 63},
		{name: "very long", in: long("service-", 300), max: 63},
		{name: "cut at a dash", in: strings.Repeat("a", 55) + "_______bbbbbbbbbb", max: 63},
		{name: "port-name width", in: "averyveryverylongportname", max: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DNSLabel(tt.in, tt.max)
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DNSLabel(%q, %d) (-want +got):\n%s", tt.in, tt.max, diff)
				}
			}
			if len(got) > tt.max {
				t.Errorf("DNSLabel(%q, %d) = %q: %d characters", tt.in, tt.max, got, len(got))
			}
			for _, e := range validation.IsDNS1123Label(got) {
				t.Errorf("DNSLabel(%q, %d) = %q: %s", tt.in, tt.max, got, e)
			}
			if again := DNSLabel(tt.in, tt.max); again != got {
				t.Errorf("DNSLabel is not stable: %q then %q", got, again)
			}
			normalised := len(strings.Trim(strings.ToLower(tt.in), "_-."))
			if normalised > tt.max && !hashSuffix.MatchString(got) {
				t.Errorf("DNSLabel(%q, %d) = %q: a cut name needs a hash suffix", tt.in, tt.max, got)
			}
			if normalised <= tt.max && hashSuffix.MatchString(got) && tt.want == "" {
				t.Errorf("DNSLabel(%q, %d) = %q: cut although it fits", tt.in, tt.max, got)
			}
		})
	}
}

// TestDNSLabelDistinct: names that differ only past the cut must stay
// apart, and the suffix is a function of the input alone (stable across
// runs: the expected value is fixed here).
func TestDNSLabelDistinct(t *testing.T) {
	t.Parallel()
	base := strings.Repeat("a", 70)
	seen := map[string]string{}
	for _, in := range []string{base + "1", base + "2", base + "_1", base + "-1", base + "A", base, base + "b"} {
		got := DNSLabel(in, 63)
		if prev, ok := seen[got]; ok {
			t.Errorf("DNSLabel(%q) = DNSLabel(%q) = %q", in, prev, got)
		}
		seen[got] = in
		if n := DNS1035(in, 63); len(n) > 63 || len(validation.IsDNS1035Label(n)) > 0 {
			t.Errorf("DNS1035(%q) = %q: %v", in, n, validation.IsDNS1035Label(n))
		}
	}
	// a fixed expectation: the suffix must not change between releases,
	// or every long name would change on upgrade
	if got, want := DNSLabel(strings.Repeat("a", 64), 63), strings.Repeat("a", 56)+"-"; !strings.HasPrefix(got, want) || len(got) != 63 {
		t.Errorf("DNSLabel(64×a) = %q, want %s + 6 hex", got, want)
	}
}

func TestDNS1035(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "letter first", in: "web", want: "web"},
		{name: "digit first", in: "1web", want: "s-1web"},
		{name: "only digits", in: "123", want: "s-123"},
		{name: "junk then digit", in: "_9lives", want: "s-9lives"},
		{name: "empty", in: "", want: "x"},
		{name: "upper", in: "Web_1", want: "web-1"},
		{name: "long digit first", in: "9" + strings.Repeat("z", 80)},
		{name: "long letter first", in: strings.Repeat("q", 80)},
		{name: "63 digits", in: strings.Repeat("7", 63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DNS1035(tt.in, 63)
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DNS1035(%q) (-want +got):\n%s", tt.in, diff)
				}
			}
			for _, e := range validation.IsDNS1035Label(got) {
				t.Errorf("DNS1035(%q) = %q: %s", tt.in, got, e)
			}
			if again := DNS1035(tt.in, 63); again != got {
				t.Errorf("DNS1035 is not stable: %q then %q", got, again)
			}
		})
	}
	// distinct long digit-first names stay distinct after the second cut
	a, b := DNS1035(strings.Repeat("1", 80)+"a", 63), DNS1035(strings.Repeat("1", 80)+"b", 63)
	if a == b {
		t.Errorf("two long names both become %q", a)
	}
}

func TestPortName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		proto string
		port  uint16
		want  string // "" means: only validity is checked
	}{
		{name: "none", in: "", proto: "tcp", port: 80, want: "tcp-80"},
		{name: "udp", in: "", proto: "udp", port: 53, want: "udp-53"},
		{name: "sctp highest port", in: "", proto: "sctp", port: 65535, want: "sctp-65535"},
		{name: "named", in: "http", proto: "tcp", port: 80, want: "http"},
		{name: "upper and underscore", in: "HTTP_Alt", proto: "tcp", port: 8080, want: "http-alt"},
		{name: "double dash squeezed", in: "a__b", proto: "tcp", port: 1, want: "a-b"},
		{name: "triple dash", in: "a___b", proto: "tcp", port: 1},
		{name: "only digits", in: "8080", proto: "tcp", port: 8080, want: "tcp-8080"},
		{name: "15 characters", in: "abcdefghijklmno", proto: "tcp", port: 1, want: "abcdefghijklmno"},
		{name: "16 characters", in: "abcdefghijklmnop", proto: "tcp", port: 1},
		{name: "long with junk", in: "my_very_long_port_name", proto: "udp", port: 9000},
		{name: "long digits", in: "1234567890123456789", proto: "tcp", port: 7},
		{name: "junk only", in: "___", proto: "tcp", port: 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := portName(tt.in, tt.proto, tt.port)
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("portName(%q, %q, %d) (-want +got):\n%s", tt.in, tt.proto, tt.port, diff)
				}
			}
			for _, e := range validation.IsValidPortName(got) {
				t.Errorf("portName(%q, %q, %d) = %q: %s", tt.in, tt.proto, tt.port, got, e)
			}
		})
	}
}

// TestRouteNameLong: the Ingress or HTTPRoute of a port of a service whose
// name is already 63 characters long is a valid name, and stays apart from
// that of another port and of another long service; its default TLS
// Secret name is valid too.
func TestRouteNameLong(t *testing.T) {
	t.Parallel()
	a, b := long("web", 63), long("web", 62)+"y"
	names := map[string]string{}
	for _, svc := range []string{"web", a, b} {
		for _, port := range []uint16{80, 8080, 65535} {
			n := routeName(svc, ast.Port{Published: port})
			if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
				t.Errorf("routeName(%q, %d) = %q: %v", svc, port, n, errs)
			}
			secret := tlsSecretName(&ast.Route{}, n)
			if errs := validation.IsDNS1123Subdomain(secret); len(errs) > 0 {
				t.Errorf("TLS Secret %q: %v", secret, errs)
			}
			what := svc + ":" + strconv.Itoa(int(port))
			if prev, ok := names[n]; ok {
				t.Errorf("%s and %s both become %q", prev, what, n)
			}
			names[n] = what
		}
	}
	if got := routeName("web", ast.Port{Published: 8080}); got != "web-8080" {
		t.Errorf("routeName(web, 8080) = %q, want web-8080", got)
	}
}
