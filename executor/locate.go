package executor

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// Location is where a started system is.
type Location struct {
	// Namespace holds the system's objects.
	Namespace string
	// OwnNamespace is true when Tycho created the namespace for the
	// system: everything in it is the system's.
	OwnNamespace bool
}

// Locate finds the namespace of the system guid (in ns only, when not
// ""): from its record, else, for a system without one (the original
// Tycho's, or one whose Up was cut short), from its pods and workloads.
// A system that has none of these is ErrNotFound.
func Locate(ctx context.Context, c *Client, guid, ns string) (Location, error) {
	if err := ValidateGUID(guid); err != nil {
		return Location{}, err
	}
	recs, err := c.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(guid)})
	if err != nil {
		return Location{}, fmt.Errorf("looking for system %s: %w", guid, err)
	}
	if len(recs.Items) > 0 {
		// one record per system; the first by namespace should two exist
		items := recs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].Namespace < items[j].Namespace })
		return Location{Namespace: items[0].Namespace, OwnNamespace: items[0].Data[keyOwnNamespace] == "true"}, nil
	}
	opts := metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid}
	found := ""
	if pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, opts); err != nil {
		return Location{}, fmt.Errorf("looking for system %s: %w", guid, err)
	} else if len(pods.Items) > 0 {
		found = pods.Items[0].Namespace
	}
	if found == "" {
		ws, err := workloads(ctx, c, ns, opts.LabelSelector)
		if err != nil {
			return Location{}, fmt.Errorf("looking for system %s: %w", guid, err)
		}
		if list := ws[guid]; len(list) > 0 {
			found = list[0].meta.Namespace
		}
	}
	if found == "" {
		return Location{}, fmt.Errorf("system %s: %w", guid, ErrNotFound)
	}
	loc := Location{Namespace: found}
	if n, err := c.Kube.CoreV1().Namespaces().Get(ctx, found, metav1.GetOptions{}); err == nil {
		loc.OwnNamespace = n.Labels[kubernetes.LabelGUID] == guid
	}
	return loc, nil
}
