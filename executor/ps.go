package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// PsOptions are everything Ps takes.
type PsOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
}

// ServiceStatus is one row of Ps: the state of one service of a system
// as docker compose ps shows a container's.
type ServiceStatus struct {
	// Service is the service's name (its Kubernetes name).
	Service string `json:"service"`
	// Kind is Deployment, DaemonSet or Job.
	Kind string `json:"kind"`
	// Ready counts the ready pods (the succeeded ones for a Job), Desired
	// those the workload wants.
	Ready   int32 `json:"ready"`
	Desired int32 `json:"desired"`
	// Restarts adds up the restarts of the containers of its pods.
	Restarts int32 `json:"restarts"`
	// State is "running", "updating", "starting", "completed", "failed:
	// why", "stopped", or a pod's waiting reason: "CrashLoopBackOff",
	// "ImagePullBackOff", "Pending: <the scheduler's reason>" ...
	State string `json:"state"`
	// Ports are the ports its pods are reached on inside the system, as
	// "8080/tcp", sorted.
	Ports []string `json:"ports"`
	// Endpoints are the addresses of its published ports from outside,
	// as "IP:port[/proto]".
	Endpoints []string `json:"endpoints"`
}

// Ps reads the state of each service of the system, sorted by name, with
// a constant number of list calls: the record, the workloads, pods and
// Services of the system, and Nodes when a port is published on one.
func Ps(ctx context.Context, c *Client, opts PsOptions) ([]ServiceStatus, error) {
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return nil, err
	}
	return psIn(ctx, c, loc.Namespace, opts.GUID)
}

func psIn(ctx context.Context, c *Client, ns, guid string) ([]ServiceStatus, error) {
	sel := metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid}
	rows := map[string]*ServiceStatus{}
	var order []string
	add := func(name, kind string, ready, desired int32, state string) {
		rows[name] = &ServiceStatus{Service: name, Kind: kind, Ready: ready, Desired: desired, State: state,
			Ports: []string{}, Endpoints: []string{}}
		order = append(order, name)
	}
	deps, err := c.Kube.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		add(d.Name, "Deployment", d.Status.ReadyReplicas, want, deploymentPhase(d, want))
	}
	dss, err := c.Kube.AppsV1().DaemonSets(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		st := d.Status
		state := "running"
		if _, ready := daemonSetState(d); !ready {
			state = "updating"
		}
		add(d.Name, "DaemonSet", st.NumberReady, st.DesiredNumberScheduled, state)
	}
	jobs, err := c.Kube.BatchV1().Jobs(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing Jobs: %w", err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		want := int32(1)
		if j.Spec.Completions != nil {
			want = *j.Spec.Completions
		}
		add(j.Name, "Job", j.Status.Succeeded, want, jobPhase(j))
	}
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing the pods of system %s: %w", guid, err)
	}
	items := pods.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for i := range items {
		p := &items[i]
		r := rows[serviceOf(p)]
		if r == nil {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			r.Restarts += cs.RestartCount
		}
		if p.DeletionTimestamp != nil || r.Kind == "Job" && r.State == "completed" {
			continue
		}
		// a pod that cannot run says why the service is not ready: the
		// first such pod by name
		if why := podTrouble(p, r.Kind == "Job"); why != "" && (r.State == "running" || r.State == "updating" || r.State == "starting") {
			r.State = why
		}
	}
	svcs, err := c.Kube.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	for _, s := range svcs.Items {
		r := rows[s.Labels[kubernetes.LabelName]]
		if r == nil || isPublished(&s) {
			continue
		}
		for _, p := range s.Spec.Ports {
			port := fmt.Sprintf("%d/%s", p.Port, strings.ToLower(string(p.Protocol)))
			if p.Protocol == "" {
				port = fmt.Sprintf("%d/tcp", p.Port)
			}
			if !contains(r.Ports, port) {
				r.Ports = append(r.Ports, port)
			}
		}
	}
	systems := map[string]*System{guid: {GUID: guid}}
	if err := endpoints(ctx, c, ns, kubernetes.LabelGUID+"="+guid, systems); err != nil {
		return nil, err
	}
	for _, e := range systems[guid].Endpoints {
		r := rows[e.Service]
		if r == nil {
			continue
		}
		r.Endpoints = append(r.Endpoints, e.String())
	}
	sort.Strings(order)
	out := make([]ServiceStatus, 0, len(order))
	for _, n := range order {
		r := rows[n]
		sort.Slice(r.Ports, func(i, j int) bool { return portLess(r.Ports[i], r.Ports[j]) })
		out = append(out, *r)
	}
	return out, nil
}

// deploymentPhase is the state of a Deployment before its pods are looked
// at.
func deploymentPhase(d *appsv1.Deployment, want int32) string {
	_, ready, failed := deploymentState(d)
	switch {
	case failed != "":
		return "failed: " + failed
	case want == 0:
		return "stopped"
	case ready:
		return "running"
	case d.Status.ReadyReplicas == 0:
		return "starting"
	}
	return "updating"
}

// jobPhase is the state of a Job before its pods are looked at.
func jobPhase(j *batchv1.Job) string {
	_, ready, failed := jobState(j)
	switch {
	case ready:
		return "completed"
	case failed != "":
		return "failed: " + strings.TrimPrefix(failed, "job failed: ")
	}
	return "running"
}

// podTrouble says why a pod does not run, "" when nothing stops it: a
// container's waiting reason (CrashLoopBackOff, ImagePullBackOff ...),
// else the reason a container that should run ended (Error, Completed,
// OOMKilled: not for a Job's, which end), else, for an unscheduled pod,
// "Pending: " and the scheduler's message.
func podTrouble(p *corev1.Pod, job bool) string {
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" && w.Reason != "ContainerCreating" {
			return w.Reason
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && !job && t.Reason != "" {
			return t.Reason
		}
	}
	if p.Status.Phase == corev1.PodPending {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				msg := c.Message
				if msg == "" {
					msg = c.Reason
				}
				// its first sentence says why; the rest is about
				// preemption
				msg = strings.Join(strings.Fields(msg), " ")
				if i := strings.Index(msg, ". "); i >= 0 {
					msg = msg[:i+1]
				}
				return "Pending: " + msg
			}
		}
	}
	return ""
}

// serviceOf is the service of a pod: its app.kubernetes.io/name label,
// else the original Tycho's name label.
func serviceOf(p *corev1.Pod) string {
	if s := p.Labels[kubernetes.LabelName]; s != "" {
		return s
	}
	return p.Labels["name"]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// portLess orders "port/proto" by number, then protocol.
func portLess(a, b string) bool {
	var pa, pb int
	fmt.Sscanf(a, "%d", &pa)
	fmt.Sscanf(b, "%d", &pb)
	if pa != pb {
		return pa < pb
	}
	return a < b
}

// WatchPs calls fn with the rows of Ps, then again whenever the system's
// pods change (a watch, re-opened when the server closes it), until ctx
// ends (then it returns nil, even in the middle of a refresh) or fn
// fails. Rows equal to the last ones are not passed again.
func WatchPs(ctx context.Context, c *Client, opts PsOptions, fn func([]ServiceStatus) error) error {
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return err
	}
	var last string
	emit := func() error {
		rows, err := psIn(ctx, c, loc.Namespace, opts.GUID)
		if err != nil {
			if ctx.Err() != nil {
				// interrupted while reading: the normal end
				return nil
			}
			return err
		}
		key := fmt.Sprint(rows)
		if key == last {
			return nil
		}
		last = key
		return fn(rows)
	}
	for {
		if err := emit(); err != nil {
			return err
		}
		w, err := c.Kube.CoreV1().Pods(loc.Namespace).Watch(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + opts.GUID})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching the pods of system %s: %w", opts.GUID, err)
		}
		if err := watchLoop(ctx, w, emit); err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// watchLoop calls emit on every event of w until w closes or ctx ends.
func watchLoop(ctx context.Context, w watch.Interface, emit func() error) error {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Error {
				return nil // re-listed and watched again
			}
			if err := emit(); err != nil {
				return err
			}
		}
	}
}
