package compiler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
)

// secretsCompose has a secret of each source compose allows, a config
// from a variable and one from content, and an external secret.
const secretsCompose = `name: app
services:
  web:
    image: nginx:1.27
    secrets:
      - db_password
      - source: token
        target: /etc/token
        mode: 0400
      - tls
    configs:
      - greeting
      - inline
  job:
    image: busybox
    restart: "no"
    secrets: [token]
secrets:
  db_password:
    file: ./db_password.txt
  token:
    environment: API_TOKEN
  tls:
    external: true
configs:
  greeting:
    environment: GREETING
  inline:
    content: a=1
`

// compileSecrets compiles secretsCompose in dir with env and mode.
func compileSecrets(t *testing.T, dir string, env map[string]string, mode compiler.SecretsMode, strict bool) *compiler.Result {
	t.Helper()
	res, err := compiler.Compile(context.Background(), compiler.Options{
		Load:   compiler.LoadOptions{Files: []string{"compose.yaml"}, WorkDir: dir, Env: env},
		Lower:  compiler.LowerOptions{Secrets: mode},
		Strict: strict,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// printed is objs as YAML, without those of kinds drop.
func printed(t *testing.T, objs []kubernetes.Object, drop ...string) string {
	t.Helper()
	var keep []kubernetes.Object
	for _, o := range objs {
		name := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName()
		if !contains(drop, name) {
			keep = append(keep, o)
		}
	}
	var b bytes.Buffer
	if err := kubernetes.Print(&b, keep, kubernetes.YAML); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestSecretsReferenced: a secret the system does not hold (its variable
// unset, or --secrets reference) changes nothing but the absence of its
// object: the workloads are byte for byte those of the inline system. No
// value reaches the output or the diagnostics, and each object is listed
// in References and in a diagnostic whose first note is its command.
func TestSecretsReferenced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{"compose.yaml": secretsCompose, "db_password.txt": "hunter2-from-file\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// the secret values, as they are and as a Secret's data holds them
	var values []string
	for _, v := range []string{"hunter2-from-file\n", "s3cr3t-token"} {
		values = append(values, strings.TrimSpace(v), base64.StdEncoding.EncodeToString([]byte(v)))
	}
	set := map[string]string{"API_TOKEN": "s3cr3t-token", "GREETING": "hello-greeting"}
	inline := compileSecrets(t, dir, set, compiler.SecretsInline, false)
	if inline.Diags.HasErrors() {
		t.Fatalf("inline: %v", inline.Diags)
	}
	type ref struct{ Kind, Name, Key, Command string }
	tls := ref{"Secret", "tls", "tls", "kubectl create secret generic tls --from-literal=tls=<value> -n <namespace>"}
	dbPassword := ref{"Secret", "db-password", "db_password", "kubectl create secret generic db-password --from-file=db_password=./db_password.txt -n <namespace>"}
	token := ref{"Secret", "token", "token", `kubectl create secret generic token --from-literal=token="$API_TOKEN" -n <namespace>`}
	greeting := ref{"ConfigMap", "greeting", "greeting", `kubectl create configmap greeting --from-literal=greeting="$GREETING" -n <namespace>`}
	tests := []struct {
		name     string
		env      map[string]string
		mode     compiler.SecretsMode
		strict   bool
		dropped  []string // objects of the inline system that are not emitted
		wantRefs []ref
		wantDiag map[string]diag.Severity // path → severity of its *-reference diagnostic
		wantErr  bool
	}{
		{name: "inline", env: set, mode: compiler.SecretsInline, wantRefs: []ref{tls}},
		{name: "unset", env: map[string]string{}, mode: compiler.SecretsInline,
			dropped:  []string{"Secret/token", "ConfigMap/greeting"},
			wantRefs: []ref{tls, token, greeting},
			wantDiag: map[string]diag.Severity{"secrets.token.environment": diag.Warning, "configs.greeting.environment": diag.Warning}},
		{name: "unset strict", env: map[string]string{}, mode: compiler.SecretsInline, strict: true, wantErr: true,
			wantDiag: map[string]diag.Severity{"secrets.token.environment": diag.Error, "configs.greeting.environment": diag.Error}},
		{name: "reference", env: set, mode: compiler.SecretsReference,
			dropped:  []string{"Secret/db-password", "Secret/token"},
			wantRefs: []ref{dbPassword, tls, token},
			wantDiag: map[string]diag.Severity{"secrets.db_password": diag.Info, "secrets.token": diag.Info}},
		{name: "reference strict", env: set, mode: compiler.SecretsReference, strict: true,
			dropped:  []string{"Secret/db-password", "Secret/token"},
			wantRefs: []ref{dbPassword, tls, token},
			wantDiag: map[string]diag.Severity{"secrets.db_password": diag.Info, "secrets.token": diag.Info}},
		{name: "reference unset", env: map[string]string{}, mode: compiler.SecretsReference,
			dropped:  []string{"Secret/db-password", "Secret/token", "ConfigMap/greeting"},
			wantRefs: []ref{dbPassword, tls, token, greeting},
			wantDiag: map[string]diag.Severity{"secrets.db_password": diag.Info, "secrets.token": diag.Info, "configs.greeting.environment": diag.Warning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := compileSecrets(t, dir, tt.env, tt.mode, tt.strict)
			if got := res.Diags.HasErrors(); got != tt.wantErr {
				t.Fatalf("errors: %v, want %v:\n%v", got, tt.wantErr, res.Diags)
			}
			var gotDiag map[string]diag.Severity
			for _, d := range res.Diags {
				if d.Code != "secret-reference" && d.Code != "config-reference" {
					continue
				}
				if gotDiag == nil {
					gotDiag = map[string]diag.Severity{}
				}
				gotDiag[d.Path] = d.Severity
				// the first note is the command of the object of that key
				found := false
				for _, r := range kubernetes.References(res.System) {
					found = found || strings.HasPrefix(d.Path, r.Path) && len(d.Notes) > 0 && d.Notes[0] == r.Command("")
				}
				if !found {
					t.Errorf("%s: first note %q is no command of References", d.Path, d.Notes)
				}
			}
			if diff := cmp.Diff(tt.wantDiag, gotDiag); diff != "" {
				t.Errorf("reference diagnostics (-want +got):\n%s", diff)
			}
			if tt.wantErr {
				if res.Objects != nil || res.References != nil {
					t.Errorf("objects or references despite errors")
				}
				return
			}
			var gotRefs []ref
			for _, r := range res.References {
				gotRefs = append(gotRefs, ref{r.Kind, r.Name, r.Key, r.Command("")})
			}
			if diff := cmp.Diff(tt.wantRefs, gotRefs); diff != "" {
				t.Errorf("References (-want +got):\n%s", diff)
			}
			got := printed(t, res.Objects)
			if diff := cmp.Diff(printed(t, inline.Objects, tt.dropped...), got); diff != "" {
				t.Errorf("objects besides the dropped ones differ from the inline system's (-inline +got):\n%s", diff)
			}
			if tt.mode == compiler.SecretsReference {
				if !strings.Contains(printed(t, inline.Objects), values[1]) {
					t.Fatalf("the inline system does not hold %q: the test proves nothing", values[1])
				}
				var text bytes.Buffer
				_ = res.Diags.WriteJSON(&text)
				for _, v := range values {
					if strings.Contains(got, v) || strings.Contains(text.String(), v) {
						t.Errorf("the value %q is in the output", v)
					}
				}
			}
		})
	}
}
