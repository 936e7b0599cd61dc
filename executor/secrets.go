package executor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
)

// Missing is an object a system refers to that its namespace does not
// hold as the system needs it.
type Missing struct {
	Ref kubernetes.Reference
	// Why says what is wrong: "not found", a missing key, or that the
	// object is the system's own and would be pruned.
	Why string
	// Fix is the command that fixes it.
	Fix string
}

// MissingError is why Up refused to start a system: objects it refers to
// but does not hold (external secrets and configs, and those the user
// provides) are missing from its namespace. Up created nothing.
type MissingError struct {
	GUID      string
	Namespace string
	// NamespaceMissing is true when the namespace does not exist yet (a
	// new system's own): it has to be created first.
	NamespaceMissing bool
	// NamedAfterGUID is true when the namespace is named after the GUID,
	// so that up must be given the same GUID again to find it.
	NamedAfterGUID bool
	Missing        []Missing
}

// Error lists what is missing and the commands that create it, in the
// order to run them.
func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "namespace %s does not hold %d object(s) that the system refers to; nothing was created", e.Namespace, len(e.Missing))
	if e.NamespaceMissing {
		b.WriteString(" (the namespace does not exist yet)")
	}
	b.WriteString(":")
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "\n  %s (%s): %s", m.Ref, m.Ref.Path, m.Why)
	}
	b.WriteString("\ncreate them:")
	if e.NamespaceMissing {
		fmt.Fprintf(&b, "\n  kubectl create namespace %s", e.Namespace)
	}
	var vars []string
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "\n  %s", m.Fix)
		if m.Ref.Provided == ast.ProvidedUnset {
			vars = append(vars, m.Ref.Source.Variable)
		}
	}
	b.WriteString("\nthen run up again")
	if e.NamedAfterGUID {
		fmt.Fprintf(&b, " with --guid %s (the namespace is named after it)", e.GUID)
	}
	if e.NamespaceMissing {
		b.WriteString("; tycho down leaves a namespace you created")
	}
	if len(vars) > 0 {
		fmt.Fprintf(&b, "\nor set %s and run up again: the values then come with the system", strings.Join(vars, ", "))
	}
	return b.String()
}

// CheckReferences checks, before anything is applied, that the namespace
// of the system holds every object in opts.References with its key, and
// that none of them is an object of the system itself, which the prune of
// this up would delete (a Secret an earlier up made from a value that the
// system now leaves to the user). Otherwise it returns a *MissingError
// with the commands that create them. An object that the client may not
// read is taken to exist: the pods will tell.
func CheckReferences(ctx context.Context, c *Client, opts UpOptions) error {
	if len(opts.References) == 0 {
		return nil
	}
	ns := opts.Namespace
	if ns == "" {
		ns = NamespaceFor(opts.System, opts.GUID)
	}
	e := &MissingError{GUID: opts.GUID, Namespace: ns, NamedAfterGUID: ns == NamespaceFor(opts.System, opts.GUID)}
	_, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		e.NamespaceMissing = true
		for _, r := range opts.References {
			e.Missing = append(e.Missing, Missing{Ref: r, Why: "not found", Fix: r.Command(ns)})
		}
		return e
	case err != nil && !apierrors.IsForbidden(err):
		return fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	for _, r := range opts.References {
		var labels map[string]string
		var keys []string
		var err error
		if r.Kind == kubernetes.KindSecret {
			s, gerr := c.Kube.CoreV1().Secrets(ns).Get(ctx, r.Name, metav1.GetOptions{})
			if err = gerr; err == nil {
				labels = s.Labels
				for k := range s.Data {
					keys = append(keys, k)
				}
			}
		} else {
			cm, gerr := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, r.Name, metav1.GetOptions{})
			if err = gerr; err == nil {
				labels = cm.Labels
				for k := range cm.Data {
					keys = append(keys, k)
				}
				for k := range cm.BinaryData {
					keys = append(keys, k)
				}
			}
		}
		switch {
		case apierrors.IsNotFound(err):
			e.Missing = append(e.Missing, Missing{Ref: r, Why: "not found", Fix: r.Command(ns)})
		case apierrors.IsForbidden(err):
			// cannot tell: a pod that lacks it will say so
		case err != nil:
			return fmt.Errorf("reading %s in %s: %w", r, ns, err)
		case labels[kubernetes.LabelGUID] == opts.GUID && labels[kubernetes.LabelExecutor] == "tycho":
			e.Missing = append(e.Missing, Missing{Ref: r,
				Why: "it is the system's own, made by an earlier up from its value, and this up would prune it",
				Fix: fmt.Sprintf("kubectl label %s %s -n %s %s- %s-", strings.ToLower(r.Kind), r.Name, ns, kubernetes.LabelGUID, kubernetes.LabelExecutor)})
		case !slices.Contains(keys, r.Key):
			e.Missing = append(e.Missing, Missing{Ref: r,
				Why: fmt.Sprintf("it has no key %q", r.Key),
				Fix: fmt.Sprintf("kubectl edit %s %s -n %s  # add the key %s", strings.ToLower(r.Kind), r.Name, ns, r.Key)})
		}
	}
	if len(e.Missing) > 0 {
		return e
	}
	return nil
}
