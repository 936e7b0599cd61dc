package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	uexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// ExecOptions are everything Exec takes.
type ExecOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
	// Service is the service (its compose name or its Kubernetes name)
	// whose pod runs the command.
	Service string
	// Index is the replica, 1-based as docker compose's --index: the
	// service's running pods are ordered by StatefulSet ordinal, then
	// creation time, then name. 0 means 1.
	Index int
	// Command is the command and its arguments.
	Command []string
	// Stdin, when not nil, is copied to the command's standard input.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; with TTY, Stderr
	// is not used (the terminal carries both).
	Stdout, Stderr io.Writer
	// TTY allocates a terminal for the command.
	TTY bool
	// TerminalSizes, with TTY, gives the sizes of the local terminal.
	TerminalSizes remotecommand.TerminalSizeQueue

	// stream runs the command in the pod; nil means remote commands
	// through the API server (tests give their own).
	stream func(ctx context.Context, pod *corev1.Pod, container string, opts ExecOptions) error
}

// ExecTarget is the pod and container a command of a service runs in.
type ExecTarget struct {
	// Pod is the chosen pod.
	Pod *corev1.Pod
	// Container is the service's container in it.
	Container string
}

// Exec runs a command in a pod of a service of the system, as kubectl
// exec does, and returns its exit code. An error means the command could
// not be run (no such system, service or replica, a stream that broke),
// not that it failed.
func Exec(ctx context.Context, c *Client, opts ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, errors.New("exec: no command")
	}
	t, err := FindServicePod(ctx, c, opts.GUID, opts.Namespace, opts.Service, opts.Index)
	if err != nil {
		return 0, err
	}
	stream := opts.stream
	if stream == nil {
		stream = func(ctx context.Context, pod *corev1.Pod, container string, opts ExecOptions) error {
			return remoteExec(ctx, c, pod, container, opts)
		}
	}
	err = stream(ctx, t.Pod, t.Container, opts)
	var ce uexec.CodeExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ce):
		return ce.Code, nil
	}
	return 0, fmt.Errorf("%s/%s: %w", opts.Service, t.Pod.Name, err)
}

// remoteExec runs the command through the pod's exec subresource:
// WebSockets, falling back to SPDY for servers that refuse the upgrade,
// as kubectl does.
func remoteExec(ctx context.Context, c *Client, pod *corev1.Pod, container string, opts ExecOptions) error {
	if c.Config == nil {
		return errors.New("exec needs a client configuration")
	}
	cfg := streamConfig(c.Config)
	req := c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: container,
		Command:   opts.Command,
		Stdin:     opts.Stdin != nil,
		Stdout:    opts.Stdout != nil,
		Stderr:    opts.Stderr != nil && !opts.TTY,
		TTY:       opts.TTY,
	}, scheme.ParameterCodec)
	u := req.URL()
	exe, err := newExecutor(cfg, u)
	if err != nil {
		return err
	}
	so := remotecommand.StreamOptions{Stdin: opts.Stdin, Stdout: opts.Stdout, Tty: opts.TTY}
	if !opts.TTY {
		so.Stderr = opts.Stderr
	} else {
		so.TerminalSizeQueue = opts.TerminalSizes
	}
	return exe.StreamWithContext(ctx, so)
}

func newExecutor(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("making the exec client: %w", err)
	}
	// WebSockets must use GET (RFC 6455, 4.1)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("making the exec client: %w", err)
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, shouldFallback)
}

// shouldFallback is kubectl's test for falling back from WebSockets to
// SPDY: the server refused the upgrade, or a proxy cannot tunnel it.
func shouldFallback(err error) bool {
	return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}

// streamConfig is cfg for a streaming call: no overall time limit, since
// an exec or a port-forward lasts as long as the user wants.
func streamConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 0
	return cfg
}

// FindServicePod finds the running pod of a service of the system guid
// (in ns when not "") at the 1-based index (0: the first), and the
// service's container in it.
func FindServicePod(ctx context.Context, c *Client, guid, ns, service string, index int) (ExecTarget, error) {
	if index < 0 {
		return ExecTarget{}, fmt.Errorf("--index %d: replicas are numbered from 1", index)
	}
	if index == 0 {
		index = 1
	}
	loc, err := Locate(ctx, c, guid, ns)
	if err != nil {
		return ExecTarget{}, err
	}
	pods, err := c.Kube.CoreV1().Pods(loc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid})
	if err != nil {
		return ExecTarget{}, fmt.Errorf("listing the pods of system %s: %w", guid, err)
	}
	var running []*corev1.Pod
	services := map[string]bool{}
	matched := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		svc := podService(p)
		services[svc] = true
		if svc != service && svc != kubernetes.DNSLabel(service, 63) {
			continue
		}
		matched++
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			running = append(running, p)
		}
	}
	if matched == 0 {
		return ExecTarget{}, fmt.Errorf("system %s has no service %q with pods (services with pods: %s)", guid, service, joinSorted(services))
	}
	if len(running) == 0 {
		return ExecTarget{}, fmt.Errorf("service %s has no running pod (%d not running)", service, matched)
	}
	sortReplicas(running)
	if index > len(running) {
		return ExecTarget{}, fmt.Errorf("service %s has %d running %s: no replica %d", service, len(running), plural(len(running), "pod", "pods"), index)
	}
	p := running[index-1]
	return ExecTarget{Pod: p, Container: serviceContainer(p, podService(p))}, nil
}

// sortReplicas orders pods as replicas: by the StatefulSet ordinal when
// they have one, then by creation time (a scale-up adds at the end), then
// by name.
func sortReplicas(pods []*corev1.Pod) {
	ordinal := func(p *corev1.Pod) int {
		if n, err := strconv.Atoi(p.Labels["apps.kubernetes.io/pod-index"]); err == nil {
			return n
		}
		return -1
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if oa, ob := ordinal(a), ordinal(b); oa != ob {
			return oa < ob
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// podService is the service of a pod: its label (serviceOf), else its
// first container's name.
func podService(p *corev1.Pod) string {
	if s := serviceOf(p); s != "" {
		return s
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return p.Name
}

// serviceContainer is the container of the service in p: the one named
// after it, else the first (the original Tycho's pods have but one).
func serviceContainer(p *corev1.Pod, service string) string {
	for _, c := range p.Spec.Containers {
		if c.Name == service {
			return c.Name
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}

func joinSorted(set map[string]bool) string {
	if len(set) == 0 {
		return "none"
	}
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
