package netpol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Decode reads Kubernetes objects from a stream of "---"-separated YAML
// documents, or from JSON (one object, or a v1 List of them). The kinds
// this package reasons about (NetworkPolicy, Pod, Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job, Namespace) are decoded strictly into their
// typed structs, so that a field the API does not know is an error; other
// kinds come back as *metav1.PartialObjectMetadata.
func Decode(data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []runtime.Object
	var errs []error
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		objs, err := decodeOne(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		out = append(out, objs...)
	}
	return out, errors.Join(errs...)
}

func decodeOne(doc []byte) ([]runtime.Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	if tm.Kind == "" {
		// a comment-only document, or an empty one
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err == nil && len(m) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("no kind")
	}
	var obj runtime.Object
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 List":
		var list struct {
			Items []rawItem `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			return nil, err
		}
		var out []runtime.Object
		for i, it := range list.Items {
			objs, err := decodeOne(it)
			if err != nil {
				return out, fmt.Errorf("item %d: %w", i, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "v1 Pod":
		obj = &corev1.Pod{}
	case "v1 Namespace":
		obj = &corev1.Namespace{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "apps/v1 StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "apps/v1 DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "apps/v1 ReplicaSet":
		obj = &appsv1.ReplicaSet{}
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	default:
		obj = &metav1.PartialObjectMetadata{}
		return []runtime.Object{obj}, yaml.Unmarshal(doc, obj)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return []runtime.Object{obj}, nil
}

// rawItem is a raw item of a List, kept as bytes for a second decode.
type rawItem []byte

// UnmarshalJSON keeps the raw item.
func (j *rawItem) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

// Policies returns the NetworkPolicies among objs, in their order.
func Policies(objs []runtime.Object) []networkingv1.NetworkPolicy {
	var out []networkingv1.NetworkPolicy
	for _, o := range objs {
		if np, ok := o.(*networkingv1.NetworkPolicy); ok {
			out = append(out, *np)
		}
	}
	return out
}

// Workload is a pod that a workload object would run, as an endpoint, with
// what tests want to know of it beside its labels.
type Workload struct {
	Endpoint
	// Kind and Object name the workload ("Deployment", "web").
	Kind, Object string
	// Ports are the container ports of its containers (not of init
	// containers), sorted.
	Ports []corev1.ContainerPort
	// HostNetwork is true when the pod uses the node's network (policies
	// then usually do not apply to it; see the package doc).
	HostNetwork bool
}

// Pods returns one endpoint per workload (Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job) or bare Pod among objs: the pods it runs have
// its template's labels and its namespace. Replicas are not told apart:
// they have the same labels, so policies treat them alike.
func Pods(objs []runtime.Object) []Workload {
	var out []Workload
	add := func(kind string, meta metav1.ObjectMeta, tmplMeta metav1.ObjectMeta, spec corev1.PodSpec) {
		w := Workload{Endpoint: Pod(meta.Namespace, kind+"/"+meta.Name, tmplMeta.Labels), Kind: kind, Object: meta.Name, HostNetwork: spec.HostNetwork}
		for _, c := range spec.Containers {
			w.Ports = append(w.Ports, c.Ports...)
		}
		sort.Slice(w.Ports, func(i, j int) bool {
			if w.Ports[i].ContainerPort != w.Ports[j].ContainerPort {
				return w.Ports[i].ContainerPort < w.Ports[j].ContainerPort
			}
			return w.Ports[i].Protocol < w.Ports[j].Protocol
		})
		out = append(out, w)
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			add("Deployment", x.ObjectMeta, x.Spec.Template.ObjectMeta, x.Spec.Template.Spec)
		case *appsv1.StatefulSet:
			add("StatefulSet", x.ObjectMeta, x.Spec.Template.ObjectMeta, x.Spec.Template.Spec)
		case *appsv1.DaemonSet:
			add("DaemonSet", x.ObjectMeta, x.Spec.Template.ObjectMeta, x.Spec.Template.Spec)
		case *appsv1.ReplicaSet:
			add("ReplicaSet", x.ObjectMeta, x.Spec.Template.ObjectMeta, x.Spec.Template.Spec)
		case *batchv1.Job:
			add("Job", x.ObjectMeta, x.Spec.Template.ObjectMeta, x.Spec.Template.Spec)
		case *corev1.Pod:
			add("Pod", x.ObjectMeta, x.ObjectMeta, x.Spec)
		}
	}
	return out
}

// NamespaceLabels returns the labels of the Namespace objects among objs,
// by name, for New.
func NamespaceLabels(objs []runtime.Object) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range objs {
		if ns, ok := o.(*corev1.Namespace); ok {
			out[ns.Name] = ns.Labels
		}
	}
	return out
}
