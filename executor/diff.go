package executor

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// DiffOptions are everything Diff takes: what Up would take to update the
// system.
type DiffOptions struct {
	// System is the system's (compose project) name.
	System string
	// SecurityLevel is the Pod Security level of a namespace Tycho creates.
	SecurityLevel string
	// Objects are the compiled objects, in apply order, labelled with GUID.
	Objects []kubernetes.Object
	// GUID identifies the system.
	GUID string
	// Namespace holds the system; "" means NamespaceFor(System, GUID),
	// created by Tycho.
	Namespace string
	// CreateNamespace makes Tycho own Namespace, as for Up.
	CreateNamespace bool
	// PruneVolumes counts the PersistentVolumeClaims Up would prune.
	PruneVolumes bool
	// Concurrency bounds the parallel dry-run applies (0: 8).
	Concurrency int
}

// Change is what an update would do to an object.
type Change string

// The changes Diff reports.
const (
	ChangeCreate Change = "create"
	ChangeUpdate Change = "update"
	ChangePrune  Change = "prune"
)

// ObjectDiff is the change of one object. Live and Want are the object
// as YAML before and after, without the fields the server keeps for
// itself (managedFields, resourceVersion, uid, generation,
// creationTimestamp, status) and with the values of Secrets masked.
type ObjectDiff struct {
	// Object is "Kind namespace/name", or "Kind/name" for a Namespace.
	Object string `json:"object"`
	Change Change `json:"change"`
	// Live is "" for an object to create, Want "" for one to prune.
	Live string `json:"live,omitempty"`
	Want string `json:"want,omitempty"`
}

// Diff tells what Up with the same options would change: each object is
// server-side applied with dryRun=All under Tycho's field manager, so that
// the API server's defaults, admission and merge are those of a real
// update, and compared with the live object; the objects of the system
// that Objects no longer has are those Up would prune. Unchanged objects
// are left out, so no ObjectDiff means no change. The record of the
// system, which Tycho keeps for itself, is not compared. The namespace,
// when Tycho owns it, is. Diff fails as Up would on an object the server
// rejects or that another system owns.
func Diff(ctx context.Context, c *Client, opts DiffOptions) ([]ObjectDiff, error) {
	uo := UpOptions{System: opts.System, SecurityLevel: opts.SecurityLevel, Objects: opts.Objects, GUID: opts.GUID,
		Namespace: opts.Namespace, CreateNamespace: opts.CreateNamespace, PruneVolumes: opts.PruneVolumes, Concurrency: opts.Concurrency}
	if err := uo.normalize(); err != nil {
		return nil, err
	}
	u := &up{c: c, opts: uo, ns: uo.Namespace}
	items, err := u.items()
	if err != nil {
		return nil, err
	}
	nsItem, nsExists, err := u.namespace(ctx)
	if err != nil {
		return nil, err
	}
	if nsExists {
		if _, err := u.existing(ctx, items); err != nil {
			return nil, err
		}
	}
	all := items
	if nsItem != nil {
		all = append([]item{*nsItem}, items...)
	}
	diffs := make([]*ObjectDiff, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, uo.Concurrency)
	for i, it := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// objects of a namespace yet to be made cannot be dry-run
			diffs[i], errs[i] = u.diffItem(ctx, it, nsExists || !it.namespaced())
		}()
	}
	wg.Wait()
	var out []ObjectDiff
	for i, d := range diffs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	if !nsExists {
		return out, nil
	}
	stale, err := u.stale(ctx, items)
	if err != nil {
		return nil, err
	}
	for _, t := range stale {
		live, err := c.Dynamic.Resource(t.gvr).Namespace(t.ns).Get(ctx, t.name, metav1.GetOptions{})
		if isNotFound(err) {
			continue // gone since the list
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", t.id(), err)
		}
		l, _, err := comparableYAML(live, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ObjectDiff{Object: t.id(), Change: ChangePrune, Live: l})
	}
	return out, nil
}

// diffItem compares the object of it with the live one; nil when they are
// the same. Without dryRun, an object to create is shown as compiled.
func (u *up) diffItem(ctx context.Context, it item, dryRun bool) (*ObjectDiff, error) {
	live, err := u.c.resource(it).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
	switch {
	case isNotFound(err):
		live = nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", it.id(), err)
	}
	want := it.obj
	if dryRun {
		if want, err = u.c.patch(ctx, it, true); err != nil {
			return nil, fmt.Errorf("%s: %w", it.id(), err)
		}
	}
	if live == nil {
		_, w, err := comparableYAML(nil, want)
		if err != nil {
			return nil, err
		}
		return &ObjectDiff{Object: it.id(), Change: ChangeCreate, Want: w}, nil
	}
	l, w, err := comparableYAML(live, want)
	if err != nil || l == w {
		return nil, err
	}
	return &ObjectDiff{Object: it.id(), Change: ChangeUpdate, Live: l, Want: w}, nil
}

// serverFields are the metadata the API server keeps for itself: they
// change with every write and say nothing about the object.
var serverFields = []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"}

// comparableYAML prints live and want (either may be nil) as YAML without the
// server's fields and status, the values of Secrets masked as kubectl diff
// does: "***" when the same before and after, else "*** (before)" and
// "*** (after)".
func comparableYAML(live, want *unstructured.Unstructured) (string, string, error) {
	clean := func(u *unstructured.Unstructured) map[string]any {
		if u == nil {
			return nil
		}
		m := u.DeepCopy().Object
		delete(m, "status")
		if md, ok := m["metadata"].(map[string]any); ok {
			for _, f := range serverFields {
				delete(md, f)
			}
		}
		return m
	}
	l, w := clean(live), clean(want)
	if (live != nil && live.GetKind() == "Secret") || (want != nil && want.GetKind() == "Secret") {
		maskSecret(l, w)
	}
	printYAML := func(m map[string]any) (string, error) {
		if m == nil {
			return "", nil
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			return "", fmt.Errorf("printing %v: %w", m["kind"], err)
		}
		return string(b), nil
	}
	ls, err := printYAML(l)
	if err != nil {
		return "", "", err
	}
	ws, err := printYAML(w)
	return ls, ws, err
}

// maskSecret replaces the values of data and stringData in the two
// versions of a Secret (either may be nil).
func maskSecret(live, want map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		l, _ := live[field].(map[string]any)
		w, _ := want[field].(map[string]any)
		for k, lv := range l {
			wv, ok := w[k]
			switch {
			case !ok:
				l[k] = "***"
			case fmt.Sprint(lv) == fmt.Sprint(wv):
				l[k], w[k] = "***", "***"
			default:
				l[k], w[k] = "*** (before)", "*** (after)"
			}
		}
		for k := range w {
			if _, ok := l[k]; !ok {
				w[k] = "***"
			}
		}
	}
}

// Unified prints d as a unified diff with three lines of context, headed
// --- live/<object> and +++ tycho/<object> (/dev/null for the side that
// does not exist).
func (d ObjectDiff) Unified() string {
	from, to := "live/"+d.Object, "tycho/"+d.Object
	switch d.Change {
	case ChangeCreate:
		from = "/dev/null"
	case ChangePrune:
		to = "/dev/null"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", from, to)
	b.WriteString(unified(splitLines(d.Live), splitLines(d.Want), 3))
	return b.String()
}
