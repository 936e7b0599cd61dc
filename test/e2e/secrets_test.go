package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// vault refers to a secret and a config from variables that the tests
// never set, and to a secret from a file.
const vault = `name: vault
services:
  web:
    image: registry.example/web:1
    secrets:
      - source: db_password
        target: db-pass
      - tls
    configs:
      - greeting
secrets:
  db_password:
    environment: E2E_VAULT_DB_PASSWORD
  tls:
    file: ./tls.pem
configs:
  greeting:
    environment: E2E_VAULT_GREETING
`

// printedCommands are the kubectl commands of a failed up, in order: its
// lines that start with "  kubectl ".
func printedCommands(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "  kubectl ") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// runPrinted runs the commands as a user would paste them into a shell in
// dir, with the variables the system reads set.
func runPrinted(t *testing.T, dir string, cmds []string) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skipf("kubectl not on PATH: %v", err)
	}
	for _, c := range cmds {
		sh := exec.Command("sh", "-c", c)
		sh.Dir = dir
		sh.Env = append(os.Environ(), "KUBECONFIG="+shared(t).Kubeconfig,
			"E2E_VAULT_DB_PASSWORD=hunter2", "E2E_VAULT_GREETING=hello")
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c, err, out)
		}
		t.Logf("%s: %s", c, out)
	}
}

// TestE2ESecretsProvided: up of a system whose secret and config values
// are not in the compile environment (an unset variable, --secrets
// reference) fails before creating anything, not even its namespace, and
// prints the commands that create what is missing; run verbatim, they
// make the next up (with the same GUID) succeed, with the user's objects
// mounted and none of Tycho's own Secrets; down leaves the user's
// namespace and objects.
func TestE2ESecretsProvided(t *testing.T) {
	shared(t)
	t.Parallel()
	for _, v := range []string{"E2E_VAULT_DB_PASSWORD", "E2E_VAULT_GREETING"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Fatalf("%s is set: the test needs it unset", v)
		}
	}
	tests := []struct {
		name string
		guid string
		args []string
		// wantCmds are the printed commands, after the namespace's
		wantCmds []string
		// wantMade are the Secrets and ConfigMaps Tycho makes
		wantMade string
	}{
		{name: "unset variables", guid: "e2ea0040000000000000000000000000", wantCmds: []string{
			`kubectl create secret generic db-password --from-literal=db_password="$E2E_VAULT_DB_PASSWORD" -n vault-e2ea0040`,
			`kubectl create configmap greeting --from-literal=greeting="$E2E_VAULT_GREETING" -n vault-e2ea0040`,
		}, wantMade: "Secret vault-e2ea0040/tls"},
		{name: "reference", guid: "e2ea0041000000000000000000000000", args: []string{"--secrets", "reference"}, wantCmds: []string{
			`kubectl create secret generic db-password --from-literal=db_password="$E2E_VAULT_DB_PASSWORD" -n vault-e2ea0041`,
			`kubectl create secret generic tls --from-file=tls=./tls.pem -n vault-e2ea0041`,
			`kubectl create configmap greeting --from-literal=greeting="$E2E_VAULT_GREETING" -n vault-e2ea0041`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client := clientset(t)
			ns := "vault-" + tt.guid[:8]
			dir := writeCompose(t, vault)
			if err := os.WriteFile(filepath.Join(dir, "tls.pem"), []byte("-----BEGIN KEY-----\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if len(labelled(t, tt.guid)) > 0 {
					runTycho(t, dir, "down", tt.guid)
				}
				err := client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
				if err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("deleting namespace %s: %v", ns, err)
				}
			})
			up := append([]string{"up", "-f", "compose.yaml", "--guid", tt.guid, "--timeout", "2m"}, tt.args...)

			code, out, errOut := runTycho(t, dir, up...)
			if code != 1 || out != "" {
				t.Fatalf("up without the objects: exit %d, stdout %q; want 1 and nothing", code, out)
			}
			if !strings.Contains(errOut, "nothing was created") {
				t.Errorf("up: stderr does not say that nothing was created:\n%s", errOut)
			}
			if left := labelled(t, tt.guid); len(left) > 0 {
				t.Errorf("up created objects:\n%s", strings.Join(keys(left), "\n"))
			}
			if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("namespace %s: %v, want not found", ns, err)
			}
			cmds := printedCommands(errOut)
			want := append([]string{"kubectl create namespace " + ns}, tt.wantCmds...)
			if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
				t.Fatalf("printed commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
			}

			runPrinted(t, dir, cmds)
			if code, _, _ := runTycho(t, dir, up...); code != 0 {
				t.Fatalf("up with the objects: exit %d", code)
			}
			dep, err := client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("Deployment web: %v", err)
			}
			var mounted []string
			for _, v := range dep.Spec.Template.Spec.Volumes {
				switch {
				case v.Secret != nil:
					mounted = append(mounted, "Secret "+v.Secret.SecretName)
				case v.ConfigMap != nil:
					mounted = append(mounted, "ConfigMap "+v.ConfigMap.Name)
				}
			}
			if got, want := strings.Join(mounted, ", "), "Secret db-password, Secret tls, ConfigMap greeting"; got != want {
				t.Errorf("mounted %s, want %s", got, want)
			}
			s, err := client.CoreV1().Secrets(ns).Get(ctx, "db-password", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("Secret db-password: %v", err)
			}
			if got := string(s.Data["db_password"]); got != "hunter2" || s.Labels["tycho-guid"] != "" {
				t.Errorf("Secret db-password holds %q with labels %v: want the user's, untouched", got, s.Labels)
			}
			var made []string
			for _, k := range keys(labelled(t, tt.guid)) {
				if strings.HasPrefix(k, "Secret ") || strings.HasPrefix(k, "ConfigMap ") && !strings.Contains(k, "/tycho-system-") {
					made = append(made, k)
				}
			}
			if got := strings.Join(made, ", "); got != tt.wantMade {
				t.Errorf("Tycho made %q, want %q (the rest the user provides)", got, tt.wantMade)
			}

			if code, _, _ := runTycho(t, dir, "down", tt.guid); code != 0 {
				t.Fatalf("down: exit %d", code)
			}
			if left := labelled(t, tt.guid); len(left) > 0 {
				t.Errorf("after down, objects are left:\n%s", strings.Join(keys(left), "\n"))
			}
			if _, err := client.CoreV1().Secrets(ns).Get(ctx, "db-password", metav1.GetOptions{}); err != nil {
				t.Errorf("down removed the user's Secret: %v", err)
			}
		})
	}
}
