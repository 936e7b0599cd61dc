package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
)

// Cluster is the Systems of a real cluster, over package executor.
type Cluster struct {
	// Client reaches the cluster.
	Client *executor.Client
	// PollInterval is the period of the executor's checks (0: its
	// default).
	PollInterval time.Duration
	// FinishTimeout bounds a deletion, which goes on after its request
	// was answered (0: 1 hour); one that is cut short stays marked, and
	// the next Delete or Resume finishes it.
	FinishTimeout time.Duration
	// Log receives the outcome of the deletions that outlive their
	// request (nil: discarded).
	Log *slog.Logger

	mu       sync.Mutex
	deleting map[string]*deletion // by GUID, while executor.Down runs
	wg       sync.WaitGroup
}

// deletion is one run of executor.Down for one GUID.
type deletion struct {
	// started is closed once the system is marked and its bulk deletes
	// are sent; marked is then the count of objects being deleted.
	started chan struct{}
	marked  int
	// done is closed when Down returns; result is then its outcome.
	done   chan struct{}
	result executor.DownResult
}

// NewCluster returns the Systems of the cluster that c reaches.
func NewCluster(c *executor.Client) *Cluster { return &Cluster{Client: c} }

// FieldManager is the field manager of the patches of Modify.
const FieldManager = "tycho-api"

// Start runs executor.Up in the system's own namespace.
func (c *Cluster) Start(ctx context.Context, spec StartSpec) (*executor.System, error) {
	return executor.Up(ctx, c.Client, executor.UpOptions{
		System:          spec.System,
		SecurityLevel:   spec.SecurityLevel,
		Objects:         spec.Objects,
		GUID:            spec.GUID,
		Namespace:       spec.Namespace,
		CreateNamespace: true,
		Wait:            spec.Wait,
		Timeout:         spec.Timeout,
		PollInterval:    c.PollInterval,
	})
}

// Status runs executor.Status in every namespace.
func (c *Cluster) Status(ctx context.Context, guid string) ([]executor.System, error) {
	return executor.Status(ctx, c.Client, executor.StatusOptions{GUID: guid})
}

// known is api.ErrNotFound unless a system that Tycho started (labelled
// executor=tycho) has guid.
func (c *Cluster) known(ctx context.Context, guid string) error {
	systems, err := c.Status(ctx, guid)
	if err != nil {
		return err
	}
	if len(systems) == 0 {
		return fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	return nil
}

// notFound turns the executor's api.ErrNotFound into the API's.
func notFound(guid string, err error) error {
	if errors.Is(err, executor.ErrNotFound) {
		return fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	return err
}

// Services runs executor.Ps for a system that Tycho started.
func (c *Cluster) Services(ctx context.Context, guid string) ([]executor.ServiceStatus, error) {
	if err := c.known(ctx, guid); err != nil {
		return nil, err
	}
	rows, err := executor.Ps(ctx, c.Client, executor.PsOptions{GUID: guid})
	return rows, notFound(guid, err)
}

// Restart runs executor.Restart for a system that Tycho started.
func (c *Cluster) Restart(ctx context.Context, guid string, r RestartSpec) ([]string, error) {
	if err := c.known(ctx, guid); err != nil {
		return nil, err
	}
	done, err := executor.Restart(ctx, c.Client, executor.RestartOptions{GUID: guid, Services: r.Services,
		Wait: r.Wait, Timeout: r.Timeout, PollInterval: c.PollInterval})
	var se *executor.ServiceError
	if errors.As(err, &se) {
		return nil, &InvalidError{Err: err}
	}
	return done, notFound(guid, err)
}

// Delete runs executor.Down for one GUID, if a system that Tycho started
// (labelled executor=tycho) has it, in the background: the deletion
// goes on when the request is answered (or cancelled) first, within
// FinishTimeout. A Delete of a GUID being deleted joins the running
// deletion (whose volumes decision holds).
func (c *Cluster) Delete(ctx context.Context, guid string, opts DeleteOptions) (Deletion, error) {
	d := c.startDeletion(guid, opts.Volumes)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	started, expired := d.started, timer.C
	for {
		select {
		case <-d.done:
			r := d.result
			switch {
			case errors.Is(r.Err, executor.ErrNotFound):
				return Deletion{}, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
			case r.Err != nil:
				return Deletion{}, r.Err
			}
			return Deletion{Deleted: r.Deleted}, nil
		case <-started:
			if !opts.Wait || expired == nil {
				return Deletion{Deleted: d.marked, Pending: true}, nil
			}
			started = nil // wait for done
		case <-expired:
			// the cluster is slow: answer once the system is marked (its
			// status then says deleting), and let the deletion go on
			if started == nil {
				return Deletion{Deleted: d.marked, Pending: true}, nil
			}
			expired = nil
		case <-ctx.Done():
			return Deletion{}, ctx.Err()
		}
	}
}

// startDeletion starts executor.Down for guid, unless it runs already.
func (c *Cluster) startDeletion(guid string, volumes bool) *deletion {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.deleting[guid]; d != nil {
		return d
	}
	if c.deleting == nil {
		c.deleting = map[string]*deletion{}
	}
	d := &deletion{started: make(chan struct{}), done: make(chan struct{})}
	c.deleting[guid] = d
	finish := c.FinishTimeout
	if finish <= 0 {
		finish = time.Hour
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// not the request's context: the deletion outlives the request
		ctx, cancel := context.WithTimeout(context.Background(), finish+time.Minute)
		defer cancel()
		results, err := executor.Down(ctx, c.Client, []string{guid}, executor.DownOptions{
			Volumes:      volumes,
			Wait:         true,
			Timeout:      finish,
			PollInterval: c.PollInterval,
			Started: func(r executor.DownResult) {
				d.marked = r.Deleted
				close(d.started)
			},
		})
		if len(results) == 1 {
			d.result = results[0]
		} else {
			d.result = executor.DownResult{GUID: guid, Err: err}
		}
		if d.result.Err != nil && !errors.Is(d.result.Err, executor.ErrNotFound) && c.Log != nil {
			c.Log.Error("deleting a system", "guid", guid, "err", d.result.Err)
		}
		c.mu.Lock()
		delete(c.deleting, guid)
		c.mu.Unlock()
		close(d.done)
	}()
	return d
}

// Resume finishes, in the background, the deletions that a server (this
// one before a restart, or another) started and did not finish: the
// systems marked deleting. It returns their GUIDs.
func (c *Cluster) Resume(ctx context.Context) ([]string, error) {
	guids, err := executor.Marked(ctx, c.Client, "")
	if err != nil {
		return nil, fmt.Errorf("resuming deletions: %w", err)
	}
	for _, g := range guids {
		// the volumes decision is the mark's
		c.startDeletion(g, false)
	}
	return guids, nil
}

// Wait waits until the deletions running in the background are done.
func (c *Cluster) Wait() { c.wg.Wait() }

// Ready asks the API server for its version.
func (c *Cluster) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// ServerVersion takes no context: a raw GET of /version does
	err := c.Client.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("the cluster's API server does not answer: %w", err)
	}
	return nil
}

// workloadPatch is the strategic merge patch of one workload.
type workloadPatch struct {
	kind, namespace, name string
	patch                 []byte
	apply                 func(ctx context.Context, dryRun bool) error
}

// Modify patches the Deployments and DaemonSets of a system (Jobs' pod
// templates cannot change): the labels of their pod templates, and the
// limits and requests of every container. Every patch is dry-run first,
// so that either all workloads change or none does.
func (c *Cluster) Modify(ctx context.Context, guid string, m Modification) ([]Patch, error) {
	sel := metav1.ListOptions{LabelSelector: kubernetes.LabelExecutor + "=tycho," + kubernetes.LabelGUID + "=" + guid}
	var ps []workloadPatch
	// add plans the patch of one workload; send patches it (or dry-runs).
	add := func(kind, ns, name string, containers []corev1.Container, send func(ctx context.Context, ns, name string, p []byte, o metav1.PatchOptions) error) error {
		names := make([]string, len(containers))
		for i, ct := range containers {
			names[i] = ct.Name
		}
		p, err := podTemplatePatch(m, names)
		if err != nil {
			return err
		}
		ps = append(ps, workloadPatch{kind: kind, namespace: ns, name: name, patch: p,
			apply: func(ctx context.Context, dryRun bool) error { return send(ctx, ns, name, p, patchOptions(dryRun)) }})
		return nil
	}
	deps, err := c.Client.Kube.AppsV1().Deployments("").List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, d := range deps.Items {
		if err := add("Deployment", d.Namespace, d.Name, d.Spec.Template.Spec.Containers, func(ctx context.Context, ns, name string, p []byte, o metav1.PatchOptions) error {
			_, err := c.Client.Kube.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, p, o)
			return err
		}); err != nil {
			return nil, err
		}
	}
	dss, err := c.Client.Kube.AppsV1().DaemonSets("").List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	for _, d := range dss.Items {
		if err := add("DaemonSet", d.Namespace, d.Name, d.Spec.Template.Spec.Containers, func(ctx context.Context, ns, name string, p []byte, o metav1.PatchOptions) error {
			_, err := c.Client.Kube.AppsV1().DaemonSets(ns).Patch(ctx, name, types.StrategicMergePatchType, p, o)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if len(ps) == 0 {
		// a system of Jobs only, or none: tell them apart
		systems, err := c.Status(ctx, guid)
		if err != nil {
			return nil, err
		}
		if len(systems) == 0 {
			return nil, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
		}
		return []Patch{}, nil
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].namespace != ps[j].namespace {
			return ps[i].namespace < ps[j].namespace
		}
		if ps[i].kind != ps[j].kind {
			return ps[i].kind < ps[j].kind
		}
		return ps[i].name < ps[j].name
	})
	for _, dry := range []bool{true, false} {
		for _, p := range ps {
			if err := p.apply(ctx, dry); err != nil {
				err = fmt.Errorf("patching %s %s/%s: %w", p.kind, p.namespace, p.name, err)
				if dry && (apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)) {
					return nil, &InvalidError{Err: err}
				}
				return nil, err
			}
		}
	}
	out := make([]Patch, len(ps))
	for i, p := range ps {
		out[i] = Patch{Kind: p.kind, Namespace: p.namespace, Name: p.name, Patch: p.patch}
	}
	return out, nil
}

func patchOptions(dryRun bool) metav1.PatchOptions {
	o := metav1.PatchOptions{FieldManager: FieldManager, FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		o.DryRun = []string{metav1.DryRunAll}
	}
	return o
}

// podTemplatePatch is the strategic merge patch of a pod template with
// the containers named.
func podTemplatePatch(m Modification, containers []string) ([]byte, error) {
	tmpl := map[string]any{}
	if len(m.Labels) > 0 {
		tmpl["metadata"] = map[string]any{"labels": m.Labels}
	}
	if m.CPU != "" || m.Memory != "" {
		res := map[string]string{}
		if m.CPU != "" {
			res["cpu"] = m.CPU
		}
		if m.Memory != "" {
			res["memory"] = m.Memory
		}
		cs := make([]map[string]any, len(containers))
		for i, n := range containers {
			cs[i] = map[string]any{"name": n, "resources": map[string]any{"limits": res, "requests": res}}
		}
		tmpl["spec"] = map[string]any{"containers": cs}
	}
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}
