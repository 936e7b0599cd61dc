package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/server"
)

// deleteTimeout is the delete timeout of the servers of these tests.
const deleteTimeout = 3 * time.Minute

// deleteServer serves the API over the shared cluster with cfg (nil: the
// admin's), as apiServer does, and returns a client of it and its
// Cluster.
func deleteServer(t *testing.T, cfg *rest.Config) (*client.Client, *server.Cluster) {
	t.Helper()
	var cl *server.Cluster
	c, _ := apiServerWith(t, cfg, func(o *server.Options) {
		cl = o.Systems.(*server.Cluster)
		cl.FinishTimeout = 10 * time.Minute
		o.StartTimeout, o.DeleteTimeout = deleteTimeout, deleteTimeout
	})
	t.Cleanup(cl.Wait)
	return c, cl
}

// synthetic writes the compose file of gen_compose.py's system of n
// services into a new directory and returns it.
func synthetic(t *testing.T, n int) string {
	t.Helper()
	gen, err := exec.Command("python3", "../../../shared/tools/gen_compose.py", strconv.Itoa(n)).Output()
	if err != nil {
		t.Fatalf("gen_compose.py: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// recordNamespace waits until the record of guid exists and returns its
// namespace.
func recordNamespace(t *testing.T, guid string, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		cms, err := clientset(t).CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: "tycho-guid=" + guid + ",app.kubernetes.io/component=" + executor.RecordComponent})
		if err == nil && len(cms.Items) > 0 {
			return cms.Items[0].Namespace
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no record of %s after %s (last error %v)", guid, within, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// deleteAndWait deletes guid through c and, on a 202, waits until the
// status answers 404. It returns whether the answer was 202, and the time
// until the answer and until the system was gone.
func deleteAndWait(t *testing.T, c *client.Client, guid string) (accepted bool, answered, gone time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := c.Delete(context.Background(), guid)
	answered = time.Since(start)
	if err != nil {
		t.Fatalf("delete %s: %v (after %s)", guid, err, answered)
	}
	if res.Pending() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := c.WaitGone(ctx, guid, 250*time.Millisecond); err != nil {
			t.Fatalf("waiting for %s to go: %v", guid, err)
		}
	}
	return res.Pending(), answered, time.Since(start)
}

// settledEmpty polls apiLeft until nothing of guid is left, at most
// within, and fails with what is left.
func settledEmpty(t *testing.T, guid, ns string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := apiLeft(t, guid, ns)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d object(s) of %s left after %s: %s", len(left), guid, within, strings.Join(left, ", "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestE2EDeleteRacingStart deletes a system through the API while
// `tycho up` is still applying it: the up sees the mark and stops, and
// nothing of the system is left.
func TestE2EDeleteRacingStart(t *testing.T) {
	c, _ := deleteServer(t, deployRBAC(t))
	dir := synthetic(t, 60)
	for i, mode := range []string{"OwnNamespace", "SharedNamespace"} {
		t.Run(mode, func(t *testing.T) {
			guid := fmt.Sprintf("e2ede1%02d000000000000000000000000", i)[:32]
			args := []string{"up", "-f", "compose.yaml", "--guid", guid, "--timeout", "3m"}
			if mode == "SharedNamespace" {
				args = append(args, "-n", newNamespace(t, "privileged"))
			}
			own := mode == "OwnNamespace" // else apiLeft must not count the test's namespace
			var wg sync.WaitGroup
			var upCode int
			var upErr string
			wg.Add(1)
			go func() {
				defer wg.Done()
				upCode, _, upErr = tychoAt(context.Background(), t, shared(t).Kubeconfig, dir, args...)
			}()
			ns := recordNamespace(t, guid, 2*time.Minute)
			accepted, answered, gone := deleteAndWait(t, c, guid)
			wg.Wait()
			if !own {
				ns = ""
			}
			settledEmpty(t, guid, ns, 2*time.Minute)
			t.Logf("%s: delete answered %s after %s, everything gone after %s; up exited %d",
				mode, map[bool]string{true: "202", false: "200"}[accepted], answered.Round(time.Millisecond), gone.Round(time.Millisecond), upCode)
			if upCode == 0 {
				t.Logf("up finished before the mark: the delete removed the whole system")
			} else if !strings.Contains(upErr, executor.ErrDeleting.Error()) {
				t.Errorf("up failed, but not because of the deletion:\n%s", upErr)
			}
			if _, err := c.Status(context.Background(), guid); !client.IsNotFound(err) {
				t.Errorf("status after the delete: %v, want 404", err)
			}
		})
	}
}

// deleteServices is the size of the system of TestE2EDeleteLarge.
const deleteServices = 500

// TestE2EDeleteLarge deletes a system of deleteServices services within
// the delete timeout: through the API (its own namespace, one namespace
// delete) and with `tycho down` (a shared namespace, one collection delete
// per kind), and logs the times.
func TestE2EDeleteLarge(t *testing.T) {
	c, _ := deleteServer(t, deployRBAC(t))
	dir := synthetic(t, deleteServices)
	for i, mode := range []string{"APIOwnNamespace", "DownSharedNamespace"} {
		t.Run(mode, func(t *testing.T) {
			guid := fmt.Sprintf("e2ede2%02d000000000000000000000000", i)[:32]
			args := []string{"up", "-f", "compose.yaml", "--guid", guid, "--timeout", "10m"}
			shared := ""
			if mode == "DownSharedNamespace" {
				shared = newNamespace(t, "privileged")
				args = append(args, "-n", shared)
			}
			start := time.Now()
			if code, _, stderr := runTycho(t, dir, args...); code != 0 {
				t.Fatalf("up: exit %d: %s", code, stderr)
			}
			upTime := time.Since(start)
			ns := recordNamespace(t, guid, time.Minute)
			objects := len(apiLeft(t, guid, ""))
			var answered, gone time.Duration
			status := "200"
			if mode == "APIOwnNamespace" {
				var accepted bool
				accepted, answered, gone = deleteAndWait(t, c, guid)
				if accepted {
					status = "202"
					t.Errorf("delete answered 202 after %s: not gone within the delete timeout %s", answered, deleteTimeout)
				}
			} else {
				start := time.Now()
				code, _, stderr := runTycho(t, dir, "down", "--volumes", "-n", shared, "--timeout", deleteTimeout.String(), guid)
				answered = time.Since(start)
				gone = answered
				if code != 0 {
					t.Errorf("down: exit %d: %s", code, stderr)
				}
			}
			if shared != "" {
				ns = "" // the test's: apiLeft must not count it
			}
			settledEmpty(t, guid, ns, time.Minute)
			if answered > deleteTimeout {
				t.Errorf("delete took %s, longer than the timeout %s", answered, deleteTimeout)
			}
			t.Logf("%s: %d services, %d labelled objects (pods included): up %s; delete answered %s after %s, all gone after %s",
				mode, deleteServices, objects, upTime.Round(time.Millisecond), status, answered.Round(time.Millisecond), gone.Round(time.Millisecond))
		})
	}
}

// failDeletes is a transport that fails every DELETE, as a server that
// dies right after it marked a system.
type failDeletes struct{ rt http.RoundTripper }

func (f failDeletes) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodDelete {
		return nil, errors.New("e2e: the server died")
	}
	return f.rt.RoundTrip(r)
}

// TestE2EDeleteResumed marks a system and stops the engine before it
// deletes anything, as a server that dies: the status shows the system
// deleting, and a new server resumes and finishes the deletion.
func TestE2EDeleteResumed(t *testing.T) {
	c, _ := deleteServer(t, nil)
	ctx := context.Background()
	res, err := c.Start(ctx, api.StartRequest{Name: "resumed", System: api.YAMLSystem(duo)})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	guid, ns := res.SID, res.Namespace

	cfg := shared(t).RESTConfig()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return failDeletes{rt} }
	dying, _ := deleteServer(t, cfg)
	if _, err := dying.Delete(ctx, guid); err == nil {
		t.Fatal("a delete without DELETE calls succeeded")
	}
	st, err := c.Status(ctx, guid)
	if err != nil || len(st) != 1 || st[0].State != api.StateDeleting {
		t.Fatalf("status after the cut delete: %+v, %v; want it deleting", st, err)
	}
	if left := apiLeft(t, guid, ns); len(left) < 3 {
		t.Fatalf("the cut delete deleted something: left %v", left)
	}

	// a new server finds the marked system at start-up
	_, fresh := deleteServer(t, nil)
	start := time.Now()
	guids, err := fresh.Resume(ctx)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	found := false
	for _, g := range guids {
		found = found || g == guid
	}
	if !found {
		t.Fatalf("Resume found %v, not %s", guids, guid)
	}
	fresh.Wait()
	settledEmpty(t, guid, ns, time.Minute)
	t.Logf("resumed deletion of %s finished after %s", guid, time.Since(start).Round(time.Millisecond))
}
