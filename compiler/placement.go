package compiler

import (
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// placement lowers deploy.placement (swarm's constraints, spread
// preferences and max_replicas_per_node) and platform into node
// constraints (docs/mapping.md, "Placement").
func (lw *lowerer) placement(svc *ast.Service, s *types.ServiceConfig, path string) {
	pl := &svc.Placement
	if s.Platform != "" {
		lw.platform(pl, s.Platform, path+".platform")
	}
	if s.Deploy == nil {
		return
	}
	pp := path + ".deploy.placement"
	p := s.Deploy.Placement
	for i, c := range p.Constraints {
		cp := pp + ".constraints." + strconv.Itoa(i)
		if con, ok := lw.constraint(c, cp); ok {
			lw.addConstraint(pl, con, cp)
		}
	}
	for i, pref := range p.Preferences {
		sp := pp + ".preferences." + strconv.Itoa(i) + ".spread"
		label, ok := strings.CutPrefix(strings.TrimSpace(pref.Spread), "node.labels.")
		if !ok || label == "" {
			lw.diags.Warnf("placement", lw.pos(sp), sp, "spread over %q is not supported and is ignored: only node labels (node.labels.<name>) can be spread over", pref.Spread)
			continue
		}
		pl.Spread = append(pl.Spread, ast.Spread{Label: label, Pos: lw.pos(sp)})
	}
	if len(pl.Spread) > 1 {
		lw.diags.Infof("placement-spread", pl.Spread[1].Pos, pp+".preferences", "spread preferences are weighed together, not one within the other as in swarm")
	}
	if p.MaxReplicas > 0 {
		mp := pp + ".max_replicas_per_node"
		if svc.Lifecycle == ast.Global {
			lw.diags.Infof("placement", lw.pos(mp), mp, "max_replicas_per_node is ignored: a global service runs one replica per node")
		} else {
			pl.MaxPerNode = p.MaxReplicas
			pl.MaxPerNodePos = lw.pos(mp)
		}
	}
}

// dockerArch maps the architecture names docker reports (uname -m) to the
// OCI platform's (GOARCH), which nodes are labelled with.
var dockerArch = map[string]string{
	"x86_64": "amd64", "x86-64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64", "armv8": "arm64",
	"armv7l": "arm", "armv7": "arm", "armv6l": "arm", "armhf": "arm", "armel": "arm", "arm": "arm",
	"i386": "386", "i486": "386", "i586": "386", "i686": "386", "x86": "386", "386": "386",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64le", "loong64": "loong64",
}

// platform lowers platform: os[/arch[/variant]].
func (lw *lowerer) platform(pl *ast.Placement, platform, p string) {
	pos := lw.pos(p)
	parts := strings.Split(strings.ToLower(strings.TrimSpace(platform)), "/")
	if len(parts) > 3 || parts[0] == "" {
		lw.diags.Errorf("platform", pos, p, "platform %q is not os[/arch[/variant]]", platform)
		return
	}
	// an OS or architecture that no node reports (wasi/wasm runs on
	// linux nodes, through a runtime of its own) selects nothing
	if os := parts[0]; os == "linux" || os == "windows" {
		lw.addConstraint(pl, ast.Constraint{Property: ast.NodeOS, Value: os, Pos: pos}, p)
	} else {
		lw.diags.Warnf("platform", pos, p, "OS %q is not one a node runs: nodes are not selected by it", os)
	}
	if len(parts) < 2 {
		return
	}
	arch, ok := dockerArch[parts[1]]
	if !ok {
		lw.diags.Warnf("platform", pos, p, "architecture %q is not one a node runs: nodes are not selected by it", parts[1])
		return
	}
	lw.addConstraint(pl, ast.Constraint{Property: ast.NodeArch, Value: arch, Pos: pos}, p)
	if len(parts) == 3 && !(arch == "arm64" && parts[2] == "v8") {
		// arm64 has one variant; for arm (v6, v7) nodes carry no label
		// that tells them apart
		lw.diags.Infof("platform-variant", pos, p, "variant %s is not selected: nodes are chosen by OS and architecture only", parts[2])
	}
}

// constraint parses one swarm constraint: property==value or
// property!=value.
func (lw *lowerer) constraint(c, cp string) (ast.Constraint, bool) {
	pos := lw.pos(cp)
	con := ast.Constraint{Pos: pos}
	var key string
	if i := strings.Index(c, "=="); i >= 0 {
		key, con.Value = c[:i], c[i+2:]
	} else if i := strings.Index(c, "!="); i >= 0 {
		key, con.Value, con.Not = c[:i], c[i+2:], true
	}
	key, con.Value = strings.TrimSpace(key), strings.TrimSpace(con.Value)
	if key == "" || con.Value == "" {
		// docker compose ignores placement, so the file runs there: a
		// warning, not an error
		lw.diags.Warnf("placement", pos, cp, "constraint %q is not property==value or property!=value: it is ignored", c)
		return con, false
	}
	// swarm compares keys without regard to case, except label names
	lower := strings.ToLower(key)
	switch {
	case strings.HasPrefix(lower, "node.labels."):
		con.Property, con.Label = ast.NodeLabel, key[len("node.labels."):]
	case lower == "node.hostname":
		con.Property, con.Value = ast.NodeHostname, strings.ToLower(con.Value)
	case lower == "node.platform.os":
		con.Property, con.Value = ast.NodeOS, strings.ToLower(con.Value)
	case lower == "node.platform.arch":
		con.Property = ast.NodeArch
		arch, ok := dockerArch[strings.ToLower(con.Value)]
		if !ok {
			lw.diags.Warnf("placement", pos, cp, "architecture %q is unknown: nodes are selected by it as written", con.Value)
			arch = con.Value
		}
		con.Value = arch
	case lower == "node.role":
		con.Property, con.Value = ast.NodeRole, strings.ToLower(con.Value)
		if con.Value != "manager" && con.Value != "worker" {
			lw.diags.Warnf("placement", pos, cp, "node.role is manager or worker, not %q: the constraint is ignored", con.Value)
			return con, false
		}
		if (con.Value == "manager") != con.Not {
			lw.diags.Warnf("placement-role", pos, cp, "the service runs on control-plane nodes only: a cluster whose control plane is managed for you has none, and the service stays pending")
		}
	case lower == "node.id":
		lw.diags.Warnf("placement", pos, cp, "constraint on node.id is ignored: swarm node IDs do not exist in Kubernetes").
			Note("constrain node.hostname or a node label instead")
		return con, false
	case strings.HasPrefix(lower, "engine.labels."):
		lw.diags.Warnf("placement", pos, cp, "constraint on docker engine labels is ignored: Kubernetes nodes have no engine labels").
			Note("label the nodes and constrain node.labels.<name> instead")
		return con, false
	default:
		lw.diags.Warnf("placement", pos, cp, "constraint on %s is not supported and is ignored", key)
		return con, false
	}
	return con, true
}

// addConstraint adds con unless it is there already, and reports a
// property required to equal two values: no node can run the service
// then, in swarm as here.
func (lw *lowerer) addConstraint(pl *ast.Placement, con ast.Constraint, p string) {
	for _, have := range pl.Constraints {
		if have.Property != con.Property || have.Label != con.Label {
			continue
		}
		if have.Not == con.Not && have.Value == con.Value {
			return
		}
		if !have.Not && !con.Not {
			lw.diags.Warnf("placement-conflict", con.Pos, p, "the node's %s must be both %q and %q: no node can run the service", constraintName(con), have.Value, con.Value)
		}
	}
	pl.Constraints = append(pl.Constraints, con)
}

func constraintName(c ast.Constraint) string {
	if c.Property == ast.NodeLabel {
		return "label " + c.Label
	}
	return string(c.Property)
}
