package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// workload is the state of one Deployment, DaemonSet or Job.
type workload struct {
	Service
	failed string // why it can never become ready; "" while it may
	meta   metav1.ObjectMeta
}

// id is "Kind/name".
func (w workload) id() string { return w.Kind + "/" + w.Name }

// workloads reads the state of the system's workloads in ns ("" for all
// namespaces) with three list calls, keyed by GUID and sorted by name.
func workloads(ctx context.Context, c *Client, ns, selector string) (map[string][]workload, error) {
	out := map[string][]workload{}
	opts := metav1.ListOptions{LabelSelector: selector}
	deps, err := c.Kube.AppsV1().Deployments(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		state, ready, failed := deploymentState(d)
		g := d.Labels[kubernetes.LabelGUID]
		out[g] = append(out[g], workload{Service{Name: d.Name, Kind: "Deployment", Ready: ready, State: state}, failed, d.ObjectMeta})
	}
	dss, err := c.Kube.AppsV1().DaemonSets(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		state, ready := daemonSetState(d)
		g := d.Labels[kubernetes.LabelGUID]
		out[g] = append(out[g], workload{Service{Name: d.Name, Kind: "DaemonSet", Ready: ready, State: state}, "", d.ObjectMeta})
	}
	jobs, err := c.Kube.BatchV1().Jobs(ns).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing Jobs: %w", err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		state, ready, failed := jobState(j)
		g := j.Labels[kubernetes.LabelGUID]
		out[g] = append(out[g], workload{Service{Name: j.Name, Kind: "Job", Ready: ready, State: state}, failed, j.ObjectMeta})
	}
	for _, ws := range out {
		sort.Slice(ws, func(i, j int) bool {
			if ws[i].Name != ws[j].Name {
				return ws[i].Name < ws[j].Name
			}
			return ws[i].Kind < ws[j].Kind
		})
	}
	return out, nil
}

// wait waits until every workload among items is ready, reporting each
// change of state. It returns the workload that failed or was not ready
// in time.
func (u *up) wait(ctx context.Context, items []item) (string, error) {
	want := map[string]bool{}
	for _, it := range items {
		switch it.obj.GetKind() {
		case "Deployment", "DaemonSet", "Job":
			want[it.obj.GetKind()+"/"+it.obj.GetName()] = true
		}
	}
	if len(want) == 0 {
		return "", nil
	}
	// the deadline is not put on ctx: a call that would pass it fails
	// with a client error, not with "not ready"
	timeout := time.NewTimer(u.opts.Timeout)
	defer timeout.Stop()
	tick := time.NewTicker(u.opts.PollInterval)
	defer tick.Stop()
	last := map[string]string{}
	for {
		if err := u.deleting(ctx); err != nil {
			return "", err
		}
		all, err := workloads(ctx, u.c, u.ns, kubernetes.LabelGUID+"="+u.opts.GUID)
		if err != nil {
			return "", fmt.Errorf("waiting for system %s: %w", u.opts.GUID, err)
		}
		var ws, pending []workload
		ready := 0
		for _, w := range all[u.opts.GUID] {
			if want[w.id()] {
				ws = append(ws, w)
				if w.Ready {
					ready++
				}
			}
		}
		var failed *workload
		for i, w := range ws {
			if last[w.id()] != w.State {
				last[w.id()] = w.State
				if u.opts.Progress != nil {
					u.opts.Progress(Event{Object: w.id(), State: w.State, Ready: ready, Total: len(want)})
				}
			}
			if w.failed != "" && failed == nil {
				failed = &ws[i]
			}
			if !w.Ready {
				pending = append(pending, w)
			}
		}
		switch {
		case failed != nil:
			return failed.id(), errors.New(failed.failed)
		case ready == len(want):
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for system %s: %w", u.opts.GUID, ctx.Err())
		case <-timeout.C:
			if len(pending) == 0 {
				return "", fmt.Errorf("not ready after %s: workloads missing", u.opts.Timeout)
			}
			states := make([]string, len(pending))
			for i, w := range pending {
				states[i] = w.id() + " " + w.State
			}
			return pending[0].id(), fmt.Errorf("not ready after %s: %s", u.opts.Timeout, strings.Join(states, ", "))
		case <-tick.C:
		}
	}
}

// diagnose collects what the cluster says about a system that did not
// start: the Warning events of its workloads, ReplicaSets and pods, and
// why its containers wait. It is best effort: a failed list says nothing.
func diagnose(ctx context.Context, c *Client, ns, guid string) []string {
	opts := metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid}
	names := map[string]bool{}
	var prefixes []string
	var out []string
	if pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, opts); err == nil {
		for _, p := range pods.Items {
			names["Pod/"+p.Name] = true
			for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" && w.Reason != "ContainerCreating" {
					line := fmt.Sprintf("Pod/%s: container %s waiting: %s", p.Name, cs.Name, w.Reason)
					if w.Message != "" {
						line += ": " + w.Message
					}
					out = append(out, line)
				}
			}
		}
	}
	if all, err := workloads(ctx, c, ns, opts.LabelSelector); err == nil {
		for _, w := range all[guid] {
			names[w.id()] = true
			if w.Kind == "Deployment" {
				prefixes = append(prefixes, "ReplicaSet/"+w.Name+"-")
			}
		}
	}
	events, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		return out
	}
	items := events.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
	seen := map[string]bool{}
	for _, e := range items {
		if e.Type != "Warning" {
			continue
		}
		obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		ours := names[obj]
		for _, p := range prefixes {
			ours = ours || strings.HasPrefix(obj, p)
		}
		line := fmt.Sprintf("Warning %s %s: %s", e.Reason, obj, strings.TrimSpace(e.Message))
		if ours && !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	const max = 20
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("(%d more)", len(out)-max))
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
