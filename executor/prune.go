package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stale lists the objects of the system in its namespace that items no
// longer has: those of the kinds Tycho emits that carry the system's
// labels (executor=tycho and its GUID), but for its record, and for its
// PersistentVolumeClaims unless PruneVolumes. They are in delete order:
// workloads before what they use.
func (u *up) stale(ctx context.Context, items []item) ([]target, error) {
	keep := map[string]bool{objKey(gvrConfigMaps, RecordName(u.opts.GUID)): true}
	for _, it := range items {
		keep[it.key()] = true
	}
	sel := systemSelector(u.opts.GUID)
	var out []target
	for _, gvk := range deleteKinds {
		if gvk == gvkPVC && !u.opts.PruneVolumes {
			continue
		}
		objs, gvr, err := listKind(ctx, u.c, gvk, u.ns, sel)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if !keep[objKey(gvr, o.GetName())] {
				out = append(out, target{gvr: gvr, kind: gvk.Kind, ns: u.ns, name: o.GetName()})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := deleteRank(out[i].kind), deleteRank(out[j].kind); ri != rj {
			return ri > rj
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// prune deletes the stale objects of the system, foreground so that their
// pods go first, and with Wait waits until they are gone. It runs once the
// new objects are applied and ready: an update that fails leaves the old
// ones in place, and is rolled back to them.
func (u *up) prune(ctx context.Context, items []item) error {
	stale, err := u.stale(ctx, items)
	if err != nil {
		return fmt.Errorf("pruning system %s: %w", u.opts.GUID, err)
	}
	var errs []error
	var deleted []target
	for _, t := range stale {
		if err := deleteForeground(ctx, u.c.Dynamic.Resource(t.gvr).Namespace(t.ns), t.name); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", t.id(), err))
			continue
		}
		deleted = append(deleted, t)
		if u.opts.Pruned != nil {
			u.opts.Pruned(t.id())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pruning system %s: %w", u.opts.GUID, errors.Join(errs...))
	}
	if !u.opts.Wait || len(deleted) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, u.opts.Timeout)
	defer cancel()
	var left []string
	err = poll(wctx, u.opts.PollInterval, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, t := range deleted {
			_, err := u.c.Dynamic.Resource(t.gvr).Namespace(t.ns).Get(ctx, t.name, metav1.GetOptions{})
			switch {
			case err == nil:
				left = append(left, t.id())
			case !isNotFound(err):
				return false, err
			}
		}
		return len(left) == 0, nil
	})
	if err != nil && wctx.Err() != nil && len(left) > 0 {
		return fmt.Errorf("pruning system %s: not gone after %s: %s", u.opts.GUID, u.opts.Timeout, strings.Join(left, ", "))
	}
	if err != nil {
		return fmt.Errorf("pruning system %s: %w", u.opts.GUID, err)
	}
	return nil
}
