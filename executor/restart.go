package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// RestartedAtAnnotation is the pod template annotation of kubectl rollout
// restart: changing it makes the controller replace every pod.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// RestartOptions are everything Restart takes.
type RestartOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
	// Services restricts the restart to these services (compose or
	// Kubernetes names); none means every Deployment and DaemonSet.
	Services []string
	// Wait waits until the restarted workloads are rolled out, at most
	// Timeout (0: 5 minutes).
	Wait    bool
	Timeout time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Progress, when not nil, receives each change of a workload's state.
	Progress func(Event)
	// PollInterval is the period of the readiness checks (0: 1s).
	PollInterval time.Duration
}

// ServiceError is a service that a system does not have, or that cannot
// do what was asked (a Job restarted).
type ServiceError struct{ Msg string }

// Error returns the message.
func (e *ServiceError) Error() string { return e.Msg }

// Restart is kubectl rollout restart of the system's Deployments and
// DaemonSets (of Services only, when given): it sets the restartedAt
// annotation of their pod templates by a merge patch under Tycho's field
// manager (a patch, not an apply, so that the fields up applies keep their
// owner) and, with Wait, waits until they are rolled out as up does. It
// returns the restarted workloads as "Kind/name". A Job cannot be
// restarted: naming one is an error, and without names Jobs are left
// alone.
func Restart(ctx context.Context, c *Client, opts RestartOptions) ([]string, error) {
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return nil, err
	}
	// only Tycho's workloads (labelled executor=tycho)
	all, err := workloads(ctx, c, loc.Namespace, systemSelector(opts.GUID))
	if err != nil {
		return nil, err
	}
	ws := all[opts.GUID]
	want := map[string]bool{}
	for _, s := range opts.Services {
		want[s] = true
		want[kubernetes.DNSLabel(s, 63)] = true
	}
	var targets []workload
	found := map[string]bool{}
	for _, w := range ws {
		if len(want) > 0 && !want[w.Name] {
			continue
		}
		found[w.Name] = true
		if w.Kind == "Job" {
			if len(want) > 0 {
				return nil, &ServiceError{fmt.Sprintf("service %s is a Job, which runs once: it cannot be restarted", w.Name)}
			}
			continue
		}
		targets = append(targets, w)
	}
	var missing []string
	for _, s := range opts.Services {
		if !found[s] && !found[kubernetes.DNSLabel(s, 63)] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(ws))
		for _, w := range ws {
			names = append(names, w.Name)
		}
		return nil, &ServiceError{fmt.Sprintf("system %s has no service %s (its services: %s)", opts.GUID, strings.Join(missing, ", "), strings.Join(names, ", "))}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("system %s has no Deployment or DaemonSet to restart", opts.GUID)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{RestartedAtAnnotation: now().UTC().Format(time.RFC3339)}}}}})
	if err != nil {
		return nil, err
	}
	po := metav1.PatchOptions{FieldManager: FieldManager}
	done := make([]string, 0, len(targets))
	items := make([]item, 0, len(targets))
	for _, w := range targets {
		switch w.Kind {
		case "Deployment":
			_, err = c.Kube.AppsV1().Deployments(loc.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, po)
		case "DaemonSet":
			_, err = c.Kube.AppsV1().DaemonSets(loc.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, po)
		}
		if err != nil {
			return done, fmt.Errorf("restarting %s: %w", w.id(), err)
		}
		done = append(done, w.id())
		u := &unstructured.Unstructured{}
		u.SetKind(w.Kind)
		u.SetName(w.Name)
		items = append(items, item{obj: u})
	}
	sort.Strings(done)
	if !opts.Wait {
		return done, nil
	}
	u := &up{c: c, ns: loc.Namespace, opts: UpOptions{GUID: opts.GUID, Timeout: opts.Timeout, Progress: opts.Progress, PollInterval: opts.PollInterval}}
	if u.opts.Timeout <= 0 {
		u.opts.Timeout = 5 * time.Minute
	}
	if u.opts.PollInterval <= 0 {
		u.opts.PollInterval = time.Second
	}
	if obj, err := u.wait(ctx, items); err != nil {
		if obj != "" {
			return done, fmt.Errorf("%s: %w", obj, err)
		}
		return done, err
	}
	return done, nil
}
