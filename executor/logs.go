package executor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// LogsOptions are everything Logs takes.
type LogsOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
	// Service restricts the logs to one service (its compose name or its
	// Kubernetes name); "" means all.
	Service string
	// Follow streams the logs until ctx ends.
	Follow bool
	// Tail is the number of last lines of each container; < 0 means all.
	Tail int64
	// Previous shows the logs of the previous run of a restarted
	// container.
	Previous bool
	// Out receives the logs.
	Out io.Writer
}

// logSource is the container of one pod whose logs Logs reads.
type logSource struct {
	service, pod, container string
}

// Logs copies the logs of the system's pods to Out: of each pod, the
// container of its service (named after it), pods sorted by service and
// name. With several pods each line is prefixed "service/pod | ", as
// docker compose logs does, and, with Follow, the pods are streamed at
// once, line by line. Pods that start after Logs are not followed. A pod
// whose logs cannot be read (a container not started yet) does not stop
// the others; the errors are joined. With Follow, the end of ctx is the
// normal end, not an error.
func Logs(ctx context.Context, c *Client, opts LogsOptions) error {
	if opts.Out == nil {
		return errors.New("logs: no output")
	}
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return err
	}
	sources, err := logSources(ctx, c, loc.Namespace, opts.GUID, opts.Service)
	if err != nil {
		return err
	}
	prefixed := len(sources) > 1
	var mu sync.Mutex // one line at a time on Out
	read := func(s logSource) error {
		lo := &corev1.PodLogOptions{Container: s.container, Follow: opts.Follow, Previous: opts.Previous}
		if opts.Tail >= 0 {
			tail := opts.Tail
			lo.TailLines = &tail
		}
		rc, err := c.Kube.CoreV1().Pods(loc.Namespace).GetLogs(s.pod, lo).Stream(ctx)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", s.service, s.pod, err)
		}
		defer rc.Close()
		if !prefixed {
			_, err = io.Copy(opts.Out, rc)
		} else {
			err = copyLines(opts.Out, &mu, s.service+"/"+s.pod+" | ", rc)
		}
		if err != nil && !(opts.Follow && ctx.Err() != nil) {
			return fmt.Errorf("%s/%s: %w", s.service, s.pod, err)
		}
		return nil
	}
	errs := make([]error, len(sources))
	if opts.Follow {
		var wg sync.WaitGroup
		for i, s := range sources {
			wg.Go(func() { errs[i] = read(s) })
		}
		wg.Wait()
	} else {
		for i, s := range sources {
			errs[i] = read(s)
		}
	}
	if opts.Follow && ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// logSources finds the pods of the system (of one service, when not "")
// and the container of each.
func logSources(ctx context.Context, c *Client, ns, guid, service string) ([]logSource, error) {
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of system %s: %w", guid, err)
	}
	var out []logSource
	services := map[string]bool{}
	for _, p := range pods.Items {
		if len(p.Spec.Containers) == 0 {
			continue
		}
		svc := p.Labels[kubernetes.LabelName]
		if svc == "" {
			svc = p.Labels["name"] // the original Tycho's
		}
		// the container is named after the service; pods of the original
		// Tycho have but one
		ctr := p.Spec.Containers[0].Name
		for _, pc := range p.Spec.Containers {
			if pc.Name == svc {
				ctr = pc.Name
			}
		}
		if svc == "" {
			svc = ctr
		}
		services[svc] = true
		if service != "" && svc != service && svc != kubernetes.DNSLabel(service, 63) {
			continue
		}
		out = append(out, logSource{service: svc, pod: p.Name, container: ctr})
	}
	if len(out) == 0 {
		if service == "" {
			return nil, fmt.Errorf("system %s has no pods in namespace %s", guid, ns)
		}
		names := make([]string, 0, len(services))
		for s := range services {
			names = append(names, s)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("system %s has no pods of service %q (services with pods: %s)", guid, service, strings.Join(names, ", "))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].service != out[j].service {
			return out[i].service < out[j].service
		}
		return out[i].pod < out[j].pod
	})
	return out, nil
}

// copyLines copies r to w line by line, each line prefixed, holding mu
// while it writes one. A last line without an end gets one.
func copyLines(w io.Writer, mu *sync.Mutex, prefix string, r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			mu.Lock()
			_, werr := io.WriteString(w, prefix+line)
			mu.Unlock()
			if werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
