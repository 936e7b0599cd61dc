package kubernetes

import (
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tychoctl/tycho/ast"
)

// deploymentStrategy makes a service's update strategy the Deployment's
// rolling update (docs/mapping.md, "Updates"): start-first surges by the
// parallelism and keeps every old replica until its replacement is
// available, stop-first stops that many first; the wait between batches
// is minReadySeconds.
func (g *gen) deploymentStrategy(s *ast.Service, d *appsv1.Deployment) {
	u := s.Update
	if u == nil {
		return
	}
	d.Spec.MinReadySeconds = minReadySeconds(u)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		path := "services." + s.Name + ".deploy.update_config"
		if u.Order == ast.StartFirst {
			g.diags.Warnf("update-config", u.Pos, path, "order start-first is not possible: the service mounts a volume claim, so its pods are replaced all at once, the old ones stopped first (Recreate)")
		} else {
			g.diags.Infof("update-config", u.Pos, path, "parallelism is not used: the service mounts a volume claim, so its pods are replaced all at once (Recreate), and old and new pods never share the claim")
		}
		return
	}
	surge, unavailable := rollingBounds(u)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}}
}

// daemonSetStrategy is deploymentStrategy for a global service.
func daemonSetStrategy(s *ast.Service, ds *appsv1.DaemonSet) {
	u := s.Update
	if u == nil {
		return
	}
	ds.Spec.MinReadySeconds = minReadySeconds(u)
	surge, unavailable := rollingBounds(u)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: surge, MaxUnavailable: unavailable}}
}

// rollingBounds are maxSurge and maxUnavailable: parallelism replicas at a
// time (0: all of them, "100%"), started before (start-first) or stopped
// before (stop-first) the old ones go.
func rollingBounds(u *ast.UpdateStrategy) (surge, unavailable *intstr.IntOrString) {
	n := intstr.FromString("100%")
	if u.Parallelism > 0 {
		n = intstr.FromInt32(int32(min(u.Parallelism, math.MaxInt32)))
	}
	zero := intstr.FromInt32(0)
	if u.Order == ast.StartFirst {
		return &n, &zero
	}
	return &zero, &n
}

// minReadySeconds is how long a new replica must stay ready before the
// next batch is replaced: swarm's delay, or monitor when it is longer
// (a replica that fails within it then holds the rollout, as swarm's
// failure_action pause does), rounded up to whole seconds.
func minReadySeconds(u *ast.UpdateStrategy) int32 {
	d := max(u.Delay, u.Monitor, 0)
	secs := (d + time.Second - 1) / time.Second
	return int32(min(int64(secs), math.MaxInt32))
}

// maxPods is the largest number of the service's pods that exist at once
// outside a manual scale: its replicas, and during a rolling update the
// surge.
func maxPods(s *ast.Service) int64 {
	replicas := int64(1)
	if s.Replicas != nil {
		replicas = int64(*s.Replicas)
	}
	if s.Lifecycle != ast.LongRunning || usesClaims(s) {
		return max(replicas, 1) // a Job runs its replicas; Recreate never surges
	}
	var surge int64
	switch u := s.Update; {
	case u == nil:
		surge = (replicas + 3) / 4 // the Deployment's default maxSurge, 25% rounded up
	case u.Order == ast.StopFirst:
	case u.Parallelism == 0 || int64(min(u.Parallelism, math.MaxInt32)) > replicas:
		surge = replicas
	default:
		surge = int64(u.Parallelism)
	}
	return max(replicas+surge, 1)
}
