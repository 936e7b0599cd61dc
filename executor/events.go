package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// EventsOptions are everything Events takes.
type EventsOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
}

// ClusterEvent is a Kubernetes Event about an object of a system.
type ClusterEvent struct {
	// Type is Normal or Warning.
	Type   string `json:"type"`
	Reason string `json:"reason"`
	// Object is "Kind/name" of the object the event is about.
	Object  string `json:"object"`
	Message string `json:"message"`
	// Count is how many times it happened; First and Last when.
	Count int32     `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Events lists the Events of a system, oldest first: all those of its
// namespace when Tycho made the namespace for it, else those about its
// objects (of the kinds Tycho emits, their pods and ReplicaSets, by the
// system's GUID label), so that another system's or another team's do not
// show in a shared namespace.
func Events(ctx context.Context, c *Client, opts EventsOptions) ([]ClusterEvent, error) {
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return nil, err
	}
	list, err := c.Kube.CoreV1().Events(loc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the events of namespace %s: %w", loc.Namespace, err)
	}
	var ours map[string]bool
	if !loc.OwnNamespace {
		if ours, err = objectNames(ctx, c, loc.Namespace, opts.GUID); err != nil {
			return nil, err
		}
	}
	out := []ClusterEvent{}
	for _, e := range list.Items {
		obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		if ours != nil && !ours[obj] {
			continue
		}
		count := e.Count
		if e.Series != nil && e.Series.Count > count {
			count = e.Series.Count
		}
		if count == 0 {
			count = 1
		}
		first := e.FirstTimestamp.Time
		if first.IsZero() {
			first = e.EventTime.Time
		}
		if first.IsZero() {
			first = e.CreationTimestamp.Time
		}
		out = append(out, ClusterEvent{Type: e.Type, Reason: e.Reason, Object: obj, Message: strings.TrimSpace(e.Message),
			Count: count, First: first, Last: lastSeen(e)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Last.Equal(out[j].Last) {
			return out[i].Last.Before(out[j].Last)
		}
		return out[i].Object < out[j].Object
	})
	return out, nil
}

// lastSeen is when an event last happened.
func lastSeen(e corev1.Event) time.Time {
	if e.Series != nil && !e.Series.LastObservedTime.IsZero() {
		return e.Series.LastObservedTime.Time
	}
	return eventTime(e)
}

// objectNames are "Kind/name" of the objects in ns labelled with guid, of
// the kinds Tycho emits and those made from them.
func objectNames(ctx context.Context, c *Client, ns, guid string) (map[string]bool, error) {
	sel := kubernetes.LabelGUID + "=" + guid
	out := map[string]bool{}
	kinds := append(append([]schema.GroupVersionKind(nil), deleteKinds...), dependentKinds...)
	for _, gvk := range kinds {
		objs, _, err := listKind(ctx, c, gvk, ns, sel)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			out[gvk.Kind+"/"+o.GetName()] = true
		}
	}
	return out, nil
}
