package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// Security makes the Pod Security Standard level explicit: it writes the
// safe defaults the compose file did not turn off, and reports what needs
// more than the level asked for. At restricted it also tightens every
// container, and what cannot comply is an error. At baseline what needs
// the privileged level is a warning that raises the system's level, or an
// error under Options.SecurityCeiling; at privileged it is allowed and
// only noted.
type Security struct{}

// Name is "security".
func (Security) Name() string { return "security" }

// Levels are the Pod Security levels, from the least to the most allowed.
var Levels = []string{"restricted", "baseline", "privileged"}

// LevelAllows tells whether a namespace that enforces ceiling admits pods
// of level (both of Levels; "" is baseline).
func LevelAllows(ceiling, level string) bool {
	rank := func(l string) int {
		if l == "" {
			l = "baseline"
		}
		return slices.Index(Levels, l)
	}
	return rank(level) >= 0 && rank(level) <= rank(ceiling)
}

// baselineCaps are the capabilities the baseline level allows to add.
var baselineCaps = map[string]bool{"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true, "FSETID": true,
	"KILL": true, "MKNOD": true, "NET_BIND_SERVICE": true, "SETFCAP": true, "SETGID": true, "SETPCAP": true, "SETUID": true, "SYS_CHROOT": true}

// safeSysctls are the sysctls the baseline level allows.
var safeSysctls = map[string]bool{"kernel.shm_rmid_forced": true, "net.ipv4.ip_local_port_range": true, "net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.tcp_syncookies": true, "net.ipv4.ping_group_range": true, "net.ipv4.ip_local_reserved_ports": true,
	"net.ipv4.tcp_keepalive_time": true, "net.ipv4.tcp_fin_timeout": true, "net.ipv4.tcp_keepalive_intvl": true, "net.ipv4.tcp_keepalive_probes": true}

// Weave writes the security decisions into every container.
func (Security) Weave(sys *ast.System, opts Options) diag.List {
	level := opts.Security
	if level == "" {
		level = "baseline"
	}
	if level == "none" {
		return nil
	}
	var diags diag.List
	needsPrivileged := false
	for _, s := range sys.Services {
		sec := &s.Container.Security
		p := "services." + s.Name
		why := privilegedNeeds(s)
		if s.ServiceAccount == "" {
			f := false
			sec.AutomountToken = &f
		}
		sec.SeccompRuntimeDefault = true
		if !sec.Privileged && len(sec.CapAdd) == 0 {
			f := false
			sec.AllowPrivilegeEscalation = &f
		}
		if level == "restricted" {
			for _, w := range why {
				diags.Errorf("security-restricted", w.pos, p+"."+w.key, "%s cannot run at the restricted level: %s", s.Name, w.msg).Note("%s", raise(opts, "baseline", "or change the service"))
			}
			if sec.RunAsUser != nil && *sec.RunAsUser == 0 {
				diags.Errorf("security-restricted", sec.UserPos, p+".user", "%s runs as root (user 0): the restricted level needs a non-root user", s.Name)
			}
			for _, c := range sec.CapAdd {
				if c != "NET_BIND_SERVICE" {
					diags.Errorf("security-restricted", sec.CapPos, p+".cap_add", "%s adds capability %s: the restricted level allows only NET_BIND_SERVICE", s.Name, c)
				}
			}
			t, f := true, false
			sec.RunAsNonRoot = &t
			sec.AllowPrivilegeEscalation = &f
			sec.DropAllCapabilities = true
			continue
		}
		for _, w := range why {
			needsPrivileged = true
			const msg = "%s needs the privileged Pod Security level: %s"
			var d *diag.Diagnostic
			switch {
			case level == "privileged":
				diags.Infof("security-privileged", w.pos, p+"."+w.key, msg, s.Name, w.msg)
				continue
			case opts.SecurityCeiling:
				d = diags.Errorf("security-privileged", w.pos, p+"."+w.key, msg, s.Name, w.msg).
					Note("%s", raise(opts, "privileged", "or change the service"))
			default:
				d = diags.Warnf("security-privileged", w.pos, p+"."+w.key, msg, s.Name, w.msg).
					Note("a namespace that enforces baseline rejects its pods")
			}
			if w.key == "sysctls" {
				d.Note("the kubelet must also allow it with --allowed-unsafe-sysctls, or the pod fails with SysctlForbidden")
			}
		}
	}
	switch {
	case level == "restricted":
		sys.Policy.SecurityLevel = "restricted"
	case needsPrivileged && (level == "privileged" || !opts.SecurityCeiling):
		sys.Policy.SecurityLevel = "privileged"
	default:
		sys.Policy.SecurityLevel = "baseline"
	}
	return diags
}

// raise is the note that says how to allow a level: the operator's
// explicit choice, never the compose file's.
func raise(opts Options, level, alt string) string {
	if opts.SecurityCeiling {
		return fmt.Sprintf("the level allowed is %s: allow %s explicitly with --security %s, %s", opts.Security, level, level, alt)
	}
	return fmt.Sprintf("use --security %s, %s", level, alt)
}

type need struct {
	pos ast.Pos
	key string
	msg string
}

// privilegedNeeds lists what s asks for that the baseline level forbids.
func privilegedNeeds(s *ast.Service) []need {
	sec := s.Container.Security
	var out []need
	if sec.Privileged {
		out = append(out, need{sec.PrivPos, "privileged", "privileged: true"})
	}
	if sec.HostNetwork {
		out = append(out, need{s.NetworkModePos, "network_mode", "it shares the host's network"})
	}
	if sec.HostPID {
		out = append(out, need{sec.HostPIDPos, "pid", "it shares the host's process namespace"})
	}
	if sec.HostIPC {
		out = append(out, need{sec.HostIPCPos, "ipc", "it shares the host's IPC namespace"})
	}
	var bad []string
	for _, c := range sec.CapAdd {
		if !baselineCaps[c] {
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		out = append(out, need{sec.CapPos, "cap_add", fmt.Sprintf("it adds capabilities %s", strings.Join(bad, ", "))})
	}
	for _, m := range s.Mounts {
		if m.Kind == ast.MountHostPath {
			out = append(out, need{m.Pos, "volumes", fmt.Sprintf("it mounts the host path %s", m.Source)})
		}
	}
	for _, kv := range s.Sysctls {
		if !safeSysctls[kv.Key] {
			out = append(out, need{kv.Pos, "sysctls", fmt.Sprintf("sysctl %s is not in the safe set", kv.Key)})
		}
	}
	return out
}
