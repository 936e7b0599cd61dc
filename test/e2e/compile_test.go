package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// corpusDir is the shared real-world corpus, beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("corpus not found at %s (it lives in ../shared/corpus beside the repository): %v", d, err)
	}
	return d
}

// composeGoRejects reads LOADCHECK.md: the units compose-go itself refuses.
func composeGoRejects(t *testing.T, dir string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "LOADCHECK.md"))
	if err != nil {
		t.Fatalf("reading LOADCHECK.md: %v", err)
	}
	out := map[string]bool{}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| \\*\\*ERROR\\*\\*")
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

type compiled struct {
	stdout, stderr string
	err            error
}

func compile(t *testing.T, dir string, args ...string) compiled {
	t.Helper()
	cmd := exec.Command(tychoBin(t), append([]string{"compile"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return compiled{out.String(), errb.String(), err}
}

func corpusFiles(t *testing.T) (string, []string) {
	t.Helper()
	dir := corpusDir(t)
	rejects := composeGoRejects(t, dir)
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !rejects[rel] {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, files
}

// TestE2ECorpusAccepted proves that the output of every corpus file that
// compose-go loads is accepted by the API server with strict field
// validation, in a namespace that enforces and warns at baseline; a Pod
// Security warning is a failure unless Tycho announced that the system
// needs more than baseline.
func TestE2ECorpusAccepted(t *testing.T) {
	dir, files := corpusFiles(t)
	manifests := 0
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			c := compile(t, filepath.Join(dir, filepath.Dir(rel)), "-f", filepath.Base(rel))
			if c.err != nil {
				t.Fatalf("tycho compile failed: %v\n%s", c.err, c.stderr)
			}
			ns := newNamespace(t, "baseline")
			warnings, err := dryRunStrict(t, ns, c.stdout)
			if err != nil {
				t.Fatalf("API server rejected the output:\n%v", err)
			}
			manifests += strings.Count(c.stdout, "\napiVersion:") + 1
			needsPrivileged := strings.Contains(c.stderr, "[security-privileged]")
			for _, w := range warnings {
				if strings.Contains(w, "would violate PodSecurity") && needsPrivileged {
					continue
				}
				t.Errorf("warning: %s", w)
			}
		})
	}
	t.Logf("%d corpus files, %d manifests validated", len(files), manifests)
}

// TestE2EGoldenAccepted puts every golden manifest through the API server
// with strict validation, in a namespace at the level the case claims.
func TestE2EGoldenAccepted(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "compile", "*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	total := 0
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".txtar")
		t.Run(name, func(t *testing.T) {
			a, err := txtar.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var manifests, diags string
			for _, f := range a.Files {
				switch f.Name {
				case "want/manifests.yaml":
					manifests = string(f.Data)
				case "want/diagnostics.txt":
					diags = string(f.Data)
				}
			}
			if strings.TrimSpace(manifests) == "" {
				t.Skip("no manifests (an error case)")
			}
			if strings.HasPrefix(strings.TrimSpace(manifests), "{") {
				// -o json: a v1 List, which kubectl apply unwraps; so do we
				var list struct {
					Kind  string            `json:"kind"`
					Items []json.RawMessage `json:"items"`
				}
				if err := json.Unmarshal([]byte(manifests), &list); err != nil || list.Kind != "List" {
					t.Fatalf("JSON output is not a v1 List: %v", err)
				}
				var docs []string
				for _, it := range list.Items {
					docs = append(docs, string(it))
				}
				manifests = strings.Join(docs, "\n")
			}
			level := "baseline"
			switch {
			case strings.Contains(string(a.Comment), "--security restricted"):
				level = "restricted"
			case strings.Contains(diags, "[security-privileged]") || strings.Contains(string(a.Comment), "--security none"):
				level = "privileged"
			}
			ns := newNamespace(t, level)
			warnings, err := dryRunStrict(t, ns, manifests)
			if err != nil {
				t.Fatalf("API server rejected the golden manifests:\n%v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w)
			}
			total += strings.Count(manifests, "\n---\n") + 1
		})
	}
	t.Logf("%d golden manifests validated", total)
}

func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skipf("kubectl not on PATH: %v", err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", shared(t).Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestE2EKubectlPipeline is the used-by scenario: tycho compile | kubectl
// apply -f - creates everything, a second apply changes nothing, and kubectl
// delete -f - with the same output removes it.
func TestE2EKubectlPipeline(t *testing.T) {
	dir, files := corpusFiles(t)
	for _, rel := range files {
		if !strings.HasPrefix(rel, "awesome-compose/") {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			ns := newNamespace(t, "privileged")
			c := compile(t, filepath.Join(dir, filepath.Dir(rel)), "-f", filepath.Base(rel), "-n", ns)
			if c.err != nil {
				t.Fatalf("tycho compile: %v\n%s", c.err, c.stderr)
			}
			out, err := kubectl(t, c.stdout, "apply", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply: %v\n%s", err, out)
			}
			created := strings.Count(out, " created")
			docs := strings.Count(c.stdout, "---\n")
			if created != docs {
				t.Errorf("kubectl apply created %d objects, tycho printed %d:\n%s", created, docs, out)
			}
			out, err = kubectl(t, c.stdout, "apply", "-f", "-")
			if err != nil {
				t.Fatalf("second kubectl apply: %v\n%s", err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasSuffix(line, " unchanged") {
					t.Errorf("second apply changed something: %q", line)
				}
			}
			out, err = kubectl(t, c.stdout, "delete", "--wait=true", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl delete: %v\n%s", err, out)
			}
			if got := strings.Count(out, " deleted"); got != docs {
				t.Errorf("kubectl delete removed %d objects, want %d:\n%s", got, docs, out)
			}
		})
	}
}

// TestE2EWorkloadsReachState applies a compiled system and waits for the
// controllers: the Deployment becomes Available, the Job completes (after
// its dependents' init containers ran) and the claim binds.
func TestE2EWorkloadsReachState(t *testing.T) {
	ns := newNamespace(t, "baseline")
	dir := t.TempDir()
	compose := `name: state
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 5s}
  migrate:
    image: busybox:1.37
    command: ["true"]
    restart: "no"
volumes:
  data: {}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	c := compile(t, dir, "-n", ns)
	if c.err != nil {
		t.Fatalf("tycho compile: %v\n%s", c.err, c.stderr)
	}
	if out, err := kubectl(t, c.stdout, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	client := clientset(t)
	ctx := context.Background()
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range []string{"web", "db"} {
			d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || d.Status.AvailableReplicas < 1 {
				return false, nil
			}
		}
		j, err := client.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil || !jobComplete(j) {
			return false, nil
		}
		pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		return err == nil && pvc.Status.Phase == corev1.ClaimBound, nil
	})
	if err != nil {
		out, _ := kubectl(t, "", "-n", ns, "get", "deploy,job,pvc,pods", "-o", "wide")
		t.Fatalf("the system did not reach its state: %v\n%s", err, out)
	}
}

func jobComplete(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
