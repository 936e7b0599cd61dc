package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// item is one object to apply, with its resource.
type item struct {
	obj     *unstructured.Unstructured
	mapping *meta.RESTMapping
}

// id names the object for messages: "Kind/name" or "Kind namespace/name".
func (it item) id() string {
	if ns := it.obj.GetNamespace(); ns != "" {
		return it.obj.GetKind() + " " + ns + "/" + it.obj.GetName()
	}
	return it.obj.GetKind() + "/" + it.obj.GetName()
}

// key identifies the object within a namespace.
func (it item) key() string { return objKey(it.mapping.Resource, it.obj.GetName()) }

func objKey(gvr schema.GroupVersionResource, name string) string {
	return gvr.Resource + "." + gvr.Group + "/" + name
}

func (it item) namespaced() bool {
	return it.mapping.Scope.Name() == meta.RESTScopeNameNamespace
}

// resource is the client of it's resource in its namespace.
func (c *Client) resource(it item) dynamic.ResourceInterface {
	if it.namespaced() {
		return c.Dynamic.Resource(it.mapping.Resource).Namespace(it.obj.GetNamespace())
	}
	return c.Dynamic.Resource(it.mapping.Resource)
}

// toItem converts a typed object into an apply configuration: without the
// fields a server sets (creationTimestamp, status) and without nulls.
func (c *Client) toItem(obj runtime.Object) (item, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return item{}, fmt.Errorf("converting %T: %w", obj, err)
	}
	prune(m)
	delete(m, "status")
	u := &unstructured.Unstructured{Object: m}
	gvk := u.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return item{}, fmt.Errorf("object %q has no apiVersion or kind", u.GetName())
	}
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return item{}, fmt.Errorf("%s/%s: %w", gvk.Kind, u.GetName(), err)
	}
	return item{obj: u, mapping: mapping}, nil
}

// prune drops null values (creationTimestamp: null and the like), which
// an apply configuration must not carry.
func prune(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}

// apply server-side applies one object, forcing Tycho's ownership of its
// fields, with strict field validation.
func (c *Client) apply(ctx context.Context, it item) error {
	_, err := c.patch(ctx, it, false)
	return err
}

// patch is apply, or with dryRun the API server's answer to the apply
// without persisting it (dryRun=All): the object as it would be.
func (c *Client) patch(ctx context.Context, it item, dryRun bool) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(it.obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", it.id(), err)
	}
	force := true
	opts := metav1.PatchOptions{
		FieldManager:    FieldManager,
		Force:           &force,
		FieldValidation: metav1.FieldValidationStrict,
	}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return c.resource(it).Patch(ctx, it.obj.GetName(), types.ApplyPatchType, data, opts)
}

// applyFailure is an object the API server did not accept.
type applyFailure struct {
	object string
	err    error
}

// applyGroups applies items in order, the objects of a run of one kind
// concurrently (at most limit at a time). It stops after the first run with
// a failure; done is called for every applied object. before, when not
// nil, is called before each run: an error stops it there.
func (c *Client) applyGroups(ctx context.Context, items []item, limit int, done func(item), before func() error) []applyFailure {
	if limit < 1 {
		limit = 1
	}
	for start := 0; start < len(items); {
		if before != nil {
			if err := before(); err != nil {
				return []applyFailure{{object: items[start].id(), err: err}}
			}
		}
		end := start + 1
		for end < len(items) && items[end].obj.GroupVersionKind() == items[start].obj.GroupVersionKind() {
			end++
		}
		var (
			mu       sync.Mutex
			wg       sync.WaitGroup
			failures []applyFailure
			sem      = make(chan struct{}, limit)
		)
		for _, it := range items[start:end] {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				err := c.apply(ctx, it)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, applyFailure{object: it.id(), err: err})
					return
				}
				done(it)
			}()
		}
		wg.Wait()
		if len(failures) > 0 {
			return failures
		}
		start = end
	}
	return nil
}

// deleteForeground deletes an object and, first, its dependents. An
// object that is gone already is no error.
func deleteForeground(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	fg := metav1.DeletePropagationForeground
	err := ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if isNotFound(err) {
		return nil
	}
	return err
}
