package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// StatusOptions are everything Status takes.
type StatusOptions struct {
	// GUID restricts the answer to one system; "" means all.
	GUID string
	// Namespace restricts the search to one namespace; "" means all.
	Namespace string
}

// systemSelector selects the objects of started systems, or of one.
func systemSelector(guid string) string {
	if guid == "" {
		return kubernetes.LabelExecutor + "=tycho," + kubernetes.LabelGUID
	}
	return kubernetes.LabelExecutor + "=tycho," + kubernetes.LabelGUID + "=" + guid
}

// recordSelector selects the records of systems, or of one.
func recordSelector(guid string) string {
	return systemSelector(guid) + "," + kubernetes.LabelComponent + "=" + RecordComponent
}

// Status finds the started systems (those with executor=tycho labels) and
// reads their state, sorted by name and GUID. It makes a constant number
// of list calls, whatever the number of systems: records, namespaces
// marked deleting, Deployments, DaemonSets, Jobs, Services, Ingresses,
// HTTPRoutes and, when a published port is a node port, Nodes. Systems of the original Tycho,
// which have no record, are found by their workloads. A system is
// StateDeleting while its record or namespace carries the mark of Down,
// or all its workloads are being deleted.
func Status(ctx context.Context, c *Client, opts StatusOptions) ([]System, error) {
	if opts.GUID != "" {
		if err := ValidateGUID(opts.GUID); err != nil {
			return nil, err
		}
	}
	ns := opts.Namespace
	records, err := c.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(opts.GUID)})
	if err != nil {
		return nil, fmt.Errorf("listing systems: %w", err)
	}
	systems := map[string]*System{}
	for _, cm := range records.Items {
		g := cm.Labels[kubernetes.LabelGUID]
		if !strings.HasPrefix(cm.Name, RecordPrefix) || systems[g] != nil {
			continue
		}
		s := &System{Name: cm.Data[keySystem], GUID: g, Namespace: cm.Namespace,
			OwnNamespace: cm.Data[keyOwnNamespace] == "true", ModelHash: cm.Data[keyModelHash]}
		if t, err := time.Parse(time.RFC3339, cm.Data[keyCreated]); err == nil {
			s.Created = t
		} else {
			s.Created = cm.CreationTimestamp.Time
		}
		if s.Name == "" {
			s.Name = cm.Labels[kubernetes.LabelPartOf]
		}
		s.State = StateRunning
		if cm.Labels[LabelDeleting] != "" {
			s.State = StateDeleting
		}
		systems[g] = s
	}
	if err := markedNamespaces(ctx, c, opts, systems); err != nil {
		return nil, err
	}
	sel := systemSelector(opts.GUID)
	ws, err := workloads(ctx, c, ns, sel)
	if err != nil {
		return nil, err
	}
	// systems without a record (the original Tycho's) show by their
	// workloads; their name is in their labels
	for g, s := range unrecorded(systems, ws) {
		systems[g] = s
	}
	for g, s := range systems {
		going := 0
		for _, w := range ws[g] {
			s.Services = append(s.Services, w.Service)
			s.Total++
			if w.Ready {
				s.Ready++
			}
			if w.meta.DeletionTimestamp != nil {
				going++
			}
		}
		if s.Services == nil {
			s.Services = []Service{}
		}
		if going > 0 && going == len(ws[g]) {
			s.State = StateDeleting
		}
	}
	if err := endpoints(ctx, c, ns, sel, systems); err != nil {
		return nil, err
	}
	out := make([]System, 0, len(systems))
	for _, s := range systems {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].GUID < out[j].GUID
	})
	return out, nil
}

// markedNamespaces adds the systems whose own namespace is marked
// deleting, and whose record may be gone already, as deleting. Without
// the right to list namespaces it adds none.
func markedNamespaces(ctx context.Context, c *Client, opts StatusOptions, systems map[string]*System) error {
	lo := metav1.ListOptions{LabelSelector: systemSelector(opts.GUID) + "," + LabelDeleting}
	var items []corev1.Namespace
	if opts.Namespace == "" {
		list, err := c.Kube.CoreV1().Namespaces().List(ctx, lo)
		if apierrors.IsForbidden(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing the namespaces being deleted: %w", err)
		}
		items = list.Items
	} else {
		n, err := c.Kube.CoreV1().Namespaces().Get(ctx, opts.Namespace, metav1.GetOptions{})
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading namespace %s: %w", opts.Namespace, err)
		}
		if n.Labels[LabelDeleting] != "" && n.Labels[kubernetes.LabelExecutor] == "tycho" &&
			(opts.GUID == "" || n.Labels[kubernetes.LabelGUID] == opts.GUID) {
			items = append(items, *n)
		}
	}
	for _, n := range items {
		g := n.Labels[kubernetes.LabelGUID]
		if g == "" {
			continue
		}
		if s := systems[g]; s != nil {
			s.State = StateDeleting
			continue
		}
		systems[g] = &System{Name: n.Labels[kubernetes.LabelPartOf], GUID: g, Namespace: n.Name, OwnNamespace: true,
			Created: n.CreationTimestamp.Time, State: StateDeleting}
	}
	return nil
}

// unrecorded makes the systems that have workloads but no record (those
// of the original Tycho, or one whose record was deleted by hand) from the
// labels of their workloads.
func unrecorded(known map[string]*System, ws map[string][]workload) map[string]*System {
	out := map[string]*System{}
	for g, list := range ws {
		if known[g] != nil || g == "" {
			continue
		}
		for _, w := range list {
			m := w.meta
			s := out[g]
			if s == nil {
				name := m.Labels[kubernetes.LabelPartOf]
				if name == "" {
					name = m.Labels["name"] // the original Tycho's label
				}
				if name == "" {
					name = m.Name
				}
				s = &System{Name: name, GUID: g, Namespace: m.Namespace, Created: m.CreationTimestamp.Time, State: StateRunning}
				out[g] = s
			}
			if m.CreationTimestamp.Time.Before(s.Created) {
				s.Created = m.CreationTimestamp.Time
			}
		}
	}
	return out
}

// endpoints fills in the addresses of the published Services: the load
// balancer's ingress, else a node's InternalIP and the node port, else the
// cluster IP.
func endpoints(ctx context.Context, c *Client, ns, sel string, systems map[string]*System) error {
	svcs, err := c.Kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	items := svcs.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	var published []*corev1.Service
	needNode := false
	for i := range items {
		s := &items[i]
		if systems[s.Labels[kubernetes.LabelGUID]] == nil || !isPublished(s) {
			continue
		}
		published = append(published, s)
		if s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer && len(s.Status.LoadBalancer.Ingress) == 0 {
			needNode = true
		}
	}
	nodeIP := ""
	if needNode {
		if nodeIP, err = firstNodeIP(ctx, c); err != nil {
			return err
		}
	}
	for _, s := range published {
		sys := systems[s.Labels[kubernetes.LabelGUID]]
		svc := s.Labels[kubernetes.LabelName]
		if svc == "" {
			svc = strings.TrimSuffix(s.Name, "-published")
		}
		for _, p := range s.Spec.Ports {
			ep := Endpoint{Service: svc, Protocol: string(p.Protocol)}
			switch {
			case s.Spec.Type == corev1.ServiceTypeLoadBalancer && len(s.Status.LoadBalancer.Ingress) > 0:
				in := s.Status.LoadBalancer.Ingress[0]
				ep.IP, ep.Port = in.IP, p.Port
				if ep.IP == "" {
					ep.IP = in.Hostname
				}
			case p.NodePort != 0:
				ep.IP, ep.Port = nodeIP, p.NodePort
			default:
				ep.IP, ep.Port = s.Spec.ClusterIP, p.Port
			}
			if ep.IP == "" {
				ep.IP = "-"
			}
			sys.Endpoints = append(sys.Endpoints, ep)
		}
	}
	if err := routeEndpoints(ctx, c, ns, sel, systems); err != nil {
		return err
	}
	for _, s := range systems {
		if s.Endpoints == nil {
			s.Endpoints = []Endpoint{}
		}
	}
	return nil
}

// routeEndpoints adds the URLs of the routed ports: those the compiler
// wrote on each Ingress and HTTPRoute (kubernetes.AnnotationURL). A URL
// that is only a path (any host matches) gets the address the Ingress
// controller reports, when it does. A cluster without the Gateway API, or
// a role without the right to list routes, shows none.
func routeEndpoints(ctx context.Context, c *Client, ns, sel string, systems map[string]*System) error {
	for _, gvk := range []schema.GroupVersionKind{gvkIngress, gvkHTTPRoute} {
		items, _, err := listKind(ctx, c, gvk, ns, sel)
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		sort.Slice(items, func(i, j int) bool { return items[i].GetName() < items[j].GetName() })
		for _, o := range items {
			sys := systems[o.GetLabels()[kubernetes.LabelGUID]]
			url := o.GetAnnotations()[kubernetes.AnnotationURL]
			if sys == nil || url == "" {
				continue
			}
			sys.Endpoints = append(sys.Endpoints, routeEndpoint(o.Object, o.GetLabels()[kubernetes.LabelName], url))
		}
	}
	return nil
}

// routeEndpoint is the endpoint of the route obj (an Ingress or HTTPRoute
// as unstructured content) with its compiled URL.
func routeEndpoint(obj map[string]any, service, url string) Endpoint {
	tls, _, _ := unstructured.NestedSlice(obj, "spec", "tls")
	https := len(tls) > 0 || strings.HasPrefix(url, "https://")
	ep := Endpoint{Service: service, Protocol: "TCP", Port: 80, IP: "-", URL: url}
	if https {
		ep.Port = 443
	}
	if rest, ok := strings.CutPrefix(url, "http://"); ok {
		ep.IP, _, _ = strings.Cut(rest, "/")
	} else if rest, ok := strings.CutPrefix(url, "https://"); ok {
		ep.IP, _, _ = strings.Cut(rest, "/")
	}
	if strings.HasPrefix(url, "/") {
		// any host: the controller's address, when it reports one
		lbs, _, _ := unstructured.NestedSlice(obj, "status", "loadBalancer", "ingress")
		if len(lbs) > 0 {
			lb, _ := lbs[0].(map[string]any)
			addr, _ := lb["ip"].(string)
			if addr == "" {
				addr, _ = lb["hostname"].(string)
			}
			if addr != "" {
				ep.IP = addr
				scheme := "http://"
				if https {
					scheme = "https://"
				}
				ep.URL = scheme + addr + url
			}
		}
	}
	return ep
}

// isPublished tells a Service of published ports: Tycho names them
// <service>-published; those of the original Tycho are LoadBalancers.
func isPublished(s *corev1.Service) bool {
	return strings.HasSuffix(s.Name, "-published") ||
		s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort
}

// firstNodeIP is the InternalIP of the first Ready node by name, else of
// the first node with one; "" when none has.
func firstNodeIP(ctx context.Context, c *Client) (string, error) {
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing Nodes: %w", err)
	}
	items := nodes.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	fallback := ""
	for _, n := range items {
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
				break
			}
		}
		if ip == "" {
			continue
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return ip, nil
			}
		}
		if fallback == "" {
			fallback = ip
		}
	}
	return fallback, nil
}
