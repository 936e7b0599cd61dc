package compiler

import (
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// hooks lowers post_start and pre_stop. A container has one command per
// event, run in the container as its own user: one hook stays its argv,
// its environment is given through env(1), and several hooks or a
// working_dir of their own need /bin/sh (docs/mapping.md, "Hooks").
func (lw *lowerer) hooks(svc *ast.Service, s *types.ServiceConfig, path string) {
	if len(s.PostStart) > 0 {
		svc.Container.PostStart = lw.hook(s, s.PostStart, path+".post_start")
	}
	if len(s.PreStop) > 0 {
		svc.Container.PreStop = lw.hook(s, s.PreStop, path+".pre_stop")
	}
}

// hookCmd is one compose hook, ready to be joined with others.
type hookCmd struct {
	argv []string
	env  []string // KEY=VALUE, sorted by key
	dir  string   // empty: the container's working directory
}

func (lw *lowerer) hook(s *types.ServiceConfig, hooks []types.ServiceHook, p string) *ast.Hook {
	key := p[strings.LastIndexByte(p, '.')+1:]
	var cmds []hookCmd
	for i, h := range hooks {
		hp := p + "." + strconv.Itoa(i)
		if len(h.Command) == 0 {
			lw.diags.Errorf("hook-command", lw.pos(hp), hp, "%s hook has no command", key)
			continue
		}
		if h.User != "" && h.User != s.User {
			lw.diags.Warnf("hook-user", lw.pos(hp+".user"), hp+".user", "the hook runs as the container's user, not as %q: Kubernetes runs hooks as the container runs", h.User)
		}
		if h.Privileged && !s.Privileged {
			lw.diags.Warnf("hook-privileged", lw.pos(hp+".privileged"), hp+".privileged", "the hook runs with the container's privileges: Kubernetes cannot run a hook privileged in an unprivileged container")
		}
		c := hookCmd{argv: h.Command}
		if h.WorkingDir != "" && h.WorkingDir != s.WorkingDir {
			c.dir = h.WorkingDir
		}
		for _, k := range sortedKeys(h.Environment) {
			v := h.Environment[k]
			if v == nil {
				// as for the service's environment: taken from the
				// compile environment
				val, ok := lw.l.Env[k]
				if !ok {
					ep := hp + ".environment." + k
					lw.diags.Warnf("env-unset", lw.pos(ep), ep, "%s has no value and is not set in the environment: it is dropped", k)
					continue
				}
				v = &val
			}
			c.env = append(c.env, k+"="+*v)
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return nil
	}
	hk := &ast.Hook{Pos: lw.pos(p)}
	if len(cmds) == 1 && cmds[0].dir == "" {
		hk.Exec = append(hk.Exec, cmds[0].argv...)
		if len(cmds[0].env) > 0 {
			hk.Exec = append(append([]string{"env"}, cmds[0].env...), cmds[0].argv...)
			lw.diags.Infof("hook-env", hk.Pos, p, "%s runs through env to set its environment: the image needs env", key)
		}
		return hk
	}
	// the hooks run one after the other and stop at the first that
	// fails, as compose runs them
	parts := make([]string, len(cmds))
	for i, c := range cmds {
		words := make([]string, 0, len(c.env)+len(c.argv)+1)
		if len(c.env) > 0 {
			words = append(words, "env")
		}
		for _, w := range append(c.env, c.argv...) {
			words = append(words, shellWord(w))
		}
		part := strings.Join(words, " ")
		if c.dir != "" {
			part = "cd " + shellWord(c.dir) + " && " + part
			if i < len(cmds)-1 {
				part = "(" + part + ")" // the next hook starts in the container's directory
			}
		}
		parts[i] = part
	}
	hk.Exec = []string{"/bin/sh", "-c", strings.Join(parts, " && ")}
	why := "several hooks"
	if len(cmds) == 1 {
		why = "a working_dir of its own"
	}
	lw.diags.Infof("hook-shell", hk.Pos, p, "%s has %s: it runs through /bin/sh -c, which the image needs", key, why)
	return hk
}

// shellWord quotes s for a POSIX shell when it needs it; a word with "="
// is quoted so that the shell never reads it as an assignment.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
