package compiler

import (
	"strings"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// Check verifies the references between the parts of sys (services,
// networks, volumes, secrets, configs) and that depends_on has no cycle, in
// time linear in the size of the system. compose-go's own consistency check
// does this without positions and in quadratic time, so Tycho skips it.
func Check(sys *ast.System) diag.List {
	var diags diag.List
	services := make(map[string]*ast.Service, len(sys.Services))
	for _, s := range sys.Services {
		services[s.Name] = s
	}
	networks := make(map[string]bool, len(sys.Networks))
	for _, n := range sys.Networks {
		networks[n.Name] = true
	}
	volumes := make(map[string]bool, len(sys.Volumes))
	for _, v := range sys.Volumes {
		volumes[v.Name] = true
	}
	secrets := make(map[string]bool, len(sys.Secrets))
	for _, v := range sys.Secrets {
		secrets[v.Name] = true
	}
	configs := make(map[string]bool, len(sys.Configs))
	for _, v := range sys.Configs {
		configs[v.Name] = true
	}
	for _, s := range sys.Services {
		// p is the service's key path, made only for a diagnostic
		p := func(rest string) string { return "services." + s.Name + rest }
		for _, n := range s.Networks {
			if !networks[n.Network] && n.Network != "default" {
				diags.Errorf("undefined-network", n.Pos, p(".networks."+n.Network), "service %q refers to undefined network %q", s.Name, n.Network).Note("declare it under the top-level networks:")
			}
		}
		for _, m := range s.Mounts {
			if m.Kind == ast.MountVolume && !volumes[m.Source] {
				diags.Errorf("undefined-volume", m.Pos, p(".volumes"), "service %q refers to undefined volume %q", s.Name, m.Source).Note("declare it under the top-level volumes:")
			}
		}
		for _, r := range s.Secrets {
			if !secrets[r.Name] {
				diags.Errorf("undefined-secret", r.Pos, p(".secrets"), "service %q refers to undefined secret %q", s.Name, r.Name)
			}
		}
		for _, r := range s.Configs {
			if !configs[r.Name] {
				diags.Errorf("undefined-config", r.Pos, p(".configs"), "service %q refers to undefined config %q", s.Name, r.Name)
			}
		}
		if target, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if services[target] == nil {
				diags.Errorf("undefined-service", s.NetworkModePos, p(".network_mode"), "service %q shares the network of undefined service %q", s.Name, target)
			} else if target == s.Name {
				diags.Errorf("network-mode-cycle", s.NetworkModePos, p(".network_mode"), "service %q cannot share its own network", s.Name)
			}
		}
		kept := s.DependsOn[:0]
		for _, d := range s.DependsOn {
			dep := services[d.Service]
			if dep == nil {
				if d.Required {
					diags.Errorf("undefined-service", d.Pos, p(".depends_on."+d.Service), "service %q depends on undefined service %q", s.Name, d.Service).Note("if the service is in a profile, enable it with --profile")
				} else {
					diags.Infof("optional-dependency", d.Pos, p(".depends_on."+d.Service), "optional dependency %q is not part of the system and is skipped", d.Service)
				}
				continue
			}
			if d.Condition == ast.ServiceHealthy && dep.Health == nil {
				diags.Warnf("dependency-not-healthchecked", d.Pos, p(".depends_on."+d.Service), "%q has no healthcheck: service_healthy waits until it is started", d.Service)
			}
			if d.Condition == ast.ServiceCompletedSuccessfully && dep.Lifecycle != ast.RunToCompletion {
				diags.Warnf("dependency-never-completes", d.Pos, p(".depends_on."+d.Service), "%q keeps running (restart is not \"no\" or on-failure), so it never completes: %q waits only until it is started", d.Service, s.Name).Note("set restart: \"no\" on %s if it is a one-shot task", d.Service)
			}
			kept = append(kept, d)
		}
		s.DependsOn = kept
	}
	diags = append(diags, cycles(sys.Services, services)...)
	return diags
}

// cycles finds depends_on cycles with an iterative depth-first search:
// linear in services plus dependencies.
func cycles(list []*ast.Service, byName map[string]*ast.Service) diag.List {
	const (
		white = iota
		grey
		black
	)
	var diags diag.List
	color := make(map[string]int, len(list))
	type frame struct {
		s *ast.Service
		i int
	}
	for _, root := range list {
		if color[root.Name] != white {
			continue
		}
		stack := []frame{{s: root}}
		color[root.Name] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.i == len(top.s.DependsOn) {
				color[top.s.Name] = black
				stack = stack[:len(stack)-1]
				continue
			}
			d := top.s.DependsOn[top.i]
			top.i++
			next := byName[d.Service]
			switch color[d.Service] {
			case white:
				color[d.Service] = grey
				stack = append(stack, frame{s: next})
			case grey:
				// the cycle is the stack from d.Service to the top
				var names []string
				for j := len(stack) - 1; j >= 0; j-- {
					names = append([]string{stack[j].s.Name}, names...)
					if stack[j].s.Name == d.Service {
						break
					}
				}
				names = append(names, d.Service)
				diags.Errorf("dependency-cycle", d.Pos, "services."+top.s.Name+".depends_on."+d.Service, "depends_on cycle: %s", strings.Join(names, " -> "))
			}
		}
	}
	return diags
}
