package compiler

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// update lowers deploy.update_config and deploy.rollback_config. The
// update becomes a rolling update of the workload (docs/mapping.md,
// "Updates"); what Kubernetes cannot do is reported at its key. docker
// compose itself ignores both keys, so a value swarm would refuse is a
// warning, not an error: the file runs with docker compose.
func (lw *lowerer) update(svc *ast.Service, d *types.DeployConfig, path string) {
	up := path + ".deploy.update_config"
	if u := d.UpdateConfig; u != nil {
		switch {
		case svc.Lifecycle == ast.RunToCompletion:
			lw.diags.Infof("update-config", lw.pos(up), up, "update_config is ignored: a run-to-completion service is not updated in place")
		default:
			svc.Update = lw.updateStrategy(u, up)
		}
	}
	if r := d.RollbackConfig; r != nil && !sameUpdate(r, d.UpdateConfig) {
		rp := path + ".deploy.rollback_config"
		lw.diags.Infof("rollback-config", lw.pos(rp), rp, "rollback_config is ignored: Kubernetes does not roll back by itself, and kubectl rollout undo rolls back as it updates").
			Note("make rollback_config equal to update_config, or remove it")
	}
}

func (lw *lowerer) updateStrategy(u *types.UpdateConfig, up string) *ast.UpdateStrategy {
	// swarm's defaults: one replica at a time, the old one stopped first
	st := &ast.UpdateStrategy{Parallelism: 1, Order: ast.StopFirst, Delay: time.Duration(u.Delay), Monitor: time.Duration(u.Monitor), Pos: lw.pos(up)}
	if u.Parallelism != nil {
		st.Parallelism = *u.Parallelism
	}
	switch u.Order {
	case "", "stop-first":
	case "start-first":
		st.Order = ast.StartFirst
	default:
		lw.diags.Warnf("update-config", lw.pos(up+".order"), up+".order", "order is stop-first or start-first, not %q: stop-first is used", u.Order)
	}
	for _, k := range []struct {
		key string
		d   time.Duration
	}{{"delay", st.Delay}, {"monitor", st.Monitor}} {
		switch {
		case k.d < 0:
			lw.diags.Warnf("update-config", lw.pos(up+"."+k.key), up+"."+k.key, "a negative %s is read as 0", k.key)
		case k.d%time.Second != 0:
			lw.diags.Infof("update-config", lw.pos(up+"."+k.key), up+"."+k.key, "%s %s is rounded up to whole seconds (%ds)", k.key, k.d, int64((k.d+time.Second-1)/time.Second))
		}
	}
	if st.Monitor > st.Delay {
		lw.diags.Infof("update-monitor", lw.pos(up+".monitor"), up+".monitor", "a new replica must stay ready for monitor (%s) before the next batch is replaced; swarm starts the next batch after delay (%s)", st.Monitor, st.Delay).
			Note("Kubernetes has one wait for both: minReadySeconds")
	}
	switch u.FailureAction {
	case "", "pause":
	case "continue", "rollback":
		lw.diags.Warnf("update-failure-action", lw.pos(up+".failure_action"), up+".failure_action", "failure_action %s is not supported: Kubernetes stops a rollout at a replica that does not become ready, as pause does", u.FailureAction).
			Note("roll back by hand with kubectl rollout undo")
	default:
		lw.diags.Warnf("update-config", lw.pos(up+".failure_action"), up+".failure_action", "failure_action is pause, continue or rollback, not %q: it is ignored", u.FailureAction)
	}
	if u.MaxFailureRatio != 0 {
		lw.diags.Infof("update-failure-ratio", lw.pos(up+".max_failure_ratio"), up+".max_failure_ratio", "max_failure_ratio is not supported: a Kubernetes rollout stops at the first replica that does not become available")
	}
	return st
}

// sameUpdate reports whether a rollback with r is an update with u: then
// kubectl rollout undo, which rolls back with the update strategy, does
// what rollback_config asks.
func sameUpdate(r, u *types.UpdateConfig) bool {
	if u == nil {
		return false
	}
	par := func(c *types.UpdateConfig) uint64 {
		if c.Parallelism == nil {
			return 1
		}
		return *c.Parallelism
	}
	order := func(c *types.UpdateConfig) string {
		if c.Order == "" {
			return "stop-first"
		}
		return c.Order
	}
	action := func(c *types.UpdateConfig) string {
		if c.FailureAction == "" {
			return "pause"
		}
		return c.FailureAction
	}
	return par(r) == par(u) && order(r) == order(u) && r.Delay == u.Delay && r.Monitor == u.Monitor &&
		action(r) == action(u) && r.MaxFailureRatio == u.MaxFailureRatio
}
