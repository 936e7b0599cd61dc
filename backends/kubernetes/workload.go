package kubernetes

import (
	"fmt"
	"maps"
	"math"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/ast"
)

func (g *gen) service(s *ast.Service) {
	sm := g.svcs[s.Name]
	g.kubeServices(s, sm)
	pod := g.podSpec(s, sm)
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: g.podLabels(s.Name, sm)}, Spec: pod}
	ann := g.annotations(s)
	if len(ann) > 0 {
		tmpl.Annotations = ann
	}
	meta := g.meta(sm.name, sm.labels)
	if len(ann) > 0 {
		meta.Annotations = ann
		if len(g.sysAnnotations) > 0 {
			// the service's win over the system's
			meta.Annotations = make(map[string]string, len(g.sysAnnotations)+len(ann))
			maps.Copy(meta.Annotations, g.sysAnnotations)
			maps.Copy(meta.Annotations, ann)
		}
	}
	sel := &metav1.LabelSelector{MatchLabels: sm.selector}
	switch s.Lifecycle {
	case ast.Global:
		ds := &appsv1.DaemonSet{TypeMeta: tm("apps/v1", "DaemonSet"), ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
		daemonSetStrategy(s, ds)
		g.add(ds)
	case ast.RunToCompletion:
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		if s.RestartOnFailure {
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}
		job := &batchv1.Job{TypeMeta: tm("batch/v1", "Job"), ObjectMeta: meta,
			Spec: batchv1.JobSpec{Template: tmpl}}
		backoff := int32(0)
		if s.MaxAttempts != nil {
			backoff = *s.MaxAttempts
		} else if s.RestartOnFailure {
			backoff = 6
		}
		job.Spec.BackoffLimit = &backoff
		if s.Replicas != nil && *s.Replicas > 1 {
			job.Spec.Parallelism = s.Replicas
			job.Spec.Completions = s.Replicas
		}
		g.add(job)
	default:
		d := &appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl, Replicas: s.Replicas}}
		if d.Spec.Replicas == nil {
			one := int32(1)
			d.Spec.Replicas = &one
		}
		if usesClaims(s) {
			// a ReadWriteOnce claim cannot be mounted by the old and the
			// new pod at once
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}
		g.deploymentStrategy(s, d)
		g.add(d)
	}
}

func usesClaims(s *ast.Service) bool {
	for _, m := range s.Mounts {
		if m.Kind == ast.MountVolume {
			return true
		}
	}
	return false
}

// podLabels are the labels of a service's pods: those of its objects, the
// labels of its networks and those of the shared names it holds.
func (g *gen) podLabels(service string, sm *serviceMeta) map[string]string {
	var nets []string
	if r := g.rules[service]; r != nil {
		nets = r.Networks
	}
	if len(nets) == 0 && len(sm.names) == 0 {
		return sm.labels
	}
	l := make(map[string]string, len(sm.labels)+len(nets)+len(sm.names))
	maps.Copy(l, sm.labels)
	for _, n := range nets {
		l[g.networkLabel(n)] = "true"
	}
	for _, n := range sm.names {
		l[n] = "true"
	}
	return l
}

// annotations are the service's labels as annotations; a key Kubernetes
// cannot have, or one that Tycho or Kubernetes owns (where Kubernetes
// reads its own, e.g. kubectl.kubernetes.io/), is dropped with a warning:
// docker runs the file, so it must compile.
func (g *gen) annotations(s *ast.Service) map[string]string {
	if len(s.Annotations) == 0 {
		return nil
	}
	m := make(map[string]string, len(s.Annotations))
	for _, kv := range s.Annotations {
		if why := g.annotationKeyError(kv.Key); why != "" {
			g.diags.Warnf("annotation-key", kv.Pos, "services."+s.Name+".labels", "label %q is not a valid Kubernetes annotation key and is dropped: %s", kv.Key, why)
			continue
		}
		if owner := ReservedAnnotation(kv.Key); owner != "" {
			g.diags.Warnf("reserved-annotation", kv.Pos, "services."+s.Name+".labels", "label %s would become an annotation that is %s, and is dropped", kv.Key, ownedBy(owner)).
				Note("use a key of your own domain")
			continue
		}
		m[kv.Key] = kv.Value
	}
	return m
}

// annotationKeyError says why key cannot be an annotation key, "" when it
// can.
func (g *gen) annotationKeyError(key string) string {
	why, ok := g.annotationKeyErr[key]
	if !ok {
		why = strings.Join(validation.IsQualifiedName(key), "; ")
		g.annotationKeyErr[key] = why
	}
	return why
}

// escapeDollar keeps "$(VAR)" literal: Kubernetes expands $(VAR) in
// command, args and env values, compose does not.
func escapeDollar(s string) string {
	// Kubernetes reads "$$" as "$" and expands "$(VAR)": doubling every
	// "$" keeps the string as compose gave it.
	return strings.ReplaceAll(s, "$", "$$")
}

func escapeAll(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = escapeDollar(s)
	}
	return out
}

func (g *gen) podSpec(s *ast.Service, sm *serviceMeta) corev1.PodSpec {
	c := &s.Container
	ctr := corev1.Container{
		Name:       sm.name,
		Image:      c.Image,
		Command:    escapeAll(c.Entrypoint),
		Args:       escapeAll(c.Command),
		WorkingDir: c.WorkingDir,
		TTY:        c.TTY,
		Stdin:      c.Stdin,
	}
	if c.Entrypoint != nil && len(c.Entrypoint) == 0 {
		// entrypoint: [] clears the image's entrypoint; Kubernetes keeps
		// the image's for an empty list, so say so.
		g.diags.Warnf("empty-entrypoint", s.Pos, "services."+s.Name+".entrypoint", "an empty entrypoint cannot clear the image's entrypoint on Kubernetes")
	}
	switch c.PullPolicy {
	case ast.PullAlways:
		ctr.ImagePullPolicy = corev1.PullAlways
	case ast.PullNever:
		ctr.ImagePullPolicy = corev1.PullNever
	case ast.PullIfNotPresent:
		ctr.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if len(c.Env) > 0 {
		ctr.Env = make([]corev1.EnvVar, len(c.Env))
		for i, e := range c.Env {
			ctr.Env[i] = corev1.EnvVar{Name: e.Name, Value: escapeDollar(e.Value)}
		}
	}
	if len(s.Ports) > 0 {
		seen := map[portKey]bool{}
		ctr.Ports = make([]corev1.ContainerPort, 0, len(s.Ports))
		for _, p := range s.Ports {
			key := portKey{p.Target, p.Protocol}
			if seen[key] {
				continue
			}
			seen[key] = true
			ctr.Ports = append(ctr.Ports, corev1.ContainerPort{ContainerPort: int32(p.Target), Protocol: proto(p.Protocol)})
		}
	}
	ctr.Resources = resources(s.Resources)
	spec := corev1.PodSpec{}
	g.storage(s, sm, &spec, &ctr)
	g.envFiles(s, sm, &ctr)
	g.probes(s, &ctr)
	ctr.SecurityContext = containerSecurity(&c.Security)
	ctr.Lifecycle = lifecycle(c)
	spec.Containers = []corev1.Container{ctr}
	spec.InitContainers = append(g.waits(s), spec.InitContainers...)
	for _, ic := range spec.InitContainers {
		if ic.Image == g.opts.KubectlImage && len(ic.VolumeMounts) > 0 && ic.VolumeMounts[0].Name == waiterTokenVolume {
			spec.Volumes = append(spec.Volumes, waiterToken())
			if s.ServiceAccount == "" {
				spec.ServiceAccountName = g.waiterName()
			}
			break
		}
	}
	if c.StopGracePeriod != nil {
		secs := int64(c.StopGracePeriod.Seconds())
		spec.TerminationGracePeriodSeconds = &secs
	}
	spec.Hostname = hostnameLabel(c.Hostname)
	sec := c.Security
	spec.HostNetwork = sec.HostNetwork
	spec.HostPID = sec.HostPID
	spec.HostIPC = sec.HostIPC
	if sec.Init {
		// With a shared process namespace the pod's pause process is PID
		// 1 and reaps zombies, which is what compose's init does.
		t := true
		spec.ShareProcessNamespace = &t
	}
	spec.AutomountServiceAccountToken = sec.AutomountToken
	if s.ServiceAccount != "" {
		spec.ServiceAccountName = s.ServiceAccount
	}
	if sec.AutomountToken == nil && spec.ServiceAccountName != "" && s.ServiceAccount == "" {
		// the waiter's token is mounted into the waiting init container
		// only
		f := false
		spec.AutomountServiceAccountToken = &f
	}
	if sec.SeccompRuntimeDefault || sec.RunAsNonRoot != nil || len(s.Sysctls) > 0 || len(sec.SupplementalGroups) > 0 {
		podSec := &corev1.PodSecurityContext{RunAsNonRoot: sec.RunAsNonRoot, SupplementalGroups: sec.SupplementalGroups}
		if sec.SeccompRuntimeDefault {
			podSec.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		}
		if len(s.Sysctls) > 0 {
			podSec.Sysctls = make([]corev1.Sysctl, len(s.Sysctls))
			for i, kv := range s.Sysctls {
				podSec.Sysctls[i] = corev1.Sysctl{Name: kv.Key, Value: kv.Value}
			}
		}
		spec.SecurityContext = podSec
	}
	g.placement(s, sm, &spec)
	for _, h := range s.ExtraHosts {
		spec.HostAliases = append(spec.HostAliases, corev1.HostAlias{IP: h.IP, Hostnames: h.Hostnames})
	}
	if len(s.DNS.Nameservers)+len(s.DNS.Searches)+len(s.DNS.Options) > 0 {
		dc := &corev1.PodDNSConfig{Nameservers: s.DNS.Nameservers, Searches: s.DNS.Searches}
		for _, o := range s.DNS.Options {
			opt := corev1.PodDNSConfigOption{Name: o.Key}
			if o.Value != "" {
				v := o.Value
				opt.Value = &v
			}
			dc.Options = append(dc.Options, opt)
		}
		spec.DNSConfig = dc
		if len(s.DNS.Nameservers) > 0 {
			// only the given nameservers, as in compose; the system's
			// own names then do not resolve
			spec.DNSPolicy = corev1.DNSNone
			g.diags.Warnf("dns-servers", s.DNS.Pos, "services."+s.Name+".dns", "dns servers replace the cluster DNS: other services are not found by name").Note("drop dns: to keep compose names working")
		}
	}
	return spec
}

// hostnameLabel normalises a hostname, keeping empty empty.
func hostnameLabel(s string) string {
	if s == "" {
		return ""
	}
	return DNSLabel(s, 63)
}

func resources(r ast.Resources) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = q
	}
	if r.CPULimitMilli > 0 {
		set(&out.Limits, corev1.ResourceCPU, *resource.NewMilliQuantity(r.CPULimitMilli, resource.DecimalSI))
	}
	if r.MemoryLimit > 0 {
		set(&out.Limits, corev1.ResourceMemory, *resource.NewQuantity(r.MemoryLimit, resource.BinarySI))
	}
	if r.CPURequestMilli > 0 {
		set(&out.Requests, corev1.ResourceCPU, *resource.NewMilliQuantity(r.CPURequestMilli, resource.DecimalSI))
	}
	if r.MemoryRequest > 0 {
		set(&out.Requests, corev1.ResourceMemory, *resource.NewQuantity(r.MemoryRequest, resource.BinarySI))
	}
	if r.DiskLimit > 0 {
		set(&out.Limits, corev1.ResourceEphemeralStorage, *resource.NewQuantity(r.DiskLimit, resource.BinarySI))
	}
	if r.GPUs > 0 {
		// the resource the vendor's device plugin advertises
		vendor := r.GPUVendor
		if vendor == "" {
			vendor = "nvidia"
		}
		set(&out.Limits, corev1.ResourceName(vendor+".com/gpu"), *resource.NewQuantity(r.GPUs, resource.DecimalSI))
	}
	return out
}

func containerSecurity(sec *ast.Security) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{RunAsUser: sec.RunAsUser, RunAsGroup: sec.RunAsGroup,
		AllowPrivilegeEscalation: sec.AllowPrivilegeEscalation}
	if sec.Privileged {
		t := true
		sc.Privileged = &t
	}
	if sec.ReadOnlyRootFS {
		t := true
		sc.ReadOnlyRootFilesystem = &t
	}
	if len(sec.CapAdd) > 0 || len(sec.CapDrop) > 0 || sec.DropAllCapabilities {
		caps := &corev1.Capabilities{}
		for _, c := range sec.CapAdd {
			caps.Add = append(caps.Add, corev1.Capability(c))
		}
		if sec.DropAllCapabilities {
			caps.Drop = []corev1.Capability{"ALL"}
		} else {
			for _, c := range sec.CapDrop {
				caps.Drop = append(caps.Drop, corev1.Capability(c))
			}
		}
		sc.Capabilities = caps
	}
	if *sc == (corev1.SecurityContext{}) {
		return nil
	}
	return sc
}

func (g *gen) envFiles(s *ast.Service, sm *serviceMeta, ctr *corev1.Container) {
	for _, f := range s.EnvFiles {
		n := DNSLabel(sm.name+"-"+strings.TrimPrefix(f.Name, s.Name+"-"), 63)
		if !g.claim("ConfigMap", n, fmt.Sprintf("env_file %s of service %q", f.Path, s.Name), f.Pos, "services."+s.Name+".env_file") {
			continue
		}
		cm := &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: g.meta(n, sm.labels), Data: make(map[string]string, len(f.Vars))}
		for _, v := range f.Vars {
			cm.Data[v.Name] = v.Value
		}
		g.add(cm)
		ctr.EnvFrom = append(ctr.EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: n}}})
	}
}

func (g *gen) storage(s *ast.Service, sm *serviceMeta, spec *corev1.PodSpec, ctr *corev1.Container) {
	addVol := func(v corev1.Volume) string {
		for _, have := range spec.Volumes {
			if have.Name == v.Name {
				return v.Name
			}
		}
		spec.Volumes = append(spec.Volumes, v)
		return v.Name
	}
	for i, m := range s.Mounts {
		vm := corev1.VolumeMount{MountPath: m.Target, ReadOnly: m.ReadOnly}
		switch m.Kind {
		case ast.MountVolume:
			claim := g.volName[m.Source]
			vol := g.sys.Volume(m.Source)
			vm.Name = addVol(corev1.Volume{Name: DNSLabel("vol-"+claim, 63), VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
			if vol != nil && vol.Populate {
				g.populate(s, spec, vm)
			}
		case ast.MountBindFile, ast.MountBindDir:
			n := DNSLabel(m.ContentName, 63)
			if !g.claim("ConfigMap", n, fmt.Sprintf("bind mount %s of service %q", m.Source, s.Name), m.Pos, "services."+s.Name+".volumes") {
				continue
			}
			files := make([]ast.File, len(m.Files))
			var items []corev1.KeyToPath
			for j, f := range m.Files {
				key := dataKey(f.Name)
				files[j] = ast.File{Name: key, Data: f.Data}
				items = append(items, corev1.KeyToPath{Key: key, Path: f.Name})
			}
			g.add(configMap(g.meta(n, sm.labels), files))
			src := &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: n}, Items: items}
			vm.Name = addVol(corev1.Volume{Name: n, VolumeSource: corev1.VolumeSource{ConfigMap: src}})
			if m.Kind == ast.MountBindFile {
				vm.SubPath = m.Files[0].Name
			}
		case ast.MountHostPath:
			vm.Name = addVol(corev1.Volume{Name: "host-" + strconv.Itoa(i), VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: m.Source}}})
		case ast.MountScratch:
			vm.Name = addVol(corev1.Volume{Name: "scratch-" + strconv.Itoa(i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		case ast.MountMemory:
			ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
			if m.SizeLimit > 0 {
				ed.SizeLimit = resource.NewQuantity(m.SizeLimit, resource.BinarySI)
			}
			vm.Name = addVol(corev1.Volume{Name: "tmpfs-" + strconv.Itoa(i), VolumeSource: corev1.VolumeSource{EmptyDir: ed}})
		}
		ctr.VolumeMounts = append(ctr.VolumeMounts, vm)
	}
	for i, r := range s.Secrets {
		n := g.secretName[r.Name]
		// one volume per mount: the same secret may be mounted under two
		// file names
		vn := DNSLabel("secret-"+strconv.Itoa(i)+"-"+n, 63)
		// an external secret is expected to hold its content under the
		// key of the compose name too (docs/mapping.md)
		src := &corev1.SecretVolumeSource{SecretName: n, Items: []corev1.KeyToPath{{Key: dataKey(r.Name), Path: path.Base(r.Target), Mode: r.Mode}}}
		addVol(corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{Secret: src}})
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: vn, MountPath: r.Target, ReadOnly: true, SubPath: path.Base(r.Target)})
	}
	for i, r := range s.Configs {
		n := g.configName[r.Name]
		vn := DNSLabel("config-"+strconv.Itoa(i)+"-"+n, 63)
		src := &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: n}, Items: []corev1.KeyToPath{{Key: dataKey(r.Name), Path: path.Base(r.Target), Mode: r.Mode}}}
		addVol(corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{ConfigMap: src}})
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: vn, MountPath: r.Target, ReadOnly: true, SubPath: path.Base(r.Target)})
	}
	if s.ShmSize > 0 {
		n := addVol(corev1.Volume{Name: "dshm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(s.ShmSize, resource.BinarySI)}}})
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: n, MountPath: "/dev/shm"})
	}
}

// populate copies the image's content at the mount path into the volume
// the first time, as docker does for an empty named volume.
func (g *gen) populate(s *ast.Service, spec *corev1.PodSpec, vm corev1.VolumeMount) {
	target := "/tycho-populate"
	script := fmt.Sprintf("if [ -z \"$(ls -A %[2]s)\" ]; then cp -a %[1]s/. %[2]s/; fi", shellQuote(vm.MountPath), target)
	spec.InitContainers = append(spec.InitContainers, corev1.Container{
		Name:            DNSLabel("populate-"+vm.Name, 63),
		Image:           s.Container.Image,
		Command:         []string{"/bin/sh", "-c", script},
		VolumeMounts:    []corev1.VolumeMount{{Name: vm.Name, MountPath: target}},
		SecurityContext: containerSecurity(&s.Container.Security),
	})
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func seconds(d interface{ Seconds() float64 }) int32 {
	s := int32(d.Seconds())
	return max(s, 1)
}

func (g *gen) probes(s *ast.Service, ctr *corev1.Container) {
	h := s.Health
	if h == nil {
		return
	}
	// the probes share their command, like the objects their labels
	exec := &corev1.ExecAction{Command: escapeAll(h.Exec)}
	probe := func() *corev1.Probe {
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: exec}}
		// compose's defaults: interval 30s, timeout 30s, retries 3
		p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold = 30, 30, 3
		if h.Interval > 0 {
			p.PeriodSeconds = seconds(h.Interval)
		}
		if h.Timeout > 0 {
			p.TimeoutSeconds = seconds(h.Timeout)
		}
		if h.Retries > 0 {
			p.FailureThreshold = h.Retries
		}
		return p
	}
	ctr.ReadinessProbe = probe()
	// A failed startupProbe restarts the container, which compose never
	// does for a healthcheck, so one is made only to hold a liveness
	// probe back during start_period, or to probe every start_interval
	// until the first success, with no failure limit.
	switch {
	case s.Liveness && (h.StartPeriod > 0 || h.StartInterval > 0):
		sp := probe()
		if h.StartInterval > 0 {
			sp.PeriodSeconds = seconds(h.StartInterval)
		} else {
			sp.PeriodSeconds = min(sp.PeriodSeconds, 5)
		}
		// fail only after start_period has passed
		sp.FailureThreshold = max(int32(h.StartPeriod.Seconds())/sp.PeriodSeconds, 1) + sp.FailureThreshold
		ctr.StartupProbe = sp
	case !s.Liveness && h.StartInterval > 0 && seconds(h.StartInterval) < ctr.ReadinessProbe.PeriodSeconds:
		sp := probe()
		sp.PeriodSeconds = seconds(h.StartInterval)
		sp.FailureThreshold = math.MaxInt32 // never restarts the container
		ctr.StartupProbe = sp
	}
	if s.Liveness {
		ctr.LivenessProbe = probe()
	}
}

// waits makes the init containers that hold a service back until its
// dependencies are ready (see docs/mapping.md, depends_on):
//   - service_completed_successfully on a one-shot service: kubectl wait
//     until its Job is complete;
//   - started or healthy, on a TCP port of a service on a shared network:
//     a connection through its Service (only ready pods are behind it, and
//     the readiness probe is the healthcheck);
//   - otherwise (no TCP port, no shared network): kubectl rollout status of
//     its workload, which ends when its pods are ready;
//   - started or healthy on a one-shot service: no wait (it may already
//     have finished, and compose starts the dependent then too).
func (g *gen) waits(s *ast.Service) []corev1.Container {
	var out []corev1.Container
	for _, d := range s.DependsOn {
		dep := g.sys.Service(d.Service)
		if dep == nil {
			continue
		}
		depName := g.svcs[d.Service].name
		var c corev1.Container
		port := firstTCPPort(dep)
		switch {
		case dep.Lifecycle == ast.RunToCompletion && d.Condition == ast.ServiceCompletedSuccessfully:
			c.Image = g.opts.KubectlImage
			c.Command = []string{"kubectl", "wait", "--for=condition=complete", "--timeout=-1s", "job/" + depName}
		case dep.Lifecycle == ast.RunToCompletion:
			g.diags.Infof("depends-on-job", d.Pos, dependsOnPath(s, d), "%s runs to completion: %s starts without waiting for it", d.Service, s.Name)
			continue
		case port != 0 && sharesNetwork(g.sys, s, dep):
			c.Image = g.opts.WaitImage
			c.Command = []string{"/bin/sh", "-c", WaitScript(depName, port)}
		default:
			kind := "deployment"
			if dep.Lifecycle == ast.Global {
				kind = "daemonset"
			}
			c.Image = g.opts.KubectlImage
			c.Command = []string{"kubectl", "rollout", "status", "--watch", "--timeout=0s", kind + "/" + depName}
		}
		c.Name = DNSLabel("wait-for-"+depName, 63)
		c.SecurityContext = g.helperSecurity()
		if c.Image == g.opts.KubectlImage {
			if !g.waiterUsed {
				g.waiterUsed = true
				g.waiterPos, g.waiterPath = d.Pos, dependsOnPath(s, d)
			}
			c.VolumeMounts = []corev1.VolumeMount{{Name: waiterTokenVolume, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}
			if g.egressRestricted(s.Name) {
				g.diags.Warnf("wait-needs-api", d.Pos, dependsOnPath(s, d), "%s waits for %s through the Kubernetes API, but its egress is restricted by network policy: the wait may never end", s.Name, d.Service).
					Note("put %s on a network that is not internal, or depend on a TCP port of a service on a shared network", s.Name)
			}
			if s.ServiceAccount != "" {
				g.waiterSubjects[s.ServiceAccount] = true
			}
		}
		out = append(out, c)
	}
	return out
}

// dependsOnPath is the key path of s's dependency d.
func dependsOnPath(s *ast.Service, d ast.Dependency) string {
	return "services." + s.Name + ".depends_on." + d.Service
}

// sharesNetwork reports whether a and b are on a common network (their
// pods may connect), following network_mode: service:X.
func sharesNetwork(sys *ast.System, a, b *ast.Service) bool {
	oa, ob := sys.NetworkOwner(a), sys.NetworkOwner(b)
	if oa == nil || oa.NetworkMode == "none" || ob == nil || ob.NetworkMode == "none" {
		return false
	}
	an := map[string]bool{}
	for _, n := range oa.Networks {
		an[n.Network] = true
	}
	for _, n := range ob.Networks {
		if an[n.Network] {
			return true
		}
	}
	return false
}

func (g *gen) egressRestricted(service string) bool {
	r := g.rules[service]
	return r != nil && r.EgressRestricted
}

// WaitScript is the shell loop of a dependency wait: until the dependency's
// Service accepts a TCP connection on port (its ready pods are behind it).
func WaitScript(service string, port uint16) string {
	p := strconv.Itoa(int(port))
	return "until nc -z -w 2 " + service + " " + p + "; do echo waiting for " + service + ":" + p + "; sleep 2; done"
}

func firstTCPPort(s *ast.Service) uint16 {
	for _, p := range s.Ports {
		if p.Protocol == ast.TCP {
			return p.Target
		}
	}
	return 0
}

// helperSecurity runs Tycho's own helper containers with the least
// privilege, so they pass the restricted Pod Security level. Like labels,
// one value serves all of them.
func (g *gen) helperSecurity() *corev1.SecurityContext {
	if g.helperSec == nil {
		g.helperSec = newHelperSecurity()
	}
	return g.helperSec
}

func newHelperSecurity() *corev1.SecurityContext {
	f, t := false, true
	uid := int64(65534)
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: &f,
		RunAsNonRoot:             &t,
		RunAsUser:                &uid,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

const waiterTokenVolume = "tycho-waiter-token"
