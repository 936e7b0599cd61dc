package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// DownOptions are everything Down takes.
type DownOptions struct {
	// Namespace restricts the search to one namespace; "" means all.
	Namespace string
	// Volumes deletes the systems' PersistentVolumeClaims too; without it
	// they (and so the namespaces that hold them) are kept.
	Volumes bool
	// Wait waits, at most Timeout (0: 5 minutes), until everything
	// deleted is gone, pods included.
	Wait    bool
	Timeout time.Duration
	// PollInterval is the period of the checks (0: 1s).
	PollInterval time.Duration
}

// DownResult is the outcome of Down for one GUID.
type DownResult struct {
	GUID string
	// Deleted counts the objects deleted (the namespace included).
	Deleted int
	// Err is why the system could not be removed; nil on success.
	Err error
}

// ErrNotFound is (wrapped in) the error of a GUID that no object carries.
var ErrNotFound = errors.New("system not found")

// target is one object to delete.
type target struct {
	gvr  schema.GroupVersionResource
	kind string
	ns   string
	name string
}

func (t target) id() string {
	if t.ns == "" {
		return t.kind + "/" + t.name
	}
	return t.kind + " " + t.ns + "/" + t.name
}

// Down removes systems: every object of the kinds Tycho emits that carries
// the system's tycho-guid label (PersistentVolumeClaims only with Volumes)
// and the namespace Tycho created for it, unless it keeps a claim. Deletion
// is foreground, so that pods go before their workloads. It lists each
// kind once for all the GUIDs. A GUID without objects, or whose objects
// cannot be deleted, fails alone: the others still go. The results are in
// the order of guids; the error joins the failures.
func Down(ctx context.Context, c *Client, guids []string, opts DownOptions) ([]DownResult, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	results := make([]DownResult, 0, len(guids))
	index := map[string]int{}
	var valid []string
	for _, g := range guids {
		if _, dup := index[g]; dup {
			continue
		}
		index[g] = len(results)
		r := DownResult{GUID: g}
		if err := ValidateGUID(g); err != nil {
			r.Err = err
		} else {
			valid = append(valid, g)
		}
		results = append(results, r)
	}
	if len(valid) == 0 {
		return results, joinResults(results)
	}
	// only what Tycho made: the executor label as well as the GUID
	sel := kubernetes.LabelExecutor + "=tycho," + kubernetes.LabelGUID + " in (" + strings.Join(valid, ",") + ")"

	// what there is, per GUID
	byGUID := map[string][]target{}
	claims := map[string]map[string]bool{} // GUID → namespaces that keep a claim
	namespaces := map[string][]target{}
	if opts.Namespace == "" {
		nss, err := c.Dynamic.Resource(gvrNamespaces).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		for _, n := range nss.Items {
			g := n.GetLabels()[kubernetes.LabelGUID]
			namespaces[g] = append(namespaces[g], target{gvr: gvrNamespaces, kind: "Namespace", name: n.GetName()})
		}
	} else {
		// the one namespace may be a system's own
		n, err := c.Dynamic.Resource(gvrNamespaces).Get(ctx, opts.Namespace, metav1.GetOptions{})
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("reading namespace %s: %w", opts.Namespace, err)
		}
		if err == nil {
			if g := n.GetLabels()[kubernetes.LabelGUID]; g != "" {
				namespaces[g] = append(namespaces[g], target{gvr: gvrNamespaces, kind: "Namespace", name: n.GetName()})
			}
		}
	}
	for _, gvk := range deleteKinds {
		items, gvr, err := listKind(ctx, c, gvk, opts.Namespace, sel)
		if err != nil {
			return nil, err
		}
		for _, o := range items {
			g := o.GetLabels()[kubernetes.LabelGUID]
			if gvk == gvkPVC && !opts.Volumes {
				if claims[g] == nil {
					claims[g] = map[string]bool{}
				}
				claims[g][o.GetNamespace()] = true
				continue
			}
			byGUID[g] = append(byGUID[g], target{gvr: gvr, kind: gvk.Kind, ns: o.GetNamespace(), name: o.GetName()})
		}
	}

	// The objects go first and, with Wait, the namespaces only once they
	// are gone: a namespace whose pods are still terminating is retried
	// by its controller with a back-off, which makes Down slower.
	var gone []string // GUIDs whose deletion started
	deletedNS := map[string][]target{}
	deleteAll := func(g string, ts []target) {
		r := &results[index[g]]
		var errs []error
		for _, t := range ts {
			ri := c.Dynamic.Resource(t.gvr)
			var err error
			if t.ns != "" {
				err = deleteForeground(ctx, ri.Namespace(t.ns), t.name)
			} else {
				err = deleteForeground(ctx, ri, t.name)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("deleting %s: %w", t.id(), err))
			}
		}
		r.Deleted += len(ts)
		if len(errs) > 0 && r.Err == nil {
			r.Err = fmt.Errorf("system %s: %w", g, errors.Join(errs...))
		}
	}
	for _, g := range valid {
		r := &results[index[g]]
		ts := byGUID[g]
		for _, n := range namespaces[g] {
			if !claims[g][n.name] {
				deletedNS[g] = append(deletedNS[g], n)
			}
		}
		if len(ts) == 0 && len(deletedNS[g]) == 0 {
			if len(claims[g]) > 0 {
				r.Err = fmt.Errorf("system %s: only volumes are left (down --volumes deletes them)", g)
			} else {
				r.Err = fmt.Errorf("system %s: %w", g, ErrNotFound)
			}
			continue
		}
		// workloads before what they use
		sort.SliceStable(ts, func(i, j int) bool { return deleteRank(ts[i].kind) > deleteRank(ts[j].kind) })
		deleteAll(g, ts)
		if !opts.Wait {
			deleteAll(g, deletedNS[g])
		}
		if r.Err == nil {
			gone = append(gone, g)
		}
	}
	if !opts.Wait || len(gone) == 0 {
		return results, joinResults(results)
	}
	fail := func(err error) {
		for _, g := range gone {
			if results[index[g]].Err == nil {
				results[index[g]].Err = fmt.Errorf("system %s: %w", g, err)
			}
		}
	}
	if err := waitGone(ctx, c, gone, nil, opts); err != nil {
		fail(err)
		return results, joinResults(results)
	}
	for _, g := range gone {
		deleteAll(g, deletedNS[g])
	}
	if err := waitGone(ctx, c, gone, deletedNS, opts); err != nil {
		fail(err)
	}
	return results, joinResults(results)
}

// deleteRank is the apply order of a kind; Down deletes in reverse.
func deleteRank(kind string) int {
	if kind == "Namespace" {
		return -1
	}
	for i, gvk := range deleteKinds {
		if gvk.Kind == kind {
			return i
		}
	}
	return len(deleteKinds)
}

// listKind lists the objects of a kind matching sel, in ns or everywhere.
// A kind the cluster does not serve has no objects.
func listKind(ctx context.Context, c *Client, gvk schema.GroupVersionKind, ns, sel string) ([]unstructured.Unstructured, schema.GroupVersionResource, error) {
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return nil, schema.GroupVersionResource{}, nil
	}
	if err != nil {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("mapping %s: %w", gvk.Kind, err)
	}
	list, err := c.Dynamic.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, m.Resource, fmt.Errorf("listing %s: %w", m.Resource.Resource, err)
	}
	return list.Items, m.Resource, nil
}

// waitGone waits until no object of the deleted kinds, nor pods,
// ReplicaSets or EndpointSlices, carries one of the GUIDs (PVCs kept
// aside), and their namespaces are gone.
func waitGone(ctx context.Context, c *Client, guids []string, namespaces map[string][]target, opts DownOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sel := kubernetes.LabelExecutor + "=tycho," + kubernetes.LabelGUID + " in (" + strings.Join(guids, ",") + ")"
	kinds := append(append([]schema.GroupVersionKind(nil), deleteKinds...), dependentKinds...)
	var left []string
	err := poll(ctx, opts.PollInterval, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, g := range guids {
			for _, n := range namespaces[g] {
				_, err := c.Dynamic.Resource(gvrNamespaces).Get(ctx, n.name, metav1.GetOptions{})
				switch {
				case err == nil:
					left = append(left, "Namespace/"+n.name)
				case !isNotFound(err):
					return false, fmt.Errorf("reading namespace %s: %w", n.name, err)
				}
			}
		}
		for _, gvk := range kinds {
			if gvk == gvkPVC && !opts.Volumes {
				continue
			}
			items, _, err := listKind(ctx, c, gvk, opts.Namespace, sel)
			if err != nil {
				return false, err
			}
			for _, o := range items {
				left = append(left, gvk.Kind+" "+o.GetNamespace()+"/"+o.GetName())
			}
		}
		return len(left) == 0, nil
	})
	if err != nil && ctx.Err() != nil && len(left) > 0 {
		sort.Strings(left)
		if len(left) > 5 {
			left = append(left[:5], fmt.Sprintf("and %d more", len(left)-5))
		}
		return fmt.Errorf("not gone after %s: %s", opts.Timeout, strings.Join(left, ", "))
	}
	return err
}

func joinResults(rs []DownResult) error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}
