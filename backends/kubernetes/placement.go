package kubernetes

import (
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/ast"
)

// Well-known node labels (k8s.io/api/core/v1 well_known_labels.go).
const (
	labelHostname     = corev1.LabelHostname
	labelOS           = corev1.LabelOSStable
	labelArch         = corev1.LabelArchStable
	labelControlPlane = "node-role.kubernetes.io/control-plane"
)

// placement writes a service's placement into its pod spec
// (docs/mapping.md, "Placement"): a node must equal → nodeSelector, must
// differ → required node affinity NotIn; the manager role is the control
// plane (its label, and a toleration of its taint); spread preferences
// are topology spread constraints; a per-node maximum is pod
// anti-affinity (1) or a topology spread constraint whose global minimum
// is always 0 (more).
func (g *gen) placement(s *ast.Service, sm *serviceMeta, spec *corev1.PodSpec) {
	pl := &s.Placement
	if len(pl.Constraints)+len(pl.Spread) == 0 && pl.MaxPerNode == 0 {
		return
	}
	var exprs []corev1.NodeSelectorRequirement
	for _, c := range pl.Constraints {
		if c.Property == ast.NodeRole {
			// manager: the node has the control-plane label
			op := corev1.NodeSelectorOpDoesNotExist
			if (c.Value == "manager") != c.Not {
				op = corev1.NodeSelectorOpExists
				spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: labelControlPlane, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
			}
			exprs = append(exprs, corev1.NodeSelectorRequirement{Key: labelControlPlane, Operator: op})
			continue
		}
		key := nodeLabelKey(c)
		if why := labelError(key, c.Value); why != "" {
			g.diags.Warnf("placement-label", c.Pos, "services."+s.Name+".deploy.placement", "constraint on %s %q is ignored: %s", key, c.Value, why)
			continue
		}
		if !c.Not && spec.NodeSelector[key] == "" {
			if spec.NodeSelector == nil {
				spec.NodeSelector = map[string]string{}
			}
			spec.NodeSelector[key] = c.Value
			continue
		}
		// a second value for one key (no node has both: the compiler
		// warned) or a value to avoid
		op := corev1.NodeSelectorOpIn
		if c.Not {
			op = corev1.NodeSelectorOpNotIn
		}
		exprs = append(exprs, corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: []string{c.Value}})
	}
	if len(exprs) > 0 {
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}}}}}
	}
	sel := &metav1.LabelSelector{MatchLabels: sm.selector}
	var spread []string
	for _, sp := range pl.Spread {
		if why := labelError(sp.Label, ""); why != "" {
			g.diags.Warnf("placement-label", sp.Pos, "services."+s.Name+".deploy.placement.preferences", "spread over %q is ignored: %s", sp.Label, why)
			continue
		}
		if slices.Contains(spread, sp.Label) {
			continue
		}
		spread = append(spread, sp.Label)
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: sp.Label, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel})
	}
	switch n := pl.MaxPerNode; {
	case n == 1:
		if spec.Affinity == nil {
			spec.Affinity = &corev1.Affinity{}
		}
		spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			{LabelSelector: sel, TopologyKey: labelHostname}}}
	case n > 1:
		// The skew is a node's pods minus the fewest on any node. With
		// fewer nodes than minDomains that minimum counts as 0; with as
		// many or more, a node has none, since minDomains is the most pods
		// that exist at once and one of them is being placed. Either way
		// a node holds at most maxSkew of them.
		domains := int32(min(maxPods(s), math.MaxInt32))
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: int32(min(n, math.MaxInt32)), TopologyKey: labelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: sel, MinDomains: &domains})
	}
}

// nodeLabelKey is the node label a constraint compares.
func nodeLabelKey(c ast.Constraint) string {
	switch c.Property {
	case ast.NodeHostname:
		return labelHostname
	case ast.NodeOS:
		return labelOS
	case ast.NodeArch:
		return labelArch
	}
	return c.Label
}

// labelError says why key and value (when not empty) cannot be a node
// label, "" when they can.
func labelError(key, value string) string {
	errs := validation.IsQualifiedName(key)
	if value != "" {
		errs = append(errs, validation.IsValidLabelValue(value)...)
	}
	return strings.Join(errs, "; ")
}
