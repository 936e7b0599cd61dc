package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// The mark of a system being deleted. Down puts it on the system's record
// and on the namespace Tycho created for it before it deletes anything,
// so that a concurrent Up of the same GUID stops and rolls back, Status
// shows the system "deleting", and a Down or a server that starts later
// (see Marked) finishes a deletion that was cut short.
const (
	// LabelDeleting holds the Unix time of the mark: a label, so that
	// marked systems are found with one list call.
	LabelDeleting = "tycho.dev/deleting"
	// AnnotationDeleteVolumes is "true" when the deletion takes the
	// system's volumes, so that a resumed deletion does what was asked.
	AnnotationDeleteVolumes = "tycho.dev/delete-volumes"
)

// States of a system, as Status reports them.
const (
	StateRunning  = "running"
	StateDeleting = "deleting"
)

// ErrDeleting is (wrapped in) the error of an Up of a system that is
// being deleted.
var ErrDeleting = errors.New("the system is being deleted")

// DownOptions are everything Down takes.
type DownOptions struct {
	// Namespace restricts the search to one namespace; "" means all.
	Namespace string
	// Volumes deletes the systems' PersistentVolumeClaims too; without it
	// they (and so the namespaces that hold them) are kept. A system
	// marked by a deletion that takes its volumes loses them anyway.
	Volumes bool
	// Wait waits, at most Timeout (0: 5 minutes), until everything
	// deleted is gone, pods included.
	Wait    bool
	Timeout time.Duration
	// PollInterval is the period of the checks (0: 1s).
	PollInterval time.Duration
	// Now is the clock of the mark (time.Now when nil).
	Now func() time.Time
	// Started, when not nil, is called for each system once it is marked
	// and its bulk deletes are sent, with the number of objects being
	// deleted: from then on the cluster removes them even if Down stops,
	// and a later Down finishes what is left.
	Started func(DownResult)
}

// DownResult is the outcome of Down for one GUID.
type DownResult struct {
	GUID string
	// Deleted counts the objects deleted (the namespace included).
	Deleted int
	// Pending is true when Down returned before the system was gone
	// (without Wait, or when Timeout passed): the cluster goes on
	// deleting it and, while it is marked, Status shows it deleting.
	Pending bool
	// Err is why the system could not be removed; nil on success.
	Err error
}

// downConcurrency bounds the systems that Down deletes at a time.
const downConcurrency = 8

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

// Down removes systems, each in the same steps, and so is idempotent: a
// second Down of a half-deleted system finishes it, and an object already
// gone is no error.
//
//  1. Find the system: its record, the namespace Tycho created for it
//     (labelled with its GUID), else any object of the kinds Tycho emits
//     that carries its labels (a system whose Up was cut short, or one of
//     the original Tycho).
//  2. Mark it (LabelDeleting) on the record and the namespace.
//  3. Delete in bulk, with a constant number of calls whatever the size
//     of the system: the system's own namespace in one call (the
//     namespace controller deletes its content) unless it holds volumes
//     to keep; else, per kind, one collection delete by the labels
//     executor=tycho and tycho-guid. Volumes (PersistentVolumeClaims) go
//     only with Volumes, and a namespace that keeps one stays.
//  4. With Wait, wait until the objects and the pods, ReplicaSets and
//     EndpointSlices made from them are gone, deleting again what a
//     concurrent Up made meanwhile; then delete the record and unmark a
//     namespace that stays. A system still there after Timeout stays
//     marked: its DownResult is Pending, with an error that says so.
//
// Systems go concurrently (a few at a time). A GUID without objects, or
// whose objects cannot be deleted, fails alone: the others still go. The
// results are in the order of guids, each GUID once; the error joins the
// failures. Started may be called concurrently.
func Down(ctx context.Context, c *Client, guids []string, opts DownOptions) ([]DownResult, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	results := make([]DownResult, 0, len(guids))
	seen := map[string]bool{}
	for _, g := range guids {
		if seen[g] {
			continue
		}
		seen[g] = true
		results = append(results, DownResult{GUID: g, Err: ValidateGUID(g)})
	}
	// the systems go at the same time, so that the wait is one timeout
	// whatever their number
	var wg sync.WaitGroup
	sem := make(chan struct{}, downConcurrency)
	for i := range results {
		if results[i].Err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(r *DownResult) {
			defer wg.Done()
			defer func() { <-sem }()
			*r = downOne(ctx, c, r.GUID, opts)
		}(&results[i])
	}
	wg.Wait()
	return results, joinResults(results)
}

// place is a namespace that holds (part of) a system.
type place struct {
	ns string
	// own is true when Tycho created the namespace for the system: it is
	// labelled with the system's GUID.
	own bool
	// nsMeta and recMeta are the namespace (when own) and the record, as
	// found; nil when there is none.
	nsMeta  *unstructured.Unstructured
	recMeta *unstructured.Unstructured
	// byNamespace is true when the namespace itself is deleted.
	byNamespace bool
	// keptClaims is true when the namespace stays for the claims it holds.
	keptClaims bool
}

// downOne deletes one system.
func downOne(ctx context.Context, c *Client, guid string, opts DownOptions) DownResult {
	r := DownResult{GUID: guid}
	fail := func(err error) DownResult {
		r.Err = fmt.Errorf("system %s: %w", guid, err)
		return r
	}
	places, err := locateAll(ctx, c, guid, opts.Namespace)
	if err != nil {
		return fail(err)
	}
	if len(places) == 0 {
		return fail(ErrNotFound)
	}
	volumes := opts.Volumes
	for _, p := range places {
		for _, o := range []*unstructured.Unstructured{p.nsMeta, p.recMeta} {
			if o != nil && o.GetAnnotations()[AnnotationDeleteVolumes] == "true" && o.GetLabels()[LabelDeleting] != "" {
				volumes = true // asked for by the deletion that marked it
			}
		}
	}
	// 2. the mark, before anything is deleted
	for _, p := range places {
		if err := markPlace(ctx, c, p, opts.Now(), volumes); err != nil {
			return fail(err)
		}
	}
	// 3. bulk deletes
	onlyClaims := true
	for _, p := range places {
		n, claims, err := deletePlace(ctx, c, guid, p, volumes, opts.Wait)
		r.Deleted += n
		if err != nil {
			return fail(err)
		}
		if n > 0 || !claims {
			onlyClaims = false
		}
	}
	if onlyClaims {
		// everything but the volumes is gone already: say how to remove
		// them, and leave no mark behind
		for _, p := range places {
			if err := finishPlace(ctx, c, p); err != nil {
				return fail(err)
			}
		}
		return fail(errors.New("only volumes are left (down --volumes deletes them)"))
	}
	if opts.Started != nil {
		opts.Started(DownResult{GUID: guid, Deleted: r.Deleted, Pending: true})
	}
	if !opts.Wait {
		// the cluster finishes the deletion; the record, kept while Down
		// watched, goes now
		for _, p := range places {
			if err := finishPlace(ctx, c, p); err != nil {
				return fail(err)
			}
		}
		r.Pending = true
		return r
	}
	// 4. wait, then drop the mark
	if err := waitGone(ctx, c, guid, places, volumes, opts); err != nil {
		r.Pending = true
		return fail(err)
	}
	for _, p := range places {
		if err := finishPlace(ctx, c, p); err != nil {
			return fail(err)
		}
	}
	return r
}

// locateAll finds the namespaces that hold the system guid (in only, when
// not ""), sorted by name.
func locateAll(ctx context.Context, c *Client, guid, only string) ([]*place, error) {
	sel := systemSelector(guid)
	byNS := map[string]*place{}
	at := func(ns string) *place {
		if byNS[ns] == nil {
			byNS[ns] = &place{ns: ns}
		}
		return byNS[ns]
	}
	recs, err := c.Dynamic.Resource(gvrConfigMaps).Namespace(only).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(guid)})
	if err != nil {
		return nil, fmt.Errorf("listing the records: %w", err)
	}
	for i := range recs.Items {
		if o := &recs.Items[i]; o.GetName() == RecordName(guid) {
			at(o.GetNamespace()).recMeta = o
		}
	}
	var nss []unstructured.Unstructured
	if only == "" {
		list, err := c.Dynamic.Resource(gvrNamespaces).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		nss = list.Items
	} else {
		n, err := c.Dynamic.Resource(gvrNamespaces).Get(ctx, only, metav1.GetOptions{})
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("reading namespace %s: %w", only, err)
		}
		if err == nil && n.GetLabels()[kubernetes.LabelGUID] == guid && n.GetLabels()[kubernetes.LabelExecutor] == "tycho" {
			nss = append(nss, *n)
		}
	}
	for i := range nss {
		p := at(nss[i].GetName())
		p.own, p.nsMeta = true, &nss[i]
	}
	if len(byNS) == 0 {
		// no record nor namespace: what is left of a cut Up, or a system
		// of the original Tycho
		for _, gvk := range append(append([]schema.GroupVersionKind(nil), deleteKinds...), dependentKinds...) {
			items, _, err := listKind(ctx, c, gvk, only, sel)
			if err != nil {
				return nil, err
			}
			for _, o := range items {
				at(o.GetNamespace())
			}
		}
	}
	out := make([]*place, 0, len(byNS))
	for _, p := range byNS {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ns < out[j].ns })
	return out, nil
}

// markPlace marks the system's record and own namespace, keeping the time
// of an earlier mark.
func markPlace(ctx context.Context, c *Client, p *place, now time.Time, volumes bool) error {
	if p.own && p.nsMeta != nil {
		if err := mark(ctx, c, gvrNamespaces, "", p.nsMeta, now, volumes); err != nil {
			return fmt.Errorf("marking namespace %s: %w", p.ns, err)
		}
	}
	if p.recMeta != nil {
		if err := mark(ctx, c, gvrConfigMaps, p.ns, p.recMeta, now, volumes); err != nil {
			return fmt.Errorf("marking the record in %s: %w", p.ns, err)
		}
	}
	return nil
}

// mark sets the mark on o with a merge patch: its own field manager, so
// that Up's server-side apply of the same object never removes it.
func mark(ctx context.Context, c *Client, gvr schema.GroupVersionResource, ns string, o *unstructured.Unstructured, now time.Time, volumes bool) error {
	at := o.GetLabels()[LabelDeleting]
	if at == "" {
		at = strconv.FormatInt(now.Unix(), 10)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      map[string]string{LabelDeleting: at},
		"annotations": map[string]string{AnnotationDeleteVolumes: strconv.FormatBool(volumes)},
	}})
	if err != nil {
		return err
	}
	_, err = c.Dynamic.Resource(gvr).Namespace(ns).Patch(ctx, o.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: deleteManager})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deleteManager is the field manager of the mark.
const deleteManager = "tycho-delete"

// unmark removes the mark of a namespace that stays.
func unmark(ctx context.Context, c *Client, ns string) error {
	patch := []byte(`{"metadata":{"labels":{"` + LabelDeleting + `":null},"annotations":{"` + AnnotationDeleteVolumes + `":null}}}`)
	_, err := c.Dynamic.Resource(gvrNamespaces).Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: deleteManager})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deletePlace sends the bulk deletes of the system in one namespace. It
// returns how many of Tycho's objects it deletes (the namespace included)
// and whether claims are kept. keepRecord keeps the system's record, and
// so its mark, until finishPlace.
func deletePlace(ctx context.Context, c *Client, guid string, p *place, volumes, keepRecord bool) (int, bool, error) {
	sel := systemSelector(guid)
	counts := map[schema.GroupVersionKind]int{}
	n, claims := 0, 0
	for _, gvk := range deleteKinds {
		items, _, err := listKind(ctx, c, gvk, p.ns, sel)
		if err != nil {
			return 0, false, err
		}
		for _, o := range items {
			if o.GetDeletionTimestamp() != nil {
				continue // going already
			}
			counts[gvk]++
			switch {
			case gvk == gvkPVC:
				claims++
				if volumes {
					n++
				}
			case gvk == gvkConfigMap && o.GetName() == RecordName(guid):
				// the record is counted, but deleted last
				n++
			default:
				n++
			}
		}
	}
	if p.own && (volumes || claims == 0) {
		p.byNamespace = true
		if p.nsMeta == nil || p.nsMeta.GetDeletionTimestamp() == nil {
			n++
		}
		if err := deleteBackground(ctx, c.Dynamic.Resource(gvrNamespaces), p.ns); err != nil {
			return n, false, fmt.Errorf("deleting namespace %s: %w", p.ns, err)
		}
		return n, false, nil
	}
	p.keptClaims = p.own && claims > 0
	kinds := map[schema.GroupVersionKind]bool{}
	for gvk, k := range counts {
		kinds[gvk] = k > 0
	}
	if err := deleteKindsIn(ctx, c, guid, p.ns, kinds, volumes, keepRecord); err != nil {
		return n, false, err
	}
	return n, claims > 0 && !volumes, nil
}

// deleteKindsIn deletes, in ns, the objects of the system guid of each
// kind for which kinds is true (all when kinds is nil), with one
// collection delete per kind, workloads first. PersistentVolumeClaims go
// only with volumes; with keepRecord, the system's record stays.
func deleteKindsIn(ctx context.Context, c *Client, guid, ns string, kinds map[schema.GroupVersionKind]bool, volumes, keepRecord bool) error {
	var errs []error
	for i := len(deleteKinds) - 1; i >= 0; i-- {
		gvk := deleteKinds[i]
		if kinds != nil && !kinds[gvk] || gvk == gvkPVC && !volumes {
			continue
		}
		m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mapping %s: %w", gvk.Kind, err)
		}
		sel := systemSelector(guid)
		if gvk == gvkConfigMap && keepRecord {
			sel += "," + kubernetes.LabelComponent + "!=" + RecordComponent
		}
		bg := metav1.DeletePropagationBackground
		err = c.Dynamic.Resource(m.Resource).Namespace(ns).DeleteCollection(ctx,
			metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{LabelSelector: sel})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting the %s of the system in %s: %w", m.Resource.Resource, ns, err))
			if !isAPIStatus(err) {
				break // the server is out of reach: the others would fail alike
			}
		}
	}
	return errors.Join(errs...)
}

// finishPlace deletes the record of a system in a namespace that is not
// deleted with it, and unmarks an own namespace that stays for its claims.
func finishPlace(ctx context.Context, c *Client, p *place) error {
	if p.byNamespace {
		return nil // the namespace, mark and record included, is going
	}
	if p.recMeta != nil {
		if err := deleteBackground(ctx, c.Dynamic.Resource(gvrConfigMaps).Namespace(p.ns), p.recMeta.GetName()); err != nil {
			return fmt.Errorf("deleting the record in %s: %w", p.ns, err)
		}
	}
	if p.own {
		if err := unmark(ctx, c, p.ns); err != nil {
			return fmt.Errorf("unmarking namespace %s: %w", p.ns, err)
		}
	}
	return nil
}

// deleteBackground deletes an object and lets the garbage collector
// delete its dependents. An object that is gone already is no error.
func deleteBackground(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	bg := metav1.DeletePropagationBackground
	err := ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deleteRank is the apply order of a kind; deletions go in reverse.
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

// waitGone waits, at most opts.Timeout, until the deleted namespaces are
// gone and no object of the deleted kinds, nor pods, ReplicaSets or
// EndpointSlices, carries the system's labels elsewhere (PVCs kept aside,
// and the record, which goes last). An object that is not being deleted
// (made by an Up that had not yet seen the mark) is deleted again.
func waitGone(ctx context.Context, c *Client, guid string, places []*place, volumes bool, opts DownOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sel := systemSelector(guid)
	kinds := append(append([]schema.GroupVersionKind(nil), deleteKinds...), dependentKinds...)
	var left []string
	err := poll(ctx, opts.PollInterval, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, p := range places {
			if p.byNamespace {
				_, err := c.Dynamic.Resource(gvrNamespaces).Get(ctx, p.ns, metav1.GetOptions{})
				switch {
				case err == nil:
					left = append(left, "Namespace/"+p.ns)
				case !isNotFound(err):
					return false, fmt.Errorf("reading namespace %s: %w", p.ns, err)
				}
				continue
			}
			again := map[schema.GroupVersionKind]bool{}
			for _, gvk := range kinds {
				if gvk == gvkPVC && !volumes {
					continue
				}
				items, _, err := listKind(ctx, c, gvk, p.ns, sel)
				if err != nil {
					return false, err
				}
				for _, o := range items {
					if gvk == gvkConfigMap && o.GetName() == RecordName(guid) {
						continue
					}
					left = append(left, gvk.Kind+" "+o.GetNamespace()+"/"+o.GetName())
					if o.GetDeletionTimestamp() == nil && deleteRank(gvk.Kind) < len(deleteKinds) {
						again[gvk] = true
					}
				}
			}
			if len(again) > 0 {
				if err := deleteKindsIn(ctx, c, guid, p.ns, again, volumes, true); err != nil {
					return false, err
				}
			}
		}
		return len(left) == 0, nil
	})
	if err != nil && ctx.Err() != nil && len(left) > 0 {
		sort.Strings(left)
		n := len(left)
		if n > 5 {
			left = append(left[:5], fmt.Sprintf("and %d more", n-5))
		}
		return fmt.Errorf("still deleting after %s (%s); it stays marked deleting, and tycho down %s finishes it", opts.Timeout, strings.Join(left, ", "), guid)
	}
	return err
}

// Marked lists the GUIDs of the systems marked deleting (in ns only, when
// not ""), sorted: those whose deletion was cut short, for a server that
// starts to finish them. It makes two list calls.
func Marked(ctx context.Context, c *Client, ns string) ([]string, error) {
	sel := systemSelector("") + "," + LabelDeleting
	found := map[string]bool{}
	recs, err := c.Dynamic.Resource(gvrConfigMaps).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel + "," + kubernetes.LabelComponent + "=" + RecordComponent})
	if err != nil {
		return nil, fmt.Errorf("listing the systems being deleted: %w", err)
	}
	for _, o := range recs.Items {
		found[o.GetLabels()[kubernetes.LabelGUID]] = true
	}
	if ns == "" {
		nss, err := c.Dynamic.Resource(gvrNamespaces).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil && !apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("listing the namespaces being deleted: %w", err)
		}
		if err == nil {
			for _, o := range nss.Items {
				found[o.GetLabels()[kubernetes.LabelGUID]] = true
			}
		}
	}
	out := make([]string, 0, len(found))
	for g := range found {
		if ValidateGUID(g) == nil {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out, nil
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
