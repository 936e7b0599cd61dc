package compiler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
)

// TestBadInputPositions: inputs whose bytes a testscript cannot hold (control
// characters, CR line ends) and the rarer YAML shapes each give one error
// at its place, with its code.
func TestBadInputPositions(t *testing.T) {
	t.Parallel()
	const svc = "services:\n  web:\n    image: nginx\n"
	tests := []struct {
		name, in, want string
	}{
		{"control byte", "services:\n  web:\n    image: ng\x01inx\n",
			"compose.yaml:3:14: error: control character U+0001 is not allowed in YAML [invalid-character]"},
		{"NUL byte", "services:\n  web:\n    image: ng\x00inx\n",
			"compose.yaml:3:14: error: control character U+0000 is not allowed in YAML [invalid-character]"},
		{"duplicate key, CR line ends", "services:\r  web:\r    image: nginx\r    image: httpd\r",
			`compose.yaml:4:5: error: mapping key "image" already defined at line 3 [yaml-duplicate-key]`},
		{"duplicate key, CRLF line ends", "services:\r\n  web:\r\n    image: nginx\r\n    image: httpd\r\n",
			`compose.yaml:4:5: error: mapping key "image" already defined at line 3 [yaml-duplicate-key]`},
		{"unclosed quote", "services:\n  web:\n    image: \"nginx\n",
			"compose.yaml:4:1: error: found unexpected end of stream [yaml-syntax]"},
		{"unclosed flow", "services:\n  web:\n    command: [a, b\n",
			"compose.yaml:4:1: error: did not find expected ',' or ']' [yaml-syntax]"},
		{"merge of a scalar", "services:\n  web:\n    <<: 3\n    image: nginx\n",
			"compose.yaml:3:9: error: map merge requires map or sequence of maps as the value [yaml-syntax]"},
		{"tag that does not fit", "services:\n  web:\n    image: !!int nginx\n",
			`compose.yaml:3:12: error: services.web.image: the value "nginx" cannot be read as !!int [yaml-tag]`},
		{"number as a key", "services:\n  1:\n    image: nginx\n",
			"compose.yaml:2:3: error: services.1: a key must be text, not 1 [wrong-type]"},
		{"null as a key", "services:\n  ~:\n    image: nginx\n",
			"compose.yaml:2:3: error: services.~: a key must be text, not empty (null) [wrong-type]"},
		{"null in a list of text", svc + "    environment: [~]\n",
			"compose.yaml:4:19: error: services.web.environment.0: must be text, not an empty value [wrong-type]"},
		{"date in build.context", svc + "    build: {context: 2001-12-14}\n",
			"compose.yaml:4:22: error: services.web.build.context: 2001-12-14 is read by YAML as a date, not as text [yaml-timestamp]"},
		{"date under an alias", "x-d: &d 2001-12-14\n" + svc + "    command: [*d]\n",
			"compose.yaml:1:6: error: services.web.command.0: 2001-12-14 is read by YAML as a date, not as text [yaml-timestamp]"},
		{"ulimit merged in", "x-u: &u {nofile: 1.5}\n" + svc + "    ulimits: *u\n",
			"compose.yaml:1:18: error: services.web.ulimits.nofile: must be an integer between -1 and 2^63-1 or a {soft, hard} mapping [ulimit-value]"},
		{"not a number", svc + "    cpus: .nan\n",
			"compose.yaml:4:11: error: services.web.cpus: .nan is not a finite number [yaml-number]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := compiler.Compile(context.Background(), compiler.Options{Load: compiler.LoadOptions{
				Sources: []compiler.Source{{Name: "compose.yaml", Content: []byte(tt.in)}},
				WorkDir: t.TempDir(),
				Env:     map[string]string{},
			}})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, d := range res.Diags {
				if d.Severity == diag.Error {
					d.Notes = nil
					got = d.String()
					break
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("first error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadInputValidValues: values precheck must let through.
func TestBadInputValidValues(t *testing.T) {
	t.Parallel()
	const svc = "services:\n  web:\n    image: nginx\n"
	for name, in := range map[string]string{
		"ulimits":        svc + "    ulimits:\n      nproc: 65535\n      memlock: {soft: -1, hard: -1}\n      nofile:\n        soft: \"1024\"\n        hard: ${HARD:-2048}\n",
		"quoted date":    svc + "    command: [\"2001-12-14\"]\n    environment: {SINCE: '2001-12-14'}\n",
		"date in x-":     "x-released: 2001-12-14\n" + svc,
		"string target":  svc + "    configs: [{source: c, target: /etc/c}]\nconfigs:\n  c:\n    content: x\n",
		"env_file null":  svc + "    env_file: /dev/null\n",
		"ipv6 flow list": svc + "    dns: [::1, \"::ffff:1.2.3.4\"]\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := compiler.Compile(context.Background(), compiler.Options{Load: compiler.LoadOptions{
				Sources: []compiler.Source{{Name: "compose.yaml", Content: []byte(in)}},
				WorkDir: t.TempDir(),
				Env:     map[string]string{},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Diags.HasErrors() {
				t.Errorf("errors:\n%s", diagText(res.Diags))
			}
		})
	}
}

// TestLoadPanicRecovered: a value compose-go panics on in a file precheck
// does not see (an included one) is an error at the including file, not a
// crash.
func TestLoadPanicRecovered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml": "include:\n  - inc.yaml\n",
		"inc.yaml":     "services:\n  web:\n    image: nginx\n    pid: null\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := compiler.Compile(context.Background(), compiler.Options{Load: compiler.LoadOptions{
		Files: []string{"compose.yaml"}, WorkDir: dir, Env: map[string]string{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.Diags {
		got = append(got, d.Pos.String()+" "+d.Code)
	}
	if diff := cmp.Diff([]string{"compose.yaml:1:1 load-internal"}, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}
