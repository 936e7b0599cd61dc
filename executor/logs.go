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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// LogsOptions are everything Logs takes.
type LogsOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
	// Services restrict the logs to these services (compose names or
	// Kubernetes names); none means all.
	Services []string
	// Follow streams the logs until ctx ends, and the logs of pods that
	// start meanwhile (a restart, a scale-up) and of restarted containers.
	Follow bool
	// Tail is the number of last lines of each container; < 0 means all.
	Tail int64
	// Since, when > 0, shows only the lines of this last while.
	Since time.Duration
	// Timestamps keeps the time the cluster gives each line at its start.
	Timestamps bool
	// Previous shows the logs of the previous run of a restarted
	// container.
	Previous bool
	// NoPrefix leaves out the "service-N | " prefix.
	NoPrefix bool
	// Color colours each service's prefix, as docker compose does on a
	// terminal.
	Color bool
	// Out receives the logs.
	Out io.Writer
}

// logSource is the container of one pod whose logs Logs reads; index is
// its replica number within its service, as docker compose numbers
// containers.
type logSource struct {
	service, pod, container string
	index                   int
	created                 time.Time
}

func (s logSource) name() string { return fmt.Sprintf("%s-%d", s.service, s.index) }

// Logs copies the logs of the system's pods to Out: of each pod, the
// container of its service (named after it). Each line is prefixed
// "service-N | ", N numbering the replicas of a service from 1 in the
// order they were created, padded as docker compose pads, coloured per
// service with Color. The lines of all pods are interleaved by the time
// the cluster gives them; with Follow they are printed as they come, and
// the pods that appear later and the containers that restart are
// followed too (a new pod takes the lowest free number). A pod whose logs
// cannot be read (a container not started yet) does not stop the others;
// the errors are joined. With Follow, the end of ctx is the normal end,
// not an error.
func Logs(ctx context.Context, c *Client, opts LogsOptions) error {
	if opts.Out == nil {
		return errors.New("logs: no output")
	}
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return err
	}
	l := &logger{c: c, ns: loc.Namespace, opts: opts, colors: map[string]string{}}
	pods, err := l.pods(ctx)
	if err != nil {
		return err
	}
	if err := l.selectServices(ctx, pods.Items); err != nil {
		return err
	}
	sources := l.sources(pods.Items)
	if len(sources) == 0 && !opts.Follow {
		return fmt.Errorf("system %s has no pods in namespace %s", opts.GUID, loc.Namespace)
	}
	for _, s := range sources {
		l.width = max(l.width, len(s.name()))
	}
	if !opts.Follow {
		return l.merge(ctx, sources)
	}
	return l.follow(ctx, pods.Items, sources, pods.ResourceVersion)
}

// logger reads the logs of one system.
type logger struct {
	c    *Client
	ns   string
	opts LogsOptions
	// want holds the selected services' names (nil: all)
	want map[string]bool
	// colors are the prefix colours of the services
	colors map[string]string
	width  int
	mu     sync.Mutex // one line at a time on Out
}

func (l *logger) pods(ctx context.Context) (*corev1.PodList, error) {
	pods, err := l.c.Kube.CoreV1().Pods(l.ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + l.opts.GUID})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of system %s: %w", l.opts.GUID, err)
	}
	return pods, nil
}

// palette is docker compose's: cyan, yellow, green, magenta, blue, then
// their bright forms.
var palette = []string{"36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"}

// selectServices checks the services asked for against those the system
// has (its workloads' and its pods'), and gives every service its colour
// by its place among them all, so that a service keeps its colour
// whatever is selected.
func (l *logger) selectServices(ctx context.Context, pods []corev1.Pod) error {
	known := map[string]bool{}
	for i := range pods {
		if s := sourceOf(&pods[i]); s.service != "" {
			known[s.service] = true
		}
	}
	ws, err := workloads(ctx, l.c, l.ns, kubernetes.LabelGUID+"="+l.opts.GUID)
	if err != nil {
		return err
	}
	for _, w := range ws[l.opts.GUID] {
		known[w.Name] = true
	}
	names := make([]string, 0, len(known))
	for s := range known {
		names = append(names, s)
	}
	sort.Strings(names)
	for i, s := range names {
		l.colors[s] = palette[i%len(palette)]
	}
	if len(l.opts.Services) == 0 {
		return nil
	}
	l.want = map[string]bool{}
	var missing []string
	for _, s := range l.opts.Services {
		switch {
		case known[s]:
			l.want[s] = true
		case known[kubernetes.DNSLabel(s, 63)]:
			l.want[kubernetes.DNSLabel(s, 63)] = true
		default:
			missing = append(missing, fmt.Sprintf("%q", s))
		}
	}
	if len(missing) > 0 {
		return &ServiceError{fmt.Sprintf("system %s has no service %s (its services: %s)", l.opts.GUID, strings.Join(missing, ", "), strings.Join(names, ", "))}
	}
	return nil
}

// sourceOf is the container of a pod's service (serviceContainer).
func sourceOf(p *corev1.Pod) logSource {
	if len(p.Spec.Containers) == 0 {
		return logSource{}
	}
	svc := podService(p)
	return logSource{service: svc, pod: p.Name, container: serviceContainer(p, svc), created: p.CreationTimestamp.Time}
}

// sources are the selected services' pods, numbered per service in the
// order they were created, sorted by service and number.
func (l *logger) sources(pods []corev1.Pod) []logSource {
	var out []logSource
	for i := range pods {
		s := sourceOf(&pods[i])
		if s.service == "" || l.want != nil && !l.want[s.service] {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.service != b.service {
			return a.service < b.service
		}
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.pod < b.pod
	})
	for i := range out {
		out[i].index = 1
		if i > 0 && out[i-1].service == out[i].service {
			out[i].index = out[i-1].index + 1
		}
	}
	return out
}

// prefix is the start of each line of s.
func (l *logger) prefix(s logSource) string {
	if l.opts.NoPrefix {
		return ""
	}
	p := fmt.Sprintf("%-*s | ", l.width, s.name())
	if l.opts.Color {
		p = "\x1b[" + l.colors[s.service] + "m" + p + "\x1b[0m"
	}
	return p
}

// stream opens the logs of s; fresh is a pod or container that started
// after Logs did, whose logs are read from their start.
func (l *logger) stream(ctx context.Context, s logSource, fresh bool) (io.ReadCloser, error) {
	lo := &corev1.PodLogOptions{Container: s.container, Follow: l.opts.Follow, Previous: l.opts.Previous, Timestamps: true}
	if !fresh {
		if l.opts.Tail >= 0 {
			tail := l.opts.Tail
			lo.TailLines = &tail
		}
		if l.opts.Since > 0 {
			secs := int64((l.opts.Since + time.Second - 1) / time.Second)
			lo.SinceSeconds = &secs
		}
	}
	rc, err := l.c.Kube.CoreV1().Pods(l.ns).GetLogs(s.pod, lo).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s (pod %s): %w", s.name(), s.pod, err)
	}
	return rc, nil
}

// line is one line of a container's logs: its time, when the cluster
// gave one, and its text without the time unless Timestamps.
type line struct {
	at   time.Time
	text string
}

// readLine reads the next line of br; a last line without an end gets
// one.
func (l *logger) readLine(br *bufio.Reader) (line, error) {
	s, err := br.ReadString('\n')
	if s == "" {
		if err == nil {
			err = io.EOF
		}
		return line{}, err
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	out := line{text: s}
	if ts, rest, ok := strings.Cut(s, " "); ok {
		if t, perr := time.Parse(time.RFC3339Nano, ts); perr == nil {
			out.at = t
			if !l.opts.Timestamps {
				out.text = rest
			}
		}
	}
	return out, nil
}

func (l *logger) write(prefix, text string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.opts.Out, prefix+text)
	return err
}

// merge prints the logs of sources interleaved by time: of the next
// line of each source, the earliest (a line without a time takes that of
// the line before it in its source; ties go to the first source).
func (l *logger) merge(ctx context.Context, sources []logSource) error {
	type head struct {
		src  logSource
		br   *bufio.Reader
		rc   io.Closer
		next line
		ok   bool
	}
	var errs []error
	var heads []*head
	defer func() {
		for _, h := range heads {
			h.rc.Close()
		}
	}()
	advance := func(h *head) {
		prev := h.next.at
		ln, err := l.readLine(h.br)
		if err != nil {
			h.ok = false
			if !errors.Is(err, io.EOF) {
				errs = append(errs, fmt.Errorf("%s (pod %s): %w", h.src.name(), h.src.pod, err))
			}
			return
		}
		if ln.at.IsZero() {
			ln.at = prev
		}
		h.next, h.ok = ln, true
	}
	for _, s := range sources {
		rc, err := l.stream(ctx, s, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h := &head{src: s, br: bufio.NewReader(rc), rc: rc}
		heads = append(heads, h)
		advance(h)
	}
	for {
		var first *head
		for _, h := range heads {
			if h.ok && (first == nil || h.next.at.Before(first.next.at)) {
				first = h
			}
		}
		if first == nil {
			return errors.Join(errs...)
		}
		if err := l.write(l.prefix(first.src), first.next.text); err != nil {
			return errors.Join(append(errs, err)...)
		}
		advance(first)
	}
}

// followed is a pod that follow knows.
type followed struct {
	src logSource
	// streaming is true while its logs are read; restarts is the restart
	// count of its container when they were last opened (-1: never)
	streaming bool
	restarts  int32
}

// follow streams sources and the pods and containers that start later,
// until ctx ends. pods are those listed at rv.
func (l *logger) follow(ctx context.Context, pods []corev1.Pod, sources []logSource, rv string) error {
	var wg sync.WaitGroup
	var mu sync.Mutex // guards known and errs
	known := map[string]*followed{}
	listed := map[string]bool{}
	var errs []error
	// start reads the logs of f; fresh ones from their start
	start := func(f *followed, fresh bool) {
		f.streaming = true
		wg.Go(func() {
			err := l.copyStream(ctx, f.src, fresh)
			mu.Lock()
			defer mu.Unlock()
			f.streaming = false
			if err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
		})
	}
	// handle starts the logs of a pod that runs and is not read: new,
	// listed while its container waited, or whose container restarted
	handle := func(typ watch.EventType, p *corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		f := known[p.Name]
		if typ == watch.Deleted {
			delete(known, p.Name)
			return
		}
		if f == nil {
			s := sourceOf(p)
			if s.service == "" || l.want != nil && !l.want[s.service] || p.DeletionTimestamp != nil {
				return
			}
			s.index = freeIndex(known, s.service)
			f = &followed{src: s, restarts: -1}
			known[p.Name] = f
		}
		running, restarts := containerRunning(p, f.src.container)
		if running && !f.streaming && restarts > f.restarts {
			fresh := f.restarts >= 0 || !listed[p.Name]
			f.restarts = restarts
			start(f, fresh)
		}
	}
	mu.Lock()
	for _, s := range sources {
		known[s.pod] = &followed{src: s, restarts: -1}
		listed[s.pod] = true
	}
	mu.Unlock()
	for i := range pods {
		handle(watch.Modified, &pods[i])
	}
	for ctx.Err() == nil {
		w, err := l.c.Kube.CoreV1().Pods(l.ns).Watch(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + l.opts.GUID, ResourceVersion: rv})
		if err != nil {
			break // what was started goes on
		}
		l.watchPods(ctx, w, handle)
		if ctx.Err() != nil {
			break
		}
		// the server closed the watch: list again and watch from there
		list, err := l.pods(ctx)
		if err != nil {
			break
		}
		for i := range list.Items {
			handle(watch.Modified, &list.Items[i])
		}
		rv = list.ResourceVersion
	}
	<-ctx.Done()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// watchPods passes the pods of w's events to handle until w ends, fails
// or ctx ends.
func (l *logger) watchPods(ctx context.Context, w watch.Interface, handle func(watch.EventType, *corev1.Pod)) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return
			}
			if p, ok := ev.Object.(*corev1.Pod); ok {
				handle(ev.Type, p)
			}
		}
	}
}

// containerRunning tells whether the container ctr of p runs or ran
// (its logs can be read) and its restart count. A pod without container
// statuses yet is taken to run, so that a cluster that does not report
// them still gets its logs read.
func containerRunning(p *corev1.Pod, ctr string) (bool, int32) {
	if len(p.Status.ContainerStatuses) == 0 {
		return p.Status.Phase != corev1.PodPending || len(p.Status.Conditions) == 0, 0
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == ctr {
			return cs.State.Running != nil || cs.State.Terminated != nil, cs.RestartCount
		}
	}
	return false, 0
}

// freeIndex is the lowest replica number of service that no known pod
// holds.
func freeIndex(known map[string]*followed, service string) int {
	used := map[int]bool{}
	for _, f := range known {
		if f.src.service == service {
			used[f.src.index] = true
		}
	}
	for i := 1; ; i++ {
		if !used[i] {
			return i
		}
	}
}

// copyStream copies the logs of s to Out, line by line, until they end.
func (l *logger) copyStream(ctx context.Context, s logSource, fresh bool) error {
	rc, err := l.stream(ctx, s, fresh)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	prefix := l.prefix(s)
	for {
		ln, err := l.readLine(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s (pod %s): %w", s.name(), s.pod, err)
		}
		if err := l.write(prefix, ln.text); err != nil {
			return err
		}
	}
}
