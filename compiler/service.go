package compiler

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// serviceKeys are the service keys Tycho honours (fully or with a
// diagnostic of its own). Every other key a service sets gets an
// unsupported-key diagnostic, so nothing is dropped silently, also keys
// that compose-go learns after this list was written.
var serviceKeys = setOf("name", "profiles", "deploy", "restart", "scale", "container_name",
	"extends", "links", "external_links", "networks", "network_mode", "build", "depends_on", "expose",
	"healthcheck", "ports", "stdin_open", "tty", "cap_add", "cap_drop", "command", "entrypoint",
	"configs", "dns", "dns_opt", "dns_search", "environment", "env_file", "extra_hosts", "gpus",
	"hostname", "image", "init", "labels", "annotations", "mem_limit", "mem_reservation", "cpus",
	"pids_limit", "privileged", "pull_policy", "read_only", "secrets", "shm_size", "sysctls",
	"tmpfs", "user", "volumes", "working_dir", "pid", "ipc", "stop_grace_period", "label_file",
	"platform", "post_start", "pre_stop", "group_add", "cpu_shares", "cpu_quota", "cpu_period", "cpu_count",
	"cpu_percent", "stop_signal", "storage_opt")

// networkKeys are the top-level network keys Tycho honours (name, driver
// and external with diagnostics of their own).
var networkKeys = setOf("name", "internal", "external", "driver")

// serviceNetworkKeys are the keys of a service's network entry that Tycho
// honours (the addresses with a diagnostic of their own).
var serviceNetworkKeys = setOf("aliases", "ipv4_address", "ipv6_address", "link_local_ips", "mac_address")

// hints for keys Kubernetes has no equivalent of.
var unsupportedHints = map[string]string{
	"logging":       "the cluster's logging collects the container's stdout and stderr; configure log shipping there",
	"ulimits":       "Kubernetes sets no per-container ulimits; the node's container runtime defaults apply",
	"security_opt":  "use x-tycho or the pod security level (--security) instead",
	"runtime":       "use a RuntimeClass in the cluster",
	"devices":       "host devices need a device plugin in Kubernetes",
	"domainname":    "pods take their domain from the cluster DNS",
	"cgroup_parent": "the kubelet manages cgroups",
	"mac_address":   "pods get their addresses from the cluster network",
}

// keySet is a set of YAML keys that Tycho honours.
type keySet struct {
	keys map[string]bool
	// unhonoured caches, per struct type, the fields whose key is not
	// in keys and the inline fields: tags are parsed and looked up once,
	// not once per service.
	unhonoured sync.Map // reflect.Type -> []yamlField
}

func setOf(keys ...string) *keySet {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return &keySet{keys: m}
}

// fields are the fields of the struct type rt that walkFields looks at:
// the inline ones and those with a key that is not honoured.
func (ks *keySet) fields(rt reflect.Type) []yamlField {
	if v, ok := ks.unhonoured.Load(rt); ok {
		return v.([]yamlField)
	}
	var out []yamlField
	for _, f := range yamlFields(rt) {
		if f.inline || !ks.keys[f.key] {
			out = append(out, f)
		}
	}
	ks.unhonoured.Store(rt, out)
	return out
}

// unsupportedFields reports every set field of v (a pointer to a
// compose-go struct) whose YAML key is not in honoured.
func (lw *lowerer) unsupportedFields(path string, v any, honoured *keySet) {
	rv := reflect.ValueOf(v)
	lw.walkFields(path, rv, honoured)
}

// yamlField is a struct field and its YAML key; inline fields are walked
// into.
type yamlField struct {
	index  int
	key    string
	inline bool
}

// yamlFields are the fields of the struct type rt that have a YAML key,
// and the inline ones.
func yamlFields(rt reflect.Type) []yamlField {
	var out []yamlField
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(opts, "inline"):
			if !strings.HasPrefix(name, "#") {
				out = append(out, yamlField{index: i, inline: true})
			}
		case name != "" && name != "-":
			out = append(out, yamlField{index: i, key: name})
		}
	}
	return out
}

func (lw *lowerer) walkFields(path string, rv reflect.Value, honoured *keySet) {
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		rv = rv.Elem()
	}
	for _, f := range honoured.fields(rv.Type()) {
		fv := rv.Field(f.index)
		if f.inline {
			lw.walkFields(path, fv, honoured)
			continue
		}
		if fv.IsZero() || (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice) && fv.Len() == 0 {
			continue
		}
		key := path + "." + f.key
		d := lw.diags.Warnf("unsupported-key", lw.pos(key), key, "%s is not supported on Kubernetes and is ignored", f.key)
		if h, ok := unsupportedHints[f.key]; ok {
			d.Note("%s", h)
		}
	}
}

func (lw *lowerer) service(s *types.ServiceConfig) *ast.Service {
	path := "services." + s.Name
	svc := &ast.Service{Name: s.Name, Pos: lw.pos(path)}
	lw.unsupportedFields(path, s, serviceKeys)
	// compose-go's consistency checks that Check does not cover (Tycho
	// skips compose-go's quadratic pass)
	for _, name := range sortedKeys(s.Models) {
		if _, ok := lw.l.Project.Models[name]; !ok {
			mp := path + ".models." + name
			lw.diags.Errorf("undefined-model", lw.pos(mp), mp, "service %q refers to undefined model %q", s.Name, name)
		}
	}
	if s.Build != nil && s.Platform != "" && len(s.Build.Platforms) > 0 && !slices.Contains(s.Build.Platforms, s.Platform) {
		lw.diags.Errorf("build-platform", lw.pos(path+".build.platforms"), path+".build.platforms", "build.platforms must include the service's platform %q", s.Platform)
	}
	lw.lifecycle(svc, s, path)
	lw.image(svc, s, path)
	lw.container(svc, s, path)
	lw.environment(svc, s, path)
	lw.ports(svc, s, path)
	lw.networks(svc, s, path)
	lw.mounts(svc, s, path)
	lw.placement(svc, s, path)
	if s.Deploy != nil {
		lw.update(svc, s.Deploy, path)
	}
	lw.hooks(svc, s, path)
	if len(s.Secrets) > 0 {
		svc.Secrets = lw.fileRefs(secretsOf(s), path+".secrets", "/run/secrets/")
	}
	if len(s.Configs) > 0 {
		svc.Configs = lw.fileRefs(configsOf(s), path+".configs", "/")
	}
	lw.health(svc, s, path)
	lw.dependsOn(svc, s, path)
	lw.resources(svc, s, path)
	lw.labels(svc, s, path)
	lw.hosts(svc, s, path)
	lw.kernel(svc, s, path)
	lw.serviceExt(svc, s, path)
	if s.ContainerName != "" && (svc.Replicas == nil || *svc.Replicas <= 1) { // else an error (lifecycle)
		lw.diags.Infof("container-name", lw.pos(path+".container_name"), path+".container_name", "objects are named after the service %q; container_name %q stays a DNS name of it", s.Name, s.ContainerName)
		if s.ContainerName != s.Name {
			// compose resolves the container name on its networks too
			svc.Aliases = append(svc.Aliases, ast.Alias{Name: s.ContainerName, Pos: lw.pos(path + ".container_name")})
		}
	}
	return svc
}

func secretsOf(s *types.ServiceConfig) []types.FileReferenceConfig {
	out := make([]types.FileReferenceConfig, len(s.Secrets))
	for i, r := range s.Secrets {
		out[i] = types.FileReferenceConfig(r)
	}
	return out
}

func configsOf(s *types.ServiceConfig) []types.FileReferenceConfig {
	out := make([]types.FileReferenceConfig, len(s.Configs))
	for i, r := range s.Configs {
		out[i] = types.FileReferenceConfig(r)
	}
	return out
}

func (lw *lowerer) lifecycle(svc *ast.Service, s *types.ServiceConfig, path string) {
	restart := s.Restart
	restartKey := ".restart" // where restart is decided
	if rp := deployRestart(s); rp != nil && rp.Condition == "" && rp.MaxAttempts != nil {
		lw.diags.Warnf("restart-max-attempts", lw.pos(path+".deploy.restart_policy.max_attempts"), path+".deploy.restart_policy.max_attempts", "max_attempts without a condition (default: any) is ignored: a long-running service is restarted without limit").
			Note("set condition: on-failure to run it as a Job with this many retries")
	}
	if rp := deployRestart(s); rp != nil && rp.Condition == "" && (rp.Delay != nil || rp.Window != nil) {
		lw.diags.Infof("restart-delay", lw.pos(path+".deploy.restart_policy"), path+".deploy.restart_policy", "restart delay and window are not configurable on Kubernetes: it restarts with an exponential back-off")
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil && s.Deploy.RestartPolicy.Condition != "" {
		// deploy.restart_policy wins over restart, as in compose.
		switch s.Deploy.RestartPolicy.Condition {
		case "none":
			restart = "no"
		case "on-failure":
			restart = "on-failure"
		default:
			restart = "always"
		}
		restartKey = ".deploy.restart_policy.condition"
		if rp := s.Deploy.RestartPolicy; rp.MaxAttempts != nil {
			if restart == "always" {
				lw.diags.Warnf("restart-max-attempts", lw.pos(path+".deploy.restart_policy.max_attempts"), path+".deploy.restart_policy.max_attempts", "max_attempts with condition %q is ignored: a long-running service is restarted without limit", s.Deploy.RestartPolicy.Condition).
					Note("set condition: on-failure to run it as a Job with this many retries")
			}
			n := int32(min(*rp.MaxAttempts, 1<<30))
			svc.MaxAttempts = &n
		}
		if rp := s.Deploy.RestartPolicy; rp.Delay != nil || rp.Window != nil {
			lw.diags.Infof("restart-delay", lw.pos(path+".deploy.restart_policy"), path+".deploy.restart_policy", "restart delay and window are not configurable on Kubernetes: it restarts with an exponential back-off")
		}
	}
	switch {
	case restart == "no":
		svc.Lifecycle = ast.RunToCompletion
	case strings.HasPrefix(restart, "on-failure"):
		svc.Lifecycle = ast.RunToCompletion
		svc.RestartOnFailure = true
		if _, n, ok := strings.Cut(restart, ":"); ok {
			if v, err := strconv.ParseInt(n, 10, 32); err == nil && v >= 0 {
				m := int32(v)
				svc.MaxAttempts = &m
			}
		}
	case restart == "" || restart == "always" || restart == "unless-stopped":
	default:
		restartPath := path + restartKey
		lw.diags.Errorf("restart", lw.pos(restartPath), restartPath, "unknown restart policy %q", restart)
	}
	if s.Deploy != nil {
		switch s.Deploy.Mode {
		case "", "replicated":
		case "global":
			if svc.Lifecycle == ast.RunToCompletion {
				lw.diags.Warnf("global-job", lw.pos(path+".deploy.mode"), path+".deploy.mode", "a global service cannot run to completion: it runs as a long-running service on every node")
			}
			svc.Lifecycle = ast.Global
		case "replicated-job":
			svc.Lifecycle = ast.RunToCompletion
		default:
			lw.diags.Warnf("unsupported-key", lw.pos(path+".deploy.mode"), path+".deploy.mode", "deploy mode %q is not supported: the service is replicated", s.Deploy.Mode)
		}
		if s.Deploy.Replicas != nil {
			if *s.Deploy.Replicas < 0 {
				lw.diags.Errorf("scale", lw.pos(path+".deploy.replicas"), path+".deploy.replicas", "replicas must be 0 or more, not %d", *s.Deploy.Replicas)
			}
			n := int32(max(min(*s.Deploy.Replicas, 1<<30), 0))
			svc.Replicas = &n
		}
		dp := path + ".deploy"
		if s.Deploy.EndpointMode != "" {
			lw.diags.Infof("unsupported-key", lw.pos(dp+".endpoint_mode"), dp+".endpoint_mode", "endpoint_mode is ignored: the service's name resolves to its ready pods (a headless Service), as dnsrr does")
		}
		if len(s.Deploy.Labels) > 0 {
			lw.diags.Infof("deploy-labels", lw.pos(dp+".labels"), dp+".labels", "deploy.labels become annotations of the workload")
		}
	}
	if s.Scale != nil {
		switch {
		case *s.Scale < 0:
			lw.diags.Errorf("scale", lw.pos(path+".scale"), path+".scale", "scale must be 0 or more, not %d", *s.Scale)
		case svc.Replicas != nil && int(*svc.Replicas) != *s.Scale:
			lw.diags.Errorf("scale", lw.pos(path+".scale"), path+".scale", "scale (%d) and deploy.replicas (%d) disagree", *s.Scale, *svc.Replicas)
		}
		n := int32(max(min(*s.Scale, 1<<30), 0))
		svc.Replicas = &n
	}
	if s.ContainerName != "" && svc.Replicas != nil && *svc.Replicas > 1 {
		lw.diags.Errorf("container-name", lw.pos(path+".container_name"), path+".container_name", "container_name %q names one container, but the service has %d replicas", s.ContainerName, *svc.Replicas).
			Note("compose refuses this too: remove container_name or run one replica")
	}
}

func deployRestart(s *types.ServiceConfig) *types.RestartPolicy {
	if s.Deploy == nil {
		return nil
	}
	return s.Deploy.RestartPolicy
}

func (lw *lowerer) image(svc *ast.Service, s *types.ServiceConfig, path string) {
	c := &svc.Container
	c.Image = s.Image
	c.ImagePos = lw.pos(path + ".image")
	if s.Build != nil {
		if s.Build.DockerfileInline != "" && lw.m.Has(path+".build.dockerfile") {
			lw.diags.Errorf("build", lw.pos(path+".build.dockerfile"), path+".build.dockerfile", "dockerfile and dockerfile_inline cannot both be set").Note("compose refuses this too: keep one of them")
		}
		if s.Image == "" {
			// compose's name for an image it builds.
			c.Image = lw.l.Project.Name + "-" + s.Name
			if lw.opts.Registry != "" {
				c.Image = strings.TrimSuffix(lw.opts.Registry, "/") + "/" + c.Image
			}
			c.ImageToBuild = true
			c.ImagePos = lw.pos(path + ".build")
			lw.diags.Warnf("build-image", c.ImagePos, path+".build", "tycho does not build images: the service runs image %q", c.Image).
				Note("build and push it first, e.g. docker build -t %s %s && docker push %s", c.Image, buildContext(s.Build, lw.l.WorkDir), c.Image).
				Note("give the registry with --registry, or set image: on the service")
		} else {
			lw.diags.Infof("build-image", lw.pos(path+".build"), path+".build", "build is ignored: the service runs image %q, which must be pushed to a registry the cluster can pull from", s.Image)
		}
	} else if s.Image == "" {
		lw.diags.Errorf("missing-image", lw.pos(path), path, "service %q has neither image nor build", s.Name).Note("docker compose refuses to start it too; set image:")
	}
	switch pp := s.PullPolicy; {
	case pp == "":
	case pp == "always":
		c.PullPolicy = ast.PullAlways
	case pp == "never":
		c.PullPolicy = ast.PullNever
	case pp == "missing" || pp == "if_not_present":
		c.PullPolicy = ast.PullIfNotPresent
	case pp == "build":
		c.PullPolicy = ast.PullIfNotPresent
		lw.diags.Warnf("pull-policy", lw.pos(path+".pull_policy"), path+".pull_policy", "pull_policy build becomes IfNotPresent: tycho does not build images")
	case pp == "daily" || pp == "weekly" || strings.HasPrefix(pp, "every_"):
		c.PullPolicy = ast.PullAlways
		lw.diags.Infof("pull-policy", lw.pos(path+".pull_policy"), path+".pull_policy", "pull_policy %s becomes Always: Kubernetes has no timed pull policy", pp)
	default:
		lw.diags.Errorf("pull-policy", lw.pos(path+".pull_policy"), path+".pull_policy", "unknown pull_policy %q", pp)
	}
}

func buildContext(b *types.BuildConfig, workDir string) string {
	if b == nil || b.Context == "" {
		return "."
	}
	if rel, err := relPath(workDir, b.Context); err == nil {
		return rel
	}
	return b.Context
}

func (lw *lowerer) container(svc *ast.Service, s *types.ServiceConfig, path string) {
	c := &svc.Container
	if s.Entrypoint != nil {
		c.Entrypoint = append([]string{}, s.Entrypoint...)
	}
	if s.Command != nil {
		c.Command = append([]string{}, s.Command...)
	}
	c.WorkingDir = s.WorkingDir
	c.Hostname = s.Hostname
	if host, domain, ok := strings.Cut(s.Hostname, "."); ok {
		c.Hostname = host
		lw.diags.Infof("hostname-domain", lw.pos(path+".hostname"), path+".hostname", "hostname %q: the pod's hostname is %q; the domain %q comes from the cluster DNS", s.Hostname, host, domain)
	}
	c.TTY = s.Tty
	c.Stdin = s.StdinOpen
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		c.StopGracePeriod = &d
	}
	sec := &c.Security
	if s.User != "" {
		sec.UserPos = lw.pos(path + ".user")
		u, g, _ := strings.Cut(s.User, ":")
		if uid, err := strconv.ParseInt(u, 10, 64); err == nil && uid >= 0 {
			sec.RunAsUser = &uid
		} else {
			lw.diags.Warnf("user-name", sec.UserPos, path+".user", "user %q is a name: Kubernetes needs a numeric UID, so the image's user is kept", u).
				Note("write the numeric UID, e.g. user: \"1000:1000\"")
		}
		if g != "" {
			if gid, err := strconv.ParseInt(g, 10, 64); err == nil && gid >= 0 {
				sec.RunAsGroup = &gid
			} else {
				lw.diags.Warnf("user-name", sec.UserPos, path+".user", "group %q is a name: Kubernetes needs a numeric GID, so the image's group is kept", g)
			}
		}
	}
	// positions only of what is set, as for user and init: looking up
	// a key that is not written costs a lookup per parent key
	sec.Privileged = s.Privileged
	if s.Privileged {
		sec.PrivPos = lw.pos(path + ".privileged")
	}
	sec.CapAdd = upperCaps(s.CapAdd)
	sec.CapDrop = upperCaps(s.CapDrop)
	if len(s.CapAdd)+len(s.CapDrop) > 0 {
		sec.CapPos = lw.pos(path + ".cap_add")
	}
	sec.ReadOnlyRootFS = s.ReadOnly
	if s.Init != nil && *s.Init {
		sec.Init = true
		sec.InitPos = lw.pos(path + ".init")
	}
	lw.groups(sec, s.GroupAdd, path+".group_add")
	lw.stopSignal(s.StopSignal, path+".stop_signal")
	switch s.Pid {
	case "":
	case "host":
		sec.HostPID = true
		sec.HostPIDPos = lw.pos(path + ".pid")
	default:
		lw.diags.Warnf("unsupported-key", lw.pos(path+".pid"), path+".pid", "pid %q is not supported and is ignored", s.Pid)
	}
	switch s.Ipc {
	case "", "private", "shareable":
	case "host":
		sec.HostIPC = true
		sec.HostIPCPos = lw.pos(path + ".ipc")
	default:
		lw.diags.Warnf("unsupported-key", lw.pos(path+".ipc"), path+".ipc", "ipc %q is not supported and is ignored", s.Ipc)
	}
}

// groups lowers group_add: numeric groups are supplemental groups of the
// pod; a group name would need the image's /etc/group, which Kubernetes
// does not read.
func (lw *lowerer) groups(sec *ast.Security, groups []string, p string) {
	if len(groups) == 0 {
		return
	}
	sec.GroupsPos = lw.pos(p)
	for i, g := range groups {
		gid, err := strconv.ParseInt(g, 10, 64)
		if err != nil || gid < 0 {
			gp := p + "." + strconv.Itoa(i)
			lw.diags.Warnf("group-name", lw.pos(gp), gp, "group %q is a name: Kubernetes needs a numeric GID, so it is not added", g).
				Note("write the numeric GID, e.g. group_add: [\"999\"]")
			continue
		}
		if !slices.Contains(sec.SupplementalGroups, gid) {
			sec.SupplementalGroups = append(sec.SupplementalGroups, gid)
		}
	}
}

// stopSignal reports a stop_signal other than SIGTERM: the container's
// stop signal (lifecycle.stopSignal) is behind the alpha feature gate
// ContainerStopSignals in Kubernetes 1.36, off by default, and an API
// server without it drops the field silently (test/e2e proves it).
func (lw *lowerer) stopSignal(sig, p string) {
	if sig == "" {
		return
	}
	switch strings.TrimPrefix(strings.ToUpper(sig), "SIG") {
	case "TERM", "15":
		return // what Kubernetes sends
	}
	lw.diags.Warnf("unsupported-key", lw.pos(p), p, "stop_signal %s is ignored: Kubernetes stops containers with SIGTERM", sig).
		Note("set STOPSIGNAL in the image: the container runtime honours it").
		Note("the container's stopSignal field needs the alpha feature gate ContainerStopSignals, off by default in Kubernetes 1.36")
}

// upperCaps writes capabilities as Kubernetes does: without the CAP_
// prefix, upper case, sorted.
func upperCaps(caps []string) []string {
	if len(caps) == 0 {
		return nil
	}
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
	}
	sort.Strings(out)
	return out
}

func (lw *lowerer) environment(svc *ast.Service, s *types.ServiceConfig, path string) {
	if len(s.Environment) > 0 {
		svc.Container.Env = make([]ast.EnvVar, 0, len(s.Environment))
	}
	for _, k := range sortedKeys(s.Environment) {
		v := s.Environment[k]
		p := path + ".environment." + k
		if v == nil {
			// KEY without a value takes the value from the environment
			// at compile time, as compose does.
			if val, ok := lw.l.Env[k]; ok {
				svc.Container.Env = append(svc.Container.Env, ast.EnvVar{Name: k, Value: val, Pos: lw.pos(p)})
				continue
			}
			lw.diags.Warnf("env-unset", lw.pos(p), p, "%s has no value and is not set in the environment: it is dropped", k).Note("set %s in the environment or in .env, or give it a value", k)
			continue
		}
		svc.Container.Env = append(svc.Container.Env, ast.EnvVar{Name: k, Value: *v, Pos: lw.pos(p)})
	}
	for i, ef := range s.EnvFiles {
		p := path + ".env_file." + strconv.Itoa(i)
		if !lw.m.Has(p) {
			p = path + ".env_file"
		}
		vars, err := readEnvFile(ef.Path, displayPath(ef.Path, lw.l.WorkDir), ef.Format, lw.l.Env)
		if fe := (*fileError)(nil); errors.As(err, &fe) {
			lw.diags.Errorf(fe.Code, lw.pos(p), p, "%s", fe.Msg)
			continue
		}
		if errors.Is(err, errEnvFormat) {
			fp := p + ".format"
			lw.diags.Errorf("env-file", lw.pos(fp), fp, "%v", err)
			continue
		}
		if err != nil {
			if !bool(ef.Required) && isNotExist(err) {
				lw.diags.Infof("env-file-missing", lw.pos(p), p, "optional env_file %s does not exist and is skipped", displayPath(ef.Path, lw.l.WorkDir))
				continue
			}
			lw.diags.Errorf("env-file", lw.pos(p), p, "cannot read env_file %s: %v", displayPath(ef.Path, lw.l.WorkDir), errorText(err))
			continue
		}
		f := ast.EnvFile{Name: fmt.Sprintf("%s-env-%d", s.Name, i), Path: ef.Path, Pos: lw.pos(p)}
		for _, k := range sortedKeys(vars) {
			f.Vars = append(f.Vars, ast.EnvVar{Name: k, Value: vars[k], Pos: f.Pos})
		}
		svc.EnvFiles = append(svc.EnvFiles, f)
	}
}

func (lw *lowerer) ports(svc *ast.Service, s *types.ServiceConfig, path string) {
	for i, p := range s.Ports {
		pp := path + ".ports." + strconv.Itoa(i)
		pos := lw.pos(pp)
		proto := ast.Protocol(strings.ToLower(p.Protocol))
		if proto == "" {
			proto = ast.TCP
		}
		if proto != ast.TCP && proto != ast.UDP && proto != ast.SCTP {
			lw.diags.Errorf("port-protocol", pos, pp, "unknown protocol %q", p.Protocol)
			continue
		}
		if p.Target == 0 || p.Target > 65535 {
			lw.diags.Errorf("port-range", pos, pp, "container port %d out of range [1-65535]", p.Target)
			continue
		}
		port := ast.Port{Name: p.Name, Target: uint16(p.Target), Protocol: proto, AppProtocol: p.AppProtocol, Pos: pos}
		if p.Published != "" {
			pub := p.Published
			if lo, hi, ok := strings.Cut(pub, "-"); ok {
				lw.diags.Warnf("published-range", pos, pp, "published range %s for one container port: only %s is published", pub, lo).Note("a Service maps one port to one port; the ports after %s up to %s are not reachable", lo, hi)
				pub = lo
			}
			n, err := strconv.ParseUint(pub, 10, 16)
			if err != nil || n == 0 {
				lw.diags.Errorf("port-range", pos, pp, "published port %q out of range [1-65535]", p.Published)
				continue
			}
			port.Published = uint16(n)
		}
		if loopback(p.HostIP) {
			// compose publishes it to the host alone: nobody outside
			// reaches it, so it is not published here either
			lw.diags.Warnf("port-loopback", pos, pp, "port %d is published on the loopback address %s only: it is not reachable from outside the system", p.Target, p.HostIP).
				Note("other services of the system still reach it on %d", p.Target)
			port.Published = 0
		} else if p.HostIP != "" && p.HostIP != "0.0.0.0" && p.HostIP != "::" {
			lw.diags.Infof("port-host-ip", pos, pp, "host_ip %s is ignored: the published port is reachable on the Service's address", p.HostIP)
		}
		if p.Published == "" && !loopback(p.HostIP) {
			// compose publishes it on a random host port
			port.Published = port.Target
			lw.diags.Infof("port-ephemeral", pos, pp, "port %d is published on a random host port in compose: here it is published on %d", p.Target, p.Target)
		}
		if p.Mode == "host" {
			lw.diags.Infof("port-mode", pos, pp, "mode host is ignored: published ports go through a Service")
		}
		svc.Ports = append(svc.Ports, port)
	}
	for i, e := range s.Expose {
		pp := path + ".expose." + strconv.Itoa(i)
		pos := lw.pos(pp)
		spec, protoStr, _ := strings.Cut(e, "/")
		proto := ast.Protocol(strings.ToLower(protoStr))
		if proto == "" {
			proto = ast.TCP
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a || (proto != ast.TCP && proto != ast.UDP && proto != ast.SCTP) {
			lw.diags.Errorf("port-range", pos, pp, "invalid expose %q", e)
			continue
		}
		if b-a+1 > maxPortRange {
			lw.diags.Errorf("port-range", pos, pp, "%s", portRangeMsg("expose", e, b-a+1))
			continue
		}
		for n := a; n <= b; n++ {
			svc.Ports = append(svc.Ports, ast.Port{Target: uint16(n), Protocol: proto, Exposed: true, Pos: pos})
		}
	}
}

func (lw *lowerer) networks(svc *ast.Service, s *types.ServiceConfig, path string) {
	svc.NetworkMode = s.NetworkMode
	if s.NetworkMode != "" {
		svc.NetworkModePos = lw.pos(path + ".network_mode")
	}
	switch {
	case s.NetworkMode == "" || s.NetworkMode == "bridge" || s.NetworkMode == "default":
		svc.NetworkMode = ""
	case s.NetworkMode == "host":
		svc.Container.Security.HostNetwork = true
		lw.diags.Warnf("network-mode-host", svc.NetworkModePos, path+".network_mode", "network_mode host shares the node's network: the pod needs the privileged security level").
			Note("publish the ports instead if the service only needs to be reachable")
	case s.NetworkMode == "none":
		lw.diags.Warnf("network-mode-none", svc.NetworkModePos, path+".network_mode", "network_mode none: the service is cut off by network policy, but keeps a pod address")
	case s.NetworkMode == "service:"+s.Name:
		// reported by Check as network-mode-cycle
	case strings.HasPrefix(s.NetworkMode, "service:"):
		lw.diags.Warnf("network-mode-service", svc.NetworkModePos, path+".network_mode", "%s: the service runs in a pod of its own on the same networks as %s; they do not share localhost", s.NetworkMode, strings.TrimPrefix(s.NetworkMode, "service:"))
	case strings.HasPrefix(s.NetworkMode, "container:"):
		lw.diags.Warnf("unsupported-key", svc.NetworkModePos, path+".network_mode", "%s is not supported and is ignored", s.NetworkMode)
		svc.NetworkMode = ""
	default:
		lw.diags.Warnf("unsupported-key", svc.NetworkModePos, path+".network_mode", "network_mode %q is not supported and is ignored", s.NetworkMode)
		svc.NetworkMode = ""
	}
	names := sortedKeys(s.Networks)
	if len(names) == 0 && svc.NetworkMode == "" {
		names = []string{"default"}
	}
	if len(names) > 0 {
		svc.Networks = make([]ast.NetworkAttachment, 0, len(names))
	}
	for _, n := range names {
		np := path + ".networks." + n
		svc.Networks = append(svc.Networks, ast.NetworkAttachment{Network: n, Pos: lw.pos(np)})
		cfg := s.Networks[n]
		if cfg == nil {
			continue
		}
		for i, a := range cfg.Aliases {
			svc.Aliases = append(svc.Aliases, ast.Alias{Name: a, Network: n, Pos: lw.pos(np + ".aliases." + strconv.Itoa(i))})
		}
		if cfg.Ipv4Address != "" || cfg.Ipv6Address != "" || len(cfg.LinkLocalIPs) > 0 || cfg.MacAddress != "" {
			lw.diags.Warnf("unsupported-key", lw.pos(np), np, "fixed addresses are not supported: pods get addresses from the cluster network").Note("reach the service by its name instead")
		}
		lw.unsupportedFields(np, cfg, serviceNetworkKeys)
	}
	if s.NetworkMode != "" && len(s.Networks) > 0 {
		lw.diags.Errorf("network-mode", svc.NetworkModePos, path+".network_mode", "network_mode and networks cannot both be set").Note("compose refuses this too: keep one of them")
	}
	for i, l := range s.Links {
		target, alias, ok := strings.Cut(l, ":")
		if !ok {
			continue // the service's own name already resolves
		}
		// The alias names the linked service, so it belongs to the target.
		lw.pendingLinks = append(lw.pendingLinks, pendingLink{target: target, alias: ast.Alias{Name: alias, Pos: lw.pos(path + ".links." + strconv.Itoa(i))}, from: s.Name})
	}
	for i := range s.ExternalLinks {
		p := path + ".external_links." + strconv.Itoa(i)
		lw.diags.Warnf("unsupported-key", lw.pos(p), p, "external_links are not supported: reach the other system by its Service DNS name")
	}
}

func loopback(hostIP string) bool {
	if hostIP == "" {
		return false // most ports have no host_ip
	}
	ip := net.ParseIP(hostIP)
	return ip != nil && ip.IsLoopback()
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func validCIDR(s string) (string, bool) {
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n.String(), true
	}
	if ip := net.ParseIP(s); ip != nil {
		if ip.To4() != nil {
			return ip.String() + "/32", true
		}
		return ip.String() + "/128", true
	}
	return "", false
}
