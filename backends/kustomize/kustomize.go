// Package kustomize is the Kustomize output format: a base holding the
// objects of `tycho compile`, one file per object in apply order, and an
// example overlay that shows the overrides users make most (image tag,
// replicas, namespace).
//
// The base is the manifests format's files and a kustomization.yaml that
// lists them with `sortOptions: {order: fifo}`, so that `kubectl kustomize
// base` prints the same objects in the same order as `tycho compile`
// (kustomize's default order puts kinds in an order of its own).
package kustomize

import (
	"fmt"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/pkg/util"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/backends/manifests"
)

// Format is the kustomize format.
type Format struct{}

var _ backends.Format = Format{}

// Base and Overlay are the directories of the output.
const (
	Base    = "base"
	Overlay = "overlays/example"
)

// KustomizationFile is the name of a kustomization in its directory.
const KustomizationFile = "kustomization.yaml"

// Name is "kustomize".
func (Format) Name() string { return "kustomize" }

// Files gives base/ (the objects and their kustomization) and
// overlays/example/ (a kustomization of base/ with example overrides).
func (Format) Files(in backends.Input, opts backends.Options) ([]backends.File, error) {
	objs, err := manifests.Format{}.Files(in, opts)
	if err != nil {
		return nil, err
	}
	base := BaseKustomization(objs)
	baseYAML, err := marshal(baseHeader, base)
	if err != nil {
		return nil, err
	}
	files := make([]backends.File, 0, len(objs)+2)
	files = append(files, backends.File{Name: path.Join(Base, KustomizationFile), Data: baseYAML})
	for _, f := range objs {
		files = append(files, backends.File{Name: path.Join(Base, f.Name), Data: f.Data})
	}
	ov, ex := ExampleOverlay(in)
	ovYAML, err := marshal(ex.comment(), ov)
	if err != nil {
		return nil, err
	}
	files = append(files, backends.File{Name: path.Join(Overlay, KustomizationFile), Data: ovYAML})
	return files, nil
}

const baseHeader = `# The objects of tycho compile, one file per object in apply order.
# kubectl kustomize prints them in this order (sortOptions: fifo), the
# same objects as tycho compile with the same flags; change them in an
# overlay (see ../overlays/example), not here: a new compile replaces this
# directory.
`

// BaseKustomization lists the object files in the order given, which is
// the apply order, and keeps that order in kustomize's output.
func BaseKustomization(objs []backends.File) *types.Kustomization {
	k := &types.Kustomization{
		TypeMeta:    types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		SortOptions: &types.SortOptions{Order: types.FIFOSortOrder},
		Resources:   make([]string, 0, len(objs)),
	}
	for _, f := range objs {
		k.Resources = append(k.Resources, f.Name)
	}
	return k
}

// Example says what the example overlay changes, for its comment and for
// tests.
type Example struct {
	// Namespace is the namespace every object moves to.
	Namespace string
	// NamespaceObject is the base's Namespace object, which the overlay
	// renames to Namespace; empty when the base has none.
	NamespaceObject string
	// Deployment is the Deployment whose replicas and image tag the
	// overlay changes; empty when the system has none with an image.
	Deployment string
	// Image is the image name (without tag or digest) whose tag changes,
	// Tag the new tag and Replicas the new number of replicas.
	Image, Tag string
	Replicas   int64
	// Shared is true when containers other than the Deployment's run the
	// image too: the override changes them all.
	Shared bool
}

// ExampleTag is the tag the example overlay sets: a placeholder that says
// what it is in any pod listing.
const ExampleTag = "example"

// ExampleOverlay is the example overlay of the base: every object in a
// namespace of its own and, for one Deployment, a new image tag and one
// replica more. The Deployment is the first of the system's (by name) that
// holds no claim and runs an image no other container runs, else the first
// that holds no claim, else the first with an image of its own, else the
// first; a system without Deployments gets the namespace override alone.
func ExampleOverlay(in backends.Input) (*types.Kustomization, Example) {
	var ex Example
	ns := in.System.Namespace
	if ns == "" {
		ns = in.System.Name
	}
	ex.Namespace = kubernetes.DNSLabel(ns+"-example", 63)
	images := map[string]int{} // image name → containers running it
	var deployments []*appsv1.Deployment
	for _, o := range in.Objects {
		for _, c := range containers(o) {
			name, _, _ := util.SplitImageName(c.Image)
			images[name]++
		}
		switch o := o.(type) {
		case *corev1.Namespace:
			ex.NamespaceObject = o.Name
		case *appsv1.Deployment:
			if cs := o.Spec.Template.Spec.Containers; len(cs) > 0 && cs[0].Image != "" {
				deployments = append(deployments, o)
			}
		}
	}
	// the first Deployment, unless a later one suits an example better:
	// more replicas of a Deployment holding a claim may not start (a
	// ReadWriteOnce volume on another node), and a tag override of an
	// image other containers run changes them too
	var pick *appsv1.Deployment
	best := -1
	for _, d := range deployments {
		score := 0
		if !holdsClaim(d) {
			score += 2
		}
		if name, _, _ := util.SplitImageName(d.Spec.Template.Spec.Containers[0].Image); images[name] == 1 {
			score++
		}
		if score > best {
			pick, best = d, score
		}
	}
	k := &types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Namespace: ex.Namespace,
		// the order is decided by the kustomization that is built: the
		// base's fifo holds only when the base is built alone
		SortOptions: &types.SortOptions{Order: types.FIFOSortOrder},
		Resources:   []string{"../../" + Base},
	}
	if pick != nil {
		ex.Deployment = pick.Name
		ex.Image, _, _ = util.SplitImageName(pick.Spec.Template.Spec.Containers[0].Image)
		ex.Shared = images[ex.Image] > 1
		ex.Tag = ExampleTag
		ex.Replicas = 1
		if r := pick.Spec.Replicas; r != nil {
			ex.Replicas = int64(*r) + 1
		}
		k.Images = []types.Image{{Name: ex.Image, NewTag: ex.Tag}}
		k.Replicas = []types.Replica{{Name: ex.Deployment, Count: ex.Replicas}}
	}
	return k, ex
}

// holdsClaim tells whether the pods of d mount a PersistentVolumeClaim.
func holdsClaim(d *appsv1.Deployment) bool {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return true
		}
	}
	return false
}

// containers are the containers and init containers of a workload.
func containers(o kubernetes.Object) []corev1.Container {
	var spec *corev1.PodSpec
	switch o := o.(type) {
	case *appsv1.Deployment:
		spec = &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		spec = &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		spec = &o.Spec.Template.Spec
	case *batchv1.Job:
		spec = &o.Spec.Template.Spec
	case *batchv1.CronJob:
		spec = &o.Spec.JobTemplate.Spec.Template.Spec
	case *corev1.Pod:
		spec = &o.Spec
	default:
		return nil
	}
	return append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
}

// comment is the overlay's README: what it is, how to use it, and what
// each override does.
func (ex Example) comment() string {
	paras := []string{
		"An example overlay of the base in ../../base. Copy this directory, change the values, and build or apply it:",
		"  kubectl kustomize overlays/example",
		"  kubectl apply --server-side -k overlays/example",
		"Keep your own overlays out of the directory tycho compile writes (a new compile replaces all of it, this example too) and point them at its base.",
		"",
	}
	if ex.NamespaceObject != "" {
		paras = append(paras, fmt.Sprintf("namespace: every object moves to %s. The base's Namespace %s is renamed with it, so applying the overlay creates it.", ex.Namespace, ex.NamespaceObject))
	} else {
		paras = append(paras, fmt.Sprintf("namespace: every object moves to %s. The base has no Namespace (compile with -n NAME --create-namespace for one): create it first,", ex.Namespace),
			"  kubectl create namespace "+ex.Namespace)
	}
	if ex.Deployment != "" {
		whose := fmt.Sprintf("the Deployment %s's", ex.Deployment)
		if ex.Shared {
			whose += " and the others running that image"
		}
		paras = append(paras,
			fmt.Sprintf("images: the containers running %s (%s) get the tag %s, a placeholder for the tag to deploy; newName and digest change the rest of the reference.", ex.Image, whose, ex.Tag),
			fmt.Sprintf("replicas: the Deployment %s runs %d pods.", ex.Deployment, ex.Replicas))
	} else {
		paras = append(paras, "The system has no Deployment, so the overlay changes no image tag or replicas.")
	}
	var b strings.Builder
	for _, p := range paras {
		if p == "" || strings.HasPrefix(p, " ") {
			// a blank line or a command: as it is
			b.WriteString(strings.TrimRight("# "+p, " ") + "\n")
			continue
		}
		line := "#"
		for _, w := range strings.Fields(p) {
			if len(line)+1+len(w) > 72 && line != "#" {
				b.WriteString(line + "\n")
				line = "#"
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// marshal prints a kustomization after a comment: apiVersion and kind
// first, as kustomize's own files have them, then the fields in the order
// of types.Kustomization.
func marshal(comment string, k *types.Kustomization) ([]byte, error) {
	body := *k
	body.TypeMeta = types.TypeMeta{}
	b, err := yaml.Marshal(&body)
	if err != nil {
		return nil, fmt.Errorf("printing a kustomization: %w", err)
	}
	head := comment + "apiVersion: " + types.KustomizationVersion + "\nkind: " + types.KustomizationKind + "\n"
	return append([]byte(head), b...), nil
}
